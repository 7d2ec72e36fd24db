#!/usr/bin/env bash
# The whole test suite, from a fresh machine: set-up (idempotent), then lint, format and type checks
# and the unit, integration and e2e tiers (`npm test`). Each tier starts and stops what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
# A KUBECONFIG exported to play with the demo (or any cluster this repository's local environment
# started: its env.json sits beside the kubeconfig) is not a cluster of yours to test against: its
# operator would act on the tests' incidents. The tests start their own control plane instead.
if [[ -n "${KUBECONFIG:-}" && -f "$(dirname "$KUBECONFIG")/env.json" ]]; then
  echo "[test] KUBECONFIG=$KUBECONFIG is a local environment's (the demo's?); the tests start their own"
  unset KUBECONFIG
fi
hack/setup.sh
npm test
