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

# build_vk_mock builds Virtual Kubelet's own command (with its mock
# provider), the baseline of make bench, from the pinned module hack/bench/vk.
build_vk_mock() {
  if built "${VK_BIN}" "${HACK_DIR}/bench/vk"; then
    return 0
  fi
  mkdir -p "${VK_BIN}"
  log "building virtual-kubelet ${VK_VERSION} (mock provider) into ${VK_BIN}"
  (
    cd "${HACK_DIR}/bench/vk" || exit 1
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -o "${VK_BIN}/virtual-kubelet" github.com/virtual-kubelet/virtual-kubelet/cmd/virtual-kubelet
  ) || die "building virtual-kubelet failed"
  stamp "${VK_BIN}" "${HACK_DIR}/bench/vk"
}

HELM_VERSION="v3.19.2"
HELM_BIN="${FAAS_CACHE}/helm-${HELM_VERSION}/bin"

# build_helm builds Helm (the chart's lint and render in the tests) from the
# pinned module hack/helm.
build_helm() {
  if built "${HELM_BIN}" "${HACK_DIR}/helm"; then
    return 0
  fi
  mkdir -p "${HELM_BIN}"
  log "building helm ${HELM_VERSION} into ${HELM_BIN}"
  (
    cd "${HACK_DIR}/helm" || exit 1
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -ldflags "-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}" -o "${HELM_BIN}/helm" helm.sh/helm/v3/cmd/helm
  ) || die "building helm failed"
  stamp "${HELM_BIN}" "${HACK_DIR}/helm"
}

METRICS_SERVER_VERSION="v0.8.0"
METRICS_SERVER_BIN="${FAAS_CACHE}/metrics-server-${METRICS_SERVER_VERSION}/bin"

# build_metrics_server builds metrics-server (kubectl top in the tests)
# from the pinned module hack/metrics-server.
build_metrics_server() {
  if built "${METRICS_SERVER_BIN}" "${HACK_DIR}/metrics-server"; then
    return 0
  fi
  mkdir -p "${METRICS_SERVER_BIN}"
  log "building metrics-server ${METRICS_SERVER_VERSION} into ${METRICS_SERVER_BIN}"
  (
    cd "${HACK_DIR}/metrics-server" || exit 1
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -o "${METRICS_SERVER_BIN}/metrics-server" sigs.k8s.io/metrics-server/cmd/metrics-server
  ) || die "building metrics-server failed"
  stamp "${METRICS_SERVER_BIN}" "${HACK_DIR}/metrics-server"
}
