#!/usr/bin/env bash
# demo.sh runs faas-kubelet against the local control plane and leaves both
# running:  hack/demo.sh up | down
#
# The demo runs three virtual nodes from one process and one config: AWS
# Lambda, Azure Functions and Alibaba Cloud Function Compute, backed by the
# local emulators (`faas-kubelet emulator`), so it needs no cloud account.
set -euo pipefail
# shellcheck source=hack/lib/tools.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/tools.sh"

CLUSTER="${HACK_DIR}/cluster.sh"
BIN="${FAAS_KUBELET_BIN:-${REPO_ROOT}/bin/faas-kubelet}"

env_of() { "${CLUSTER}" env | sed -n "s/^$1=//p"; }

demo_up() {
  "${CLUSTER}" up > /dev/null
  local run_dir kubectl node_ip netns
  run_dir="$(env_of FAAS_KUBELET_RUN_DIR)"
  kubectl=("$(env_of KUBECTL)" --kubeconfig "$(env_of KUBECONFIG)")
  node_ip="$(env_of FAAS_KUBELET_NODE_IP)"
  netns="$(env_of FAAS_KUBELET_NETNS)"
  local demo="${run_dir}/demo" node=faas-lambda azure_node=faas-azure fc_node=faas-fc
  mkdir -p "${demo}"
  [[ -x "${BIN}" ]] || die "${BIN} is missing: run make build (make demo does)"
  local launch=()
  [[ "${netns}" != "none" ]] && launch=(ip netns exec "${netns}")
  local emu_addr="${node_ip}:9324" azure_addr="${node_ip}:9325" fc_addr="${node_ip}:9326"
  local sub=00000000-0000-0000-0000-00000000f00d
  if ! { [[ -f "${demo}/emulator.pid" ]] && kill -0 "$(cat "${demo}/emulator.pid")" 2> /dev/null; }; then
    "${launch[@]}" nohup "${BIN}" emulator --lambda-listen "${emu_addr}" --azure-listen "${azure_addr}" --alibaba-listen "${fc_addr}" \
      > "${demo}/emulator.log" 2>&1 < /dev/null &
    echo $! > "${demo}/emulator.pid"
  fi
  # The Functions host's storage (AzureWebJobsStorage), as a mounted Secret
  # would hold it; the emulator takes any.
  printf '%s\n' "DefaultEndpointsProtocol=https;AccountName=demo;AccountKey=ZGVtby1zdG9yYWdlLWtleQ==;EndpointSuffix=core.windows.net" > "${demo}/azure-storage"
  chmod 600 "${demo}/azure-storage"
  cat > "${demo}/config.yaml" <<CFG
# faas-kubelet demo config: an AWS Lambda, an Azure Functions and an Alibaba
# Cloud Function Compute node, backed by the local emulators.
tls:
  clientCAFile: $(env_of FAAS_KUBELET_CLIENT_CA)
nodes:
- name: ${node}
  cloud: aws-lambda
  region: us-east-1
  address: ${node_ip}
  kubeletPort: 10250
  usageInterval: 15s
  credentials: {source: env}
  lambda:
    endpoint: http://${emu_addr}
    executionRoleArn: arn:aws:iam::123456789012:role/faas-kubelet-demo
- name: ${azure_node}
  cloud: azure-functions
  region: westeurope
  address: ${node_ip}
  kubeletPort: 10251
  usageInterval: 15s
  credentials: {source: env}
  azure:
    endpoint: http://${azure_addr}
    kuduEndpoint: http://${azure_addr}/_kudu/{app}
    appEndpoint: http://${azure_addr}/_apps/{app}
    subscriptionId: ${sub}
    resourceGroup: rg-demo
    serverFarmId: /subscriptions/${sub}/resourceGroups/rg-demo/providers/Microsoft.Web/serverfarms/plan-demo
    storageConnectionFile: ${demo}/azure-storage
- name: ${fc_node}
  cloud: alibaba-fc
  region: cn-hangzhou
  address: ${node_ip}
  kubeletPort: 10252
  usageInterval: 15s
  credentials: {source: env}
  alibaba:
    accountId: "1234567890123456"
    endpoint: http://${fc_addr}
    logProject: demo-functions
    logStore: fc-logs
    logEndpoint: http://${fc_addr}
    logDialAddress: ${fc_addr}
CFG
  local pid_file="${demo}/faas-kubelet.pid"
  if ! { [[ -f "${pid_file}" ]] && kill -0 "$(cat "${pid_file}")" 2> /dev/null; }; then
    AWS_EC2_METADATA_DISABLED=true AWS_ACCESS_KEY_ID=AKIDFAASKUBELETLOCAL AWS_SECRET_ACCESS_KEY=faas-kubelet-local-secret \
      AZURE_ACCESS_TOKEN=faas-kubelet-local-token \
      ALIBABA_CLOUD_ACCESS_KEY_ID=LTAIFAASKUBELETLOCAL ALIBABA_CLOUD_ACCESS_KEY_SECRET=faas-kubelet-local-secret \
      "${launch[@]}" nohup "${BIN}" --config "${demo}/config.yaml" --kubeconfig "$(env_of FAAS_KUBELET_KUBECONFIG)" \
      > "${demo}/faas-kubelet.log" 2>&1 < /dev/null &
    echo $! > "${pid_file}"
  fi
  local deadline=$((SECONDS + 60))
  for n in "${node}" "${azure_node}" "${fc_node}"; do
    until [[ "$("${kubectl[@]}" get node "${n}" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2> /dev/null)" == "True" ]]; do
      kill -0 "$(cat "${pid_file}")" 2> /dev/null || { tail -n 20 "${demo}/faas-kubelet.log" >&2; die "faas-kubelet exited"; }
      ((SECONDS < deadline)) || die "node ${n} not Ready after 60s; see ${demo}/faas-kubelet.log"
      sleep 0.5
    done
  done
  local ex="${REPO_ROOT}/deploy/examples"
  "${kubectl[@]}" apply -f "${ex}/hello-deployment.yaml" -f "${ex}/hello-azure.yaml" -f "${ex}/hello-alibaba.yaml" -f "${ex}/hello-job.yaml" > /dev/null
  for d in hello hello-azure hello-alibaba; do
    "${kubectl[@]}" rollout status "deployment/${d}" --timeout 90s > /dev/null
  done
  "${kubectl[@]}" wait --for=condition=complete job/hello-job --timeout 90s > /dev/null
  local top_hint="(kubectl top needs metrics-server, which needs the network namespace)"
  if [[ "${netns}" != "none" ]]; then
    "${CLUSTER}" metrics-server > /dev/null
    top_hint="$(env_of KUBECTL) top pod -l app=hello   (after an invoke; figures come within 30 s)"
  fi
  echo
  "${kubectl[@]}" get nodes -o wide
  echo
  "${kubectl[@]}" get pods -o wide
  echo
  "${kubectl[@]}" get jobs
  echo
  echo "$ kubectl logs job/hello-job"
  "${kubectl[@]}" logs job/hello-job
  cat <<MSG

faas-kubelet is running (log: ${demo}/faas-kubelet.log). Paste these lines:

KUBECONFIG=$(env_of KUBECONFIG)
NODE=${node}
NODE=${azure_node}
NODE=${fc_node}

then try:  $(env_of KUBECTL) describe node ${node}
           $(env_of KUBECTL) describe pod -l app=hello
           $(env_of KUBECTL) logs -l app=hello --tail=5
           $(env_of KUBECTL) exec -i deploy/hello -- invoke <<< '{"sleepMs": 200}'
           ${top_hint}
The Lambda emulator answers at http://${emu_addr} (access key AKIDFAASKUBELETLOCAL,
secret faas-kubelet-local-secret, region us-east-1), e.g. for the AWS CLI; the
Azure Resource Manager emulator at http://${azure_addr} (bearer token
faas-kubelet-local-token, subscription ${sub}); the Function Compute + Log
Service emulator at http://${fc_addr} (AccessKey LTAIFAASKUBELETLOCAL, secret
faas-kubelet-local-secret, account 1234567890123456, region cn-hangzhou).
Stop everything with: make demo-down
MSG
}

demo_down() {
  local demo pid
  demo="$(env_of FAAS_KUBELET_RUN_DIR)/demo"
  if [[ -f "${demo}/faas-kubelet.pid" ]]; then
    pid="$(cat "${demo}/faas-kubelet.pid")"
    if kill -0 "${pid}" 2> /dev/null; then
      kill "${pid}"
      for _ in $(seq 1 100); do kill -0 "${pid}" 2> /dev/null || break; sleep 0.1; done
      kill -9 "${pid}" 2> /dev/null || true
    fi
    rm -f "${demo}/faas-kubelet.pid"
  fi
  if [[ -f "${demo}/emulator.pid" ]]; then
    kill "$(cat "${demo}/emulator.pid")" 2> /dev/null || true
    rm -f "${demo}/emulator.pid"
  fi
  "${CLUSTER}" down
}

case "${1:-}" in
  up) demo_up ;;
  down) demo_down ;;
  *) sed -n '2,3p' "$0"; exit 2 ;;
esac
