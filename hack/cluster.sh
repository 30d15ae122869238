#!/usr/bin/env bash
# cluster.sh runs a real Kubernetes control plane (etcd, kube-apiserver,
# kube-scheduler, kube-controller-manager, all v1.35.0) on this machine.
#
#   hack/cluster.sh build    build the binaries into the cache (once)
#   hack/cluster.sh up       start everything (idempotent) and wait until ready
#   hack/cluster.sh down     stop everything this script started
#   hack/cluster.sh status   print what runs and where
#   hack/cluster.sh env      print the variables the other scripts use
#   hack/cluster.sh build-vk builds Virtual Kubelet's mock provider (make bench's baseline)
#   hack/cluster.sh build-kwok builds kwok's controller (make bench's fastest-kubelet baseline)
#   hack/cluster.sh build-helm builds Helm (the chart's tests)
#   hack/cluster.sh build-metrics-server builds metrics-server (kubectl top in the tests)
#   hack/cluster.sh metrics-server
#                            builds and starts metrics-server and registers it
#                            as the metrics.k8s.io API (kubectl top); needs
#                            the network namespace
#   hack/cluster.sh stop-apiserver | start-apiserver
#                            take only the API server away and back (chaos tests)
#
# Where the machine allows it, the control plane runs inside a network
# namespace of its own (default "faas-kubelet", address 10.213.7.2 reached from
# the host through a veth pair). Processes started inside it (faas-kubelet
# among them) can then serve the kubelet API on a global-unicast address, which
# the API server requires before it proxies `nodes/<name>/proxy`. Where a
# namespace cannot be made, everything runs on 127.0.0.1 and node proxy
# requests are refused by the API server (a message says so).
#
# Settings (environment):
#   FAAS_KUBELET_RUN_DIR   run directory (certs, kubeconfigs, logs, pids); default ~/.cache/faas-kubelet/run
#   FAAS_KUBELET_NETNS     network namespace name, or "none" for plain loopback; default faas-kubelet
#   FAAS_KUBELET_NET       first three octets of the /30 used inside the namespace; default 10.213.7
#   FAAS_KUBELET_APISERVER_PORT  default 6443; FAAS_KUBELET_ETCD_PORT default 2379
set -euo pipefail

# shellcheck source=hack/lib/tools.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/tools.sh"

RUN_DIR="${FAAS_KUBELET_RUN_DIR:-${FAAS_CACHE}/run}"
NETNS="${FAAS_KUBELET_NETNS:-faas-kubelet}"
NET_PREFIX="${FAAS_KUBELET_NET:-10.213.7}"
API_PORT="${FAAS_KUBELET_APISERVER_PORT:-6443}"
ETCD_PORT="${FAAS_KUBELET_ETCD_PORT:-2379}"
HOST_IP="${NET_PREFIX}.1"
NS_IP="${NET_PREFIX}.2"
PKI="${RUN_DIR}/pki"
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler)

# mode is "netns" when the namespace exists (or can be made), else "loopback".
mode_file="${RUN_DIR}/mode"

in_ns() {
  if [[ "$(cat "${mode_file}" 2>/dev/null)" == "netns" ]]; then
    ip netns exec "${NETNS}" "$@"
  else
    "$@"
  fi
}

# node_ip is the address the control plane listens on and virtual nodes report.
node_ip() {
  if [[ "$(cat "${mode_file}" 2>/dev/null)" == "netns" ]]; then echo "${NS_IP}"; else echo "127.0.0.1"; fi
}

# host_ip is where processes in the namespace reach the host (tests listen there).
host_ip() {
  if [[ "$(cat "${mode_file}" 2>/dev/null)" == "netns" ]]; then echo "${HOST_IP}"; else echo "127.0.0.1"; fi
}

