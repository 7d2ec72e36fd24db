#!/usr/bin/env bash
# Builds the local control plane and Helm from the Go modules Kubernetes, etcd, kwok and Helm
# publish, and caches the binaries by version under $SELFHEAL_CACHE/bin/<tool>-<version>/. A pinned
# version already in the cache is not rebuilt. Prints the bin directory of each tool on success.
#
#   hack/build-tools.sh            build whatever is missing
#   hack/build-tools.sh --print    print the directories (no build)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
cache=${SELFHEAL_CACHE:-$HOME/.cache/selfheal}
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=local

kube_dir=$cache/bin/kubernetes-$KUBERNETES_VERSION
etcd_dir=$cache/bin/etcd-$ETCD_VERSION
kwok_dir=$cache/bin/kwok-$KWOK_VERSION
helm_dir=$cache/bin/helm-$HELM_VERSION

if [ "${1:-}" = "--print" ]; then
  printf 'KUBE_BIN=%s\nETCD_BIN=%s\nKWOK_BIN=%s\nHELM_BIN=%s\n' "$kube_dir" "$etcd_dir" "$kwok_dir" "$helm_dir"
  exit 0
fi

log() { printf '[build-tools] %s\n' "$*" >&2; }

# One build at a time per cache (set-up, CI and a developer may call this concurrently).
mkdir -p "$cache"
exec 9>"$cache/.build.lock"
flock 9

# A throwaway Go module per tool, so each builds with its own tested dependency set.
new_module() {
  local dir=$1
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$dir" && go mod init selfheal.local/toolbuild >/dev/null 2>&1)
}

build_kubernetes() {
  local want=(kube-apiserver kube-controller-manager kube-scheduler kubectl) missing=0 b
  for b in "${want[@]}"; do [ -x "$kube_dir/$b" ] || missing=1; done
  [ $missing = 0 ] && return 0
  log "building Kubernetes $KUBERNETES_VERSION (several minutes on two cores)"
  local mod=$cache/build/kubernetes-$KUBERNETES_VERSION gomod
  new_module "$mod"
  gomod=$(cd "$mod" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
  # k8s.io/kubernetes points its staging modules at ./staging; a consumer replaces each with the
  # published version of the same release (v1.X.Y <-> v0.X.Y). Read the list from its own go.mod.
  local staging=v0.${KUBERNETES_VERSION#v1.}
  (
    cd "$mod"
    go mod edit -go="$(sed -n 's/^go //p' "$gomod")"
    sed -n 's/^godebug //p' "$gomod" | while read -r kv; do go mod edit -godebug="$kv"; done
    grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging' "$gomod" | awk '{print $1}' | sort -u | while read -r m; do
      go mod edit -replace="$m=$m@$staging"
    done
    go mod edit -require="k8s.io/kubernetes@$KUBERNETES_VERSION"
    go get "k8s.io/kubernetes/cmd/kube-apiserver@$KUBERNETES_VERSION" \
      "k8s.io/kubernetes/cmd/kube-controller-manager@$KUBERNETES_VERSION" \
      "k8s.io/kubernetes/cmd/kube-scheduler@$KUBERNETES_VERSION" \
      "k8s.io/kubernetes/cmd/kubectl@$KUBERNETES_VERSION" >/dev/null
    local minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
    local x="-X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z"
    x="$x ${x//k8s.io\/component-base\/version/k8s.io/client-go/pkg/version}"
    mkdir -p "$kube_dir.tmp"
    go build -trimpath -ldflags "-s -w $x" -o "$kube_dir.tmp/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
  )
  rm -rf "$kube_dir" && mv "$kube_dir.tmp" "$kube_dir"
}

build_etcd() {
  [ -x "$etcd_dir/etcd" ] && return 0
  log "building etcd $ETCD_VERSION"
  local mod=$cache/build/etcd-$ETCD_VERSION
  new_module "$mod"
  (
    cd "$mod"
    go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null
    mkdir -p "$etcd_dir.tmp"
    go build -trimpath -ldflags "-s -w" -o "$etcd_dir.tmp/etcd" go.etcd.io/etcd/server/v3
  )
  rm -rf "$etcd_dir" && mv "$etcd_dir.tmp" "$etcd_dir"
}

build_kwok() {
  [ -x "$kwok_dir/kwok" ] && [ -f "$kwok_dir/stages.yaml" ] && return 0
  log "building kwok $KWOK_VERSION"
  mkdir -p "$kwok_dir.tmp"
  GOBIN="$kwok_dir.tmp" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  # The stages kwokctl uses by default (nodes become Ready and keep heartbeating; pods become
  # Ready, complete and go away), shipped in the same module as the binary.
  local stages
  stages=$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage
  local f first=1
  for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    [ $first = 1 ] || echo '---'
    first=0
    cat "$stages/$f"
  done >"$kwok_dir.tmp/stages.yaml"
  rm -rf "$kwok_dir" && mv "$kwok_dir.tmp" "$kwok_dir"
}

build_helm() {
  [ -x "$helm_dir/helm" ] && return 0
  log "building Helm $HELM_VERSION"
  local gomod minor
  gomod=$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
  # What helm's Makefile sets: its own version, and the Kubernetes version `helm template` and
  # `helm lint` assume offline, taken from the client-go it is built with (v0.X.Y <-> v1.X).
  minor=$(sed -n 's/^\tk8s\.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$gomod")
  local x="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  local pkg
  for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    x="$x -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$minor"
  done
  mkdir -p "$helm_dir.tmp"
  GOBIN="$helm_dir.tmp" go install -trimpath -ldflags "-s -w $x" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  rm -rf "$helm_dir" && mv "$helm_dir.tmp" "$helm_dir"
}

build_etcd
build_kwok
build_kubernetes
build_helm
"$0" --print
