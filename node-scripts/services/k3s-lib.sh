# shellcheck shell=bash
# shellcheck disable=SC2034 # variables used by the scripts that source this
# K3s helpers for the k3s-*.sh service steps. Sourced after ../lib.sh and gate.sh, never run.
# Every call goes through `k3s kubectl` as root, which reads the admin kubeconfig K3s writes on
# servers (/etc/rancher/k3s/k3s.yaml); these steps only ever run on servers.
#   BORG_K3S_KUBECONFIG  default /etc/rancher/k3s/k3s.yaml (tests point it elsewhere)
#   BORG_K3S_WAIT        seconds a gate waits (default 300)

BORG_K3S_KUBECONFIG="${BORG_K3S_KUBECONFIG:-/etc/rancher/k3s/k3s.yaml}"
BORG_K3S_WAIT="${BORG_K3S_WAIT:-300}"
# Set on a node the deploy cordoned, so its uncordon never undoes an operator's own cordon.
K3S_CORDON_MARK="borg.io/cordoned-by-deploy"

kc() {
  k3s kubectl --kubeconfig "$BORG_K3S_KUBECONFIG" --request-timeout=20s "$@"
}

# k3s_running — K3s has written its admin kubeconfig here (false before the first start).
k3s_running() {
  command -v k3s >/dev/null 2>&1 && [[ -s "$BORG_K3S_KUBECONFIG" ]]
}

# api_ready — /readyz answers "ok"; otherwise its output (what is not ready) for the gate message.
api_ready() {
  local out
  out="$(kc get --raw=/readyz 2>&1)" && [[ "$out" == ok ]] && return 0
  printf '%s\n' "$out"
  return 1
}

node_registered() {
  kc get node "$1" -o name >/dev/null 2>&1
}

node_ready() {
  local status
  status="$(kc get node "$1" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" || return 1
  [[ "$status" == True ]] || { printf 'Ready=%s\n' "${status:-unknown}"; return 1; }
}

# node_labels NODE — its borg.io/* labels, one key=value per line, sorted.
node_labels() {
  # shellcheck disable=SC2016 # a go-template, not shell
  kc get node "$1" -o 'go-template={{range $k, $v := .metadata.labels}}{{$k}}={{$v}}{{"\n"}}{{end}}' | grep '^borg\.io/' | sort || true
}

# check_labels LABEL… — every label is a borg.io/<name>=true word (what the program renders).
check_labels() {
  local l
  for l in "$@"; do
    [[ "$l" =~ ^borg\.io/[a-z0-9]([a-z0-9.-]*[a-z0-9])?=true$ ]] || die "k3s: invalid node label '$l' (expected borg.io/<capability>=true)"
  done
}