setup_netns() {
  if [[ "${NETNS}" == "none" ]]; then
    echo loopback > "${mode_file}"
    return
  fi
  if ip netns list 2>/dev/null | grep -qw "^${NETNS}"; then
    echo netns > "${mode_file}"
    return
  fi
  local hv="fk${NET_PREFIX##*.}h" nv="fk${NET_PREFIX##*.}n"
  if ip netns add "${NETNS}" 2>/dev/null &&
    ip link add "${hv}" type veth peer name "${nv}" 2>/dev/null &&
    ip link set "${nv}" netns "${NETNS}" &&
    ip addr add "${HOST_IP}/30" dev "${hv}" &&
    ip link set "${hv}" up &&
    ip netns exec "${NETNS}" ip addr add "${NS_IP}/30" dev "${nv}" &&
    ip netns exec "${NETNS}" ip link set "${nv}" up &&
    ip netns exec "${NETNS}" ip link set lo up; then
    echo netns > "${mode_file}"
    log "network namespace ${NETNS}: control plane on ${NS_IP}"
  else
    ip netns del "${NETNS}" 2>/dev/null || true
    ip link del "${hv}" 2>/dev/null || true
    echo loopback > "${mode_file}"
    log "warning: could not create network namespace ${NETNS} (needs root and iproute2);"
    log "warning: running on 127.0.0.1, where the API server refuses nodes/<name>/proxy requests"
  fi
}

teardown_netns() {
  [[ "${NETNS}" == "none" ]] && return
  if ip netns list 2>/dev/null | grep -qw "^${NETNS}"; then
    ip netns del "${NETNS}" 2>/dev/null || true
  fi
  ip link del "fk${NET_PREFIX##*.}h" 2>/dev/null || true
}

# --- certificates -----------------------------------------------------------

# sign NAME CN ORG SANS: a key and a certificate signed by the cluster CA.
sign() {
  local name=$1 cn=$2 org=$3 sans=$4 subj="/CN=$2"
  [[ -n "${org}" ]] && subj="/O=${org}/CN=${cn}"
  openssl genrsa -out "${PKI}/${name}.key" 2048 2>/dev/null
  openssl req -new -key "${PKI}/${name}.key" -subj "${subj}" -out "${PKI}/${name}.csr" 2>/dev/null
  local ext="${PKI}/${name}.ext"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [[ -n "${sans}" ]]; then
      echo "extendedKeyUsage=serverAuth,clientAuth"
      echo "subjectAltName=${sans}"
    else
      echo "extendedKeyUsage=clientAuth"
    fi
  } > "${ext}"
  openssl x509 -req -in "${PKI}/${name}.csr" -CA "${PKI}/ca.crt" -CAkey "${PKI}/ca.key" \
    -CAcreateserial -days 3650 -sha256 -extfile "${ext}" -out "${PKI}/${name}.crt" 2>/dev/null
  rm -f "${PKI}/${name}.csr" "${ext}"
}

kubeconfig() { # NAME USER CERTNAME
  local file="${RUN_DIR}/$1.kubeconfig"
  cat > "${file}" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: faas-kubelet
  cluster:
    server: https://$(node_ip):${API_PORT}
    certificate-authority: ${PKI}/ca.crt
users:
- name: $2
  user:
    client-certificate: ${PKI}/$3.crt
    client-key: ${PKI}/$3.key
contexts:
- name: faas-kubelet
  context: {cluster: faas-kubelet, user: $2}
current-context: faas-kubelet
EOF
}

make_pki() {
  local ip
  ip="$(node_ip)"
  if [[ -f "${PKI}/ca.crt" && "$(cat "${PKI}/ip" 2>/dev/null)" == "${ip}" ]]; then
    # The API server's client certificate for aggregated APIs.
    [[ -f "${PKI}/front-proxy-client.crt" ]] || sign front-proxy-client front-proxy-client "" ""
    return
  fi
  rm -rf "${PKI}" && mkdir -p "${PKI}"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "${PKI}/ca.key" -out "${PKI}/ca.crt" \
    -days 3650 -subj "/CN=faas-kubelet-local-ca" 2>/dev/null
  sign apiserver kube-apiserver "" "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:127.0.0.1,IP:10.96.0.1,IP:${ip}"
  sign admin admin system:masters ""
  sign apiserver-kubelet-client kube-apiserver-kubelet-client system:masters ""
  sign controller-manager system:kube-controller-manager system:masters ""
  sign scheduler system:kube-scheduler "" ""
  sign faas-kubelet faas-kubelet "" ""
  sign front-proxy-client front-proxy-client "" ""
  openssl genrsa -out "${PKI}/sa.key" 2048 2>/dev/null
  openssl rsa -in "${PKI}/sa.key" -pubout -out "${PKI}/sa.pub" 2>/dev/null
  echo "${ip}" > "${PKI}/ip"
}

