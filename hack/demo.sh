#!/usr/bin/env bash
# The main job on the local default: set-up (idempotent; the first run builds the control plane),
# then a local cluster you can use with kubectl.
set -euo pipefail
cd "$(dirname "$0")/.."
hack/setup.sh
npm run -s cluster -- start
echo
echo "Use it:  eval \"\$(npm run -s cluster -- env)\"; kubectl get nodes"
echo "Stop it: npm run cluster -- stop    (or reset, to delete its state too)"
