#!/usr/bin/env bash
# Creates the wrapper Go module k8s/<version>/ for one Kubernetes version:
#   k8s/new-version.sh v1.37.2
# It requires k8s.io/kubernetes at that version and replaces every staging module
# (read from the go.mod the module proxy serves for it) with v0.<minor>.<patch>, mirrors
# its `go` and `godebug` lines, and records the programs as tool lines so `go mod tidy`
# resolves exactly what build.sh compiles. The result (go.mod, go.sum) is committed.
set -euo pipefail
v="${1:?usage: k8s/new-version.sh vMAJOR.MINOR.PATCH}"
case "$v" in v1.*.*) ;; *) echo "new-version.sh: '$v' is not a version like v1.37.2" >&2; exit 2 ;; esac
sv="v0.${v#v1.}"
here="$(cd "$(dirname "$0")" && pwd)"
mod="$here/$v"
mkdir -p "$mod"; cd "$mod"
rm -f go.mod go.sum
go mod init "local.test/trellis-k8s-${v//./-}" >/dev/null 2>&1
go mod download -json "k8s.io/kubernetes@$v" >/dev/null
upstream="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$v.mod"
goline=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$upstream")
godebug=$(sed -n 's/^godebug \(.*\)$/\1/p' "$upstream")
go mod edit -go="$goline"
[ -z "$godebug" ] || go mod edit -godebug="$godebug"
sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/k8s\.io/.*#\1#p' "$upstream" |
  while read -r m; do go mod edit -replace="$m=$m@$sv"; done
go mod edit -require="k8s.io/kubernetes@$v"
for t in kube-apiserver kube-controller-manager kube-scheduler kubectl kubeadm kubelet; do
  go mod edit -tool="k8s.io/kubernetes/cmd/$t"
done
go mod edit -tool=github.com/onsi/ginkgo/v2/ginkgo
go mod tidy
echo "k8s/$v: $(go list -m github.com/onsi/ginkgo/v2) $(go list -m k8s.io/kube-openapi)"