# --- processes ----------------------------------------------------------------

pid_alive() { local p; p="$(cat "${RUN_DIR}/$1.pid" 2>/dev/null)" && [[ -n "${p}" ]] && kill -0 "${p}" 2>/dev/null; }

start() { # NAME ARGS...
  local name=$1
  shift
  start_bin "${KUBE_BIN}/${name}" "${name}" "$@"
}

start_bin() { # PATH NAME ARGS...
  local bin=$1 name=$2
  shift 2
  if pid_alive "${name}"; then return; fi
  # Started directly (not through a shell function) so that $! is the
  # component itself: `ip netns exec` and nohup both exec their command.
  if [[ "$(cat "${mode_file}" 2>/dev/null)" == "netns" ]]; then
    nohup ip netns exec "${NETNS}" "${bin}" "$@" > "${RUN_DIR}/logs/${name}.log" 2>&1 < /dev/null &
  else
    nohup "${bin}" "$@" > "${RUN_DIR}/logs/${name}.log" 2>&1 < /dev/null &
  fi
  echo $! > "${RUN_DIR}/${name}.pid"
}

# wait_for NAME URL SECONDS [CURLARGS...]: polls URL and gives up early, with
# the tail of its log, as soon as the process behind it has died.
wait_for() {
  local name=$1 url=$2 secs=$3
  shift 3
  local deadline=$((SECONDS + secs))
  until in_ns curl -fsS --max-time 2 "$@" "${url}" > /dev/null 2>&1; do
    if ! pid_alive "${name}"; then
      log "${name} died; last lines of ${RUN_DIR}/logs/${name}.log:"
      tail -n 20 "${RUN_DIR}/logs/${name}.log" >&2 || true
      exit 1
    fi
    if ((SECONDS > deadline)); then
      log "${name} not ready at ${url} after ${secs}s; last log lines:"
      tail -n 20 "${RUN_DIR}/logs/${name}.log" >&2 || true
      exit 1
    fi
    sleep 0.3
  done
}

start_apiserver() {
  local ip
  ip="$(node_ip)"
  start kube-apiserver --etcd-servers "http://127.0.0.1:${ETCD_PORT}" \
    --bind-address 0.0.0.0 --secure-port "${API_PORT}" --advertise-address "${ip}" \
    --tls-cert-file "${PKI}/apiserver.crt" --tls-private-key-file "${PKI}/apiserver.key" \
    --client-ca-file "${PKI}/ca.crt" \
    --kubelet-client-certificate "${PKI}/apiserver-kubelet-client.crt" \
    --kubelet-client-key "${PKI}/apiserver-kubelet-client.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "${PKI}/sa.pub" --service-account-signing-key-file "${PKI}/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 --authorization-mode Node,RBAC \
    --endpoint-reconciler-type none --allow-privileged=true \
    --kubelet-preferred-address-types InternalIP,Hostname \
    --requestheader-client-ca-file "${PKI}/ca.crt" --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --proxy-client-cert-file "${PKI}/front-proxy-client.crt" --proxy-client-key-file "${PKI}/front-proxy-client.key" \
    --enable-aggregator-routing=true \
    --max-requests-inflight 1000 --max-mutating-requests-inflight 500 \
    --audit-policy-file "${HACK_DIR}/manifests/audit-policy.yaml" --audit-log-path "${RUN_DIR}/logs/audit.log" \
    --audit-log-mode batch --audit-log-batch-max-wait 1s --audit-log-maxsize 100 --audit-log-maxbackup 1
  wait_for kube-apiserver "https://127.0.0.1:${API_PORT}/readyz" 120 \
    --cacert "${PKI}/ca.crt" --cert "${PKI}/admin.crt" --key "${PKI}/admin.key"
}

# stop_apiserver stops only the API server (chaos tests: the control plane
# "goes away" while everything else keeps running); start-apiserver brings
# it back with the same flags and data.
stop_apiserver() {
  local p
  p="$(cat "${RUN_DIR}/kube-apiserver.pid" 2>/dev/null)" || return 0
  kill "${p}" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "${p}" 2>/dev/null || break; sleep 0.1; done
  kill -9 "${p}" 2>/dev/null || true
  rm -f "${RUN_DIR}/kube-apiserver.pid"
}

