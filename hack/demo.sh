#!/usr/bin/env bash
# The main job on the local default: set-up (idempotent; the first run builds the control plane:
# about 17 minutes on two cores), then a local cluster, the operator, and sample incidents remediated
# live.
set -euo pipefail
cd "$(dirname "$0")/.."
hack/setup.sh
exec node_modules/.bin/node hack/demo.ts
