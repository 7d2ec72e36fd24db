#!/usr/bin/env bash
# The whole test suite, from a fresh machine: set-up (idempotent), then lint, format and type checks
# and the unit, integration and e2e tiers (`npm test`). Each tier starts and stops what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
hack/setup.sh
npm test
