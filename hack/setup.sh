#!/usr/bin/env bash
# Installs everything selfheal's demo and tests need on a fresh Debian 12 machine, idempotently:
#   - Debian packages: RabbitMQ (management + shovel plugins), Prometheus, Alertmanager, Chromium
#     (the headless browser of the status page's browser test), and for the benchmarks' baseline
#     adnanh/webhook and jq (installed without starting their system daemons: the tests and
#     benchmarks start their own on loopback);
#   - Node.js 24 and the npm dependencies (`npm ci`: Node 24 comes from the npm `node` package);
#   - the control-plane binaries (hack/build-tools.sh, cached by version outside the work tree).
# Needs root for apt-get (CI and the dev machines run as root).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
log() { printf '[setup] %s\n' "$*" >&2; }

debs=(rabbitmq-server prometheus prometheus-alertmanager python3-yaml chromium webhook jq)
missing=()
for p in "${debs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  # A policy-rc.d that refuses service starts keeps the packages' own daemons from starting on the
  # default ports during install; ours are started by the test set-up on free loopback ports.
  policy=/usr/sbin/policy-rc.d
  had_policy=0; [ -e "$policy" ] && had_policy=1
  [ $had_policy = 1 ] || { printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; }
  trap '[ $had_policy = 1 ] || rm -f "$policy"' EXIT
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm dependencies (Node 24 included)"
  npm ci --no-audit --no-fund
fi
log "node $(node_modules/.bin/node --version)"

hack/build-tools.sh >/dev/null
log "ready"
