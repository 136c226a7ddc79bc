#!/usr/bin/env bash
# Builds the upstream Kubernetes programs trellis drives, from their official Go modules,
# into ${XDG_CACHE_HOME:-~/.cache}/trellis/k8s/<version>/bin (etcd, kwok and kind into
# .../k8s/tools/bin). Never into the repository: binaries are not committed.
#
#   k8s/build.sh                 # the default version (v1.37.2) plus etcd, kwok and kind
#   k8s/build.sh v1.36.3 v1.37.2 # several versions
#   k8s/build.sh --no-e2e v1.36.3  # skip e2e.test and ginkgo (the slowest, widest build)
#   k8s/build.sh --node-binaries v1.37.2  # also kubeadm and kubelet (a kind upgrade's artifacts)
#
# Each version has its own wrapper module in k8s/<version>/ (go.mod requires
# k8s.io/kubernetes and replaces every staging module with v0.<minor>.<patch>), because
# k8s.io/kubernetes' own go.mod points the staging modules at ./staging and cannot be
# `go install`ed. A program already built from the same go.sum is skipped.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/trellis/k8s"
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -buildvcs=false"

e2e=1
node=0
versions=()
for a in "$@"; do
  case "$a" in
    --no-e2e) e2e=0 ;;
    --node-binaries) node=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    v1.*.*) versions+=("$a") ;;
    *) echo "build.sh: '$a' is not a version like v1.37.2, --no-e2e or --node-binaries" >&2; exit 2 ;;
  esac
done
[ ${#versions[@]} -gt 0 ] || versions=(v1.37.2)

step() { printf '\n==> [%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# stamp FILE...: the hash of the wrapper module's inputs, so a rebuild happens only when
# the versions change.
stamp() { cat "$@" | sha256sum | cut -c1-16; }

# up_to_date BIN STAMP
up_to_date() { [ -x "$1" ] && [ -f "$1.stamp" ] && [ "$(cat "$1.stamp")" = "$2" ]; }

# One wrapper module each (k8s/etcd, k8s/kwok, k8s/kind): their dependency graphs differ
# (kwok pins client-go v0.36, etcd its own grpc), so sharing one module would let MVS move
# one program's dependencies under it.
build_tools() {
  local out="$cache/tools/bin"
  mkdir -p "$out"
  for p in etcd:go.etcd.io/etcd/server/v3:etcd etcd:go.etcd.io/etcd/etcdctl/v3:etcdctl \
           kwok:sigs.k8s.io/kwok/cmd/kwok:kwok kind:sigs.k8s.io/kind:kind; do
    local dir="${p%%:*}" rest="${p#*:}"
    local pkg="${rest%%:*}" bin="${rest##*:}"
    local s; s=$(stamp "$here/$dir/go.mod" "$here/$dir/go.sum")
    if up_to_date "$out/$bin" "$s"; then echo "    $bin: up to date"; continue; fi
    step "building $bin ($pkg)"
    (cd "$here/$dir" && go build -trimpath -ldflags "-s -w" -o "$out/$bin" "$pkg")
    echo "$s" > "$out/$bin.stamp"
  done
  # kwok refuses to start without stages: the local provider uses kwok's own "fast"
  # node and pod stages (plus node heartbeats with leases), copied from the module.
  local kwok_dir
  kwok_dir=$(cd "$here/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    echo '---'; cat "$kwok_dir/kustomize/stage/$f"
  done > "$cache/tools/kwok-stages.yaml"
}

build_version() {
  local v="$1" mod="$here/$1" minor
  minor="${v#v1.}"; minor="${minor%%.*}"
  if [ ! -f "$mod/go.mod" ]; then
    echo "build.sh: no wrapper module k8s/$v/go.mod; make one with k8s/new-version.sh $v" >&2
    exit 2
  fi
  local out="$cache/$v/bin"
  mkdir -p "$out"
  local s; s=$(stamp "$mod/go.mod" "$mod/go.sum")
  local ldf="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldf="$ldf -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ldf="$ldf -X $p.gitTreeState=clean -X $p.buildDate=2000-01-01T00:00:00Z"
  done
  cd "$mod"
  local programs=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
  # What `trellis run upgrade --cluster kind` copies into the nodes with kubectl.
  [ "$node" = 0 ] || programs+=(kubeadm kubelet)
  for bin in "${programs[@]}"; do
    if up_to_date "$out/$bin" "$s"; then echo "    $v $bin: up to date"; continue; fi
    step "building $v $bin"
    go build -trimpath -ldflags "$ldf" -o "$out/$bin" "k8s.io/kubernetes/cmd/$bin"
    echo "$s" > "$out/$bin.stamp"
  done
  if [ "$e2e" = 1 ]; then
    if ! up_to_date "$out/ginkgo" "$s"; then
      step "building $v ginkgo"
      go build -trimpath -ldflags "-s -w" -o "$out/ginkgo" github.com/onsi/ginkgo/v2/ginkgo
      echo "$s" > "$out/ginkgo.stamp"
    else echo "    $v ginkgo: up to date"; fi
    if ! up_to_date "$out/e2e.test" "$s"; then
      step "building $v e2e.test (the widest build: 10-25 min cold on 2 cores)"
      # -mod=mod: tests of dependencies are outside what `go mod tidy` records.
      go test -c -vet=off -mod=mod -trimpath -ldflags "$ldf" -o "$out/e2e.test" k8s.io/kubernetes/test/e2e
      echo "$s" > "$out/e2e.test.stamp"
    else echo "    $v e2e.test: up to date"; fi
  fi
  local got; got=$("$out/kube-apiserver" --version)
  if [ "$got" != "Kubernetes $v" ]; then
    echo "build.sh: $out/kube-apiserver --version printed '$got', expected 'Kubernetes $v'" >&2
    exit 1
  fi
}

start=$(date +%s)
build_tools
for v in "${versions[@]}"; do build_version "$v"; done
echo
echo "built in $(( $(date +%s) - start )) s:"
echo "  tools: $cache/tools/bin ($(ls "$cache/tools/bin" | grep -v stamp | tr '\n' ' '))"
for v in "${versions[@]}"; do
  echo "  $v:   $cache/$v/bin ($(ls "$cache/$v/bin" | grep -v stamp | tr '\n' ' '))"
done
