#!/usr/bin/env bash
# The main job on the local default: set-up (idempotent; the first run builds the control plane,
# about ten minutes), then a local cluster, the operator, and a sample incident remediated live.
set -euo pipefail
cd "$(dirname "$0")/.."
hack/setup.sh
exec node_modules/.bin/node hack/demo.ts