cmd_up() {
  build_kube_tools
  mkdir -p "${RUN_DIR}/logs" "${RUN_DIR}/etcd"
  setup_netns
  make_pki
  local ip
  ip="$(node_ip)"
  kubeconfig admin admin admin
  kubeconfig controller-manager system:kube-controller-manager controller-manager
  kubeconfig scheduler system:kube-scheduler scheduler
  kubeconfig faas-kubelet faas-kubelet faas-kubelet

  start etcd --data-dir "${RUN_DIR}/etcd" --name faas-kubelet-etcd \
    --listen-client-urls "http://127.0.0.1:${ETCD_PORT}" --advertise-client-urls "http://127.0.0.1:${ETCD_PORT}" \
    --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
    --initial-cluster "faas-kubelet-etcd=http://127.0.0.1:$((ETCD_PORT + 1))" \
    --listen-metrics-urls "http://127.0.0.1:$((ETCD_PORT + 2))" \
    --quota-backend-bytes 8589934592 --unsafe-no-fsync --log-level warn
  wait_for etcd "http://127.0.0.1:${ETCD_PORT}/health" 60

  start_apiserver

  start kube-controller-manager --kubeconfig "${RUN_DIR}/controller-manager.kubeconfig" \
    --authentication-kubeconfig "${RUN_DIR}/controller-manager.kubeconfig" \
    --authorization-kubeconfig "${RUN_DIR}/controller-manager.kubeconfig" \
    --leader-elect=false --secure-port 0 --use-service-account-credentials=false \
    --service-account-private-key-file "${PKI}/sa.key" --root-ca-file "${PKI}/ca.crt" \
    --controllers '*,-node-ipam-controller,-cloud-node-lifecycle-controller' \
    --kube-api-qps 200 --kube-api-burst 400
  start kube-scheduler --kubeconfig "${RUN_DIR}/scheduler.kubeconfig" \
    --authentication-kubeconfig "${RUN_DIR}/scheduler.kubeconfig" \
    --authorization-kubeconfig "${RUN_DIR}/scheduler.kubeconfig" \
    --leader-elect=false --secure-port 0 --kube-api-qps 200 --kube-api-burst 400

  local kc=("${KUBE_BIN}/kubectl" --kubeconfig "${RUN_DIR}/admin.kubeconfig")
  local deadline=$((SECONDS + 90))
  until "${kc[@]}" get serviceaccount default -n default > /dev/null 2>&1; do
    for c in kube-controller-manager kube-scheduler; do
      pid_alive "${c}" || { log "${c} died:"; tail -n 20 "${RUN_DIR}/logs/${c}.log" >&2; exit 1; }
    done
    ((SECONDS < deadline)) || { log "the controller-manager did not create the default ServiceAccount in 90s"; exit 1; }
    sleep 0.5
  done
  "${kc[@]}" apply -f "${REPO_ROOT}/deploy/rbac.yaml" -f "${HACK_DIR}/manifests/faas-kubelet-rbac.yaml" > /dev/null
  cmd_status
}

METRICS_SERVER_PORT="${FAAS_KUBELET_METRICS_SERVER_PORT:-4443}"

