#!/usr/bin/env bash
# Builds the pinned control-plane binaries (and other tools) from the Go module
# proxy into a cache outside the repository. Sourced by the other hack scripts.

KUBE_VERSION="v1.35.0"
ETCD_VERSION="v3.6.5"
FAAS_CACHE="${FAAS_KUBELET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/faas-kubelet}"
KUBE_BIN="${FAAS_CACHE}/kube-${KUBE_VERSION}/bin"
HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_ROOT="$(cd "${HACK_DIR}/.." && pwd)"

log() { printf '%s %s\n' "[$(date +%H:%M:%S)]" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# kube_ldflags stamps the binaries with the release version, as the release build does.
kube_ldflags() {
  local f=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f+=" -X ${pkg}.gitVersion=${KUBE_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=35"
    f+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=2025-12-17T00:00:00Z"
  done
  echo "${f# }"
}

# module_sum identifies a pinned tools module (its go.mod and go.sum).
module_sum() { cat "$1/go.mod" "$1/go.sum" | sha256sum | cut -c1-16; }

# built BIN_DIR MODULE_DIR: whether BIN_DIR holds a build of the module as
# it is pinned now; stamp BIN_DIR MODULE_DIR records one.
built() { [[ -f "$1/.stamp" && "$(cat "$1/.stamp")" == "$(module_sum "$2")" ]]; }
stamp() { module_sum "$2" > "$1/.stamp"; }

# build_kube_tools builds etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and kubectl once; later calls only check the stamp.
build_kube_tools() {
  if built "${KUBE_BIN}" "${HACK_DIR}/tools"; then
    return 0
  fi
  mkdir -p "${KUBE_BIN}"
  log "building Kubernetes ${KUBE_VERSION} and etcd ${ETCD_VERSION} into ${KUBE_BIN} (first time: about 6 minutes on 2 cores)"
  local ldflags
  ldflags="$(kube_ldflags)"
  (
    cd "${HACK_DIR}/tools" || exit 1
    export CGO_ENABLED=0 GOFLAGS=-mod=mod
    go build -o "${KUBE_BIN}/etcd" ./etcd || exit 1
    for cmd in kube-apiserver kubectl kube-scheduler kube-controller-manager; do
      log "  go build ${cmd}"
      go build -ldflags "${ldflags}" -o "${KUBE_BIN}/${cmd}" "k8s.io/kubernetes/cmd/${cmd}" || exit 1
    done
  ) || die "building the control plane failed"
  stamp "${KUBE_BIN}" "${HACK_DIR}/tools"
  log "control plane binaries ready in ${KUBE_BIN}"
}

VK_VERSION="v1.13.0"
VK_BIN="${FAAS_CACHE}/vk-${VK_VERSION}/bin"

# build_go_tool NAME BIN_DIR MODULE_DIR PACKAGE [LDFLAGS]: builds PACKAGE of
# the pinned module MODULE_DIR into BIN_DIR/NAME once; later calls only
# check the stamp.
build_go_tool() {
  local name=$1 bin=$2 module=$3 pkg=$4 ldflags=${5:-}
  if built "${bin}" "${module}"; then
    return 0
  fi
  mkdir -p "${bin}"
  log "building ${name} into ${bin}"
  (
    cd "${module}" || exit 1
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -ldflags "${ldflags}" -o "${bin}/${name}" "${pkg}"
  ) || die "building ${name} failed"
  stamp "${bin}" "${module}"
}

# build_vk_mock builds Virtual Kubelet's own command (with its mock
# provider), the baseline of make bench, from the pinned module hack/bench/vk.
build_vk_mock() {
  build_go_tool virtual-kubelet "${VK_BIN}" "${HACK_DIR}/bench/vk" github.com/virtual-kubelet/virtual-kubelet/cmd/virtual-kubelet
}

KWOK_VERSION="v0.7.0"
KWOK_BIN="${FAAS_CACHE}/kwok-${KWOK_VERSION}/bin"

# build_kwok builds kwok's controller (a node whose pods only get statuses
# written, make bench's fastest-kubelet baseline) from the pinned module
# hack/bench/kwok.
build_kwok() {
  build_go_tool kwok "${KWOK_BIN}" "${HACK_DIR}/bench/kwok" sigs.k8s.io/kwok/cmd/kwok
}

HELM_VERSION="v3.19.2"
HELM_BIN="${FAAS_CACHE}/helm-${HELM_VERSION}/bin"

# build_helm builds Helm (the chart's lint and render in the tests) from the
# pinned module hack/helm.
build_helm() {
  build_go_tool helm "${HELM_BIN}" "${HACK_DIR}/helm" helm.sh/helm/v3/cmd/helm "-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
}

METRICS_SERVER_VERSION="v0.8.0"
METRICS_SERVER_BIN="${FAAS_CACHE}/metrics-server-${METRICS_SERVER_VERSION}/bin"

# build_metrics_server builds metrics-server (kubectl top in the tests)
# from the pinned module hack/metrics-server.
build_metrics_server() {
  build_go_tool metrics-server "${METRICS_SERVER_BIN}" "${HACK_DIR}/metrics-server" sigs.k8s.io/metrics-server/cmd/metrics-server
}