# cmd_metrics_server runs metrics-server next to the control plane, scraping
# every node's /metrics/resource every 10 s at the node's own kubelet port,
# and registers it as v1beta1.metrics.k8s.io: the API server reaches it at
# the node address through a selector-less Service (aggregator routing), so
# kubectl top works as in any cluster. Idempotent.
cmd_metrics_server() {
  [[ "$(cat "${mode_file}" 2>/dev/null)" == "netns" ]] ||
    die "metrics-server needs the network namespace: the API server only routes to a non-loopback endpoint"
  build_metrics_server
  local ip
  ip="$(node_ip)"
  mkdir -p "${RUN_DIR}/metrics-server"
  start_bin "${METRICS_SERVER_BIN}/metrics-server" metrics-server \
    --secure-port "${METRICS_SERVER_PORT}" --bind-address "${ip}" --cert-dir "${RUN_DIR}/metrics-server" \
    --kubeconfig "${RUN_DIR}/admin.kubeconfig" \
    --authentication-kubeconfig "${RUN_DIR}/admin.kubeconfig" --authorization-kubeconfig "${RUN_DIR}/admin.kubeconfig" \
    --kubelet-client-certificate "${PKI}/apiserver-kubelet-client.crt" --kubelet-client-key "${PKI}/apiserver-kubelet-client.key" \
    --kubelet-insecure-tls --kubelet-use-node-status-port --kubelet-preferred-address-types InternalIP \
    --metric-resolution 10s --kubelet-request-timeout 5s
  wait_for metrics-server "https://${ip}:${METRICS_SERVER_PORT}/livez" 60 -k
  sed -e "s/@IP@/${ip}/g" -e "s/@PORT@/${METRICS_SERVER_PORT}/g" "${HACK_DIR}/manifests/metrics-server.yaml" |
    "${KUBE_BIN}/kubectl" --kubeconfig "${RUN_DIR}/admin.kubeconfig" apply -f - > /dev/null
  local deadline=$((SECONDS + 60))
  until "${KUBE_BIN}/kubectl" --kubeconfig "${RUN_DIR}/admin.kubeconfig" get --raw /apis/metrics.k8s.io/v1beta1 > /dev/null 2>&1; do
    ((SECONDS < deadline)) || { log "the metrics.k8s.io API is not available after 60s:"; tail -n 20 "${RUN_DIR}/logs/metrics-server.log" >&2; exit 1; }
    sleep 0.5
  done
  log "metrics-server on ${ip}:${METRICS_SERVER_PORT}, serving metrics.k8s.io"
}

cmd_down() {
  local c
  if pid_alive metrics-server; then
    kill "$(cat "${RUN_DIR}/metrics-server.pid")" 2>/dev/null || true
  fi
  rm -f "${RUN_DIR}/metrics-server.pid"
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    c=${COMPONENTS[i]}
    if pid_alive "${c}"; then
      kill "$(cat "${RUN_DIR}/${c}.pid")" 2>/dev/null || true
      for _ in $(seq 1 50); do pid_alive "${c}" || break; sleep 0.1; done
      pid_alive "${c}" && kill -9 "$(cat "${RUN_DIR}/${c}.pid")" 2>/dev/null || true
    fi
    rm -f "${RUN_DIR}/${c}.pid"
  done
  rm -rf "${RUN_DIR}/etcd"
  teardown_netns
  rm -f "${mode_file}"
  log "control plane stopped"
}

cmd_status() {
  local rc=0
  for c in "${COMPONENTS[@]}"; do
    if pid_alive "${c}"; then
      printf '%-24s running (pid %s)\n' "${c}" "$(cat "${RUN_DIR}/${c}.pid")"
    else
      printf '%-24s stopped\n' "${c}"
      rc=1
    fi
  done
  printf '%-24s %s\n' "mode" "$(cat "${mode_file}" 2>/dev/null || echo none)"
  printf '%-24s %s\n' "KUBECONFIG" "${RUN_DIR}/admin.kubeconfig"
  printf '%-24s %s\n' "kubectl" "${KUBE_BIN}/kubectl"
  return ${rc}
}

cmd_env() {
  cat <<EOF
KUBE_BIN=${KUBE_BIN}
KUBECTL=${KUBE_BIN}/kubectl
FAAS_KUBELET_RUN_DIR=${RUN_DIR}
KUBECONFIG=${RUN_DIR}/admin.kubeconfig
FAAS_KUBELET_KUBECONFIG=${RUN_DIR}/faas-kubelet.kubeconfig
FAAS_KUBELET_CLIENT_CA=${PKI}/ca.crt
FAAS_KUBELET_NODE_IP=$(node_ip)
FAAS_KUBELET_HOST_IP=$(host_ip)
FAAS_KUBELET_NETNS=$([[ "$(cat "${mode_file}" 2>/dev/null)" == "netns" ]] && echo "${NETNS}" || echo none)
VK_MOCK=${VK_BIN}/virtual-kubelet
KWOK=${KWOK_BIN}/kwok
HELM=${HELM_BIN}/helm
FAAS_KUBELET_PKI=${PKI}
EOF
}

case "${1:-}" in
  build) build_kube_tools ;;
  build-vk) build_vk_mock ;;
  build-kwok) build_kwok ;;
  build-helm) build_helm ;;
  build-metrics-server) build_metrics_server ;;
  metrics-server) cmd_metrics_server ;;
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  stop-apiserver) stop_apiserver ;;
  start-apiserver) start_apiserver ;;
  env) cmd_env ;;
  *)
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
