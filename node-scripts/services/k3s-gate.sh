#!/usr/bin/env bash
# k3s-gate.sh <server> readyz | nodes <node>[,borg.io/<cap>=true…]… — run as root on a K3s server.
#   readyz  this server's API answers /readyz with "ok".
#   nodes   every listed node is registered, Ready, and carries exactly the listed borg.io labels.
# Each wait is bounded; a timeout names the node, the service and the probe's last output.
set -euo pipefail

main() {
  local script_dir
  script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
  # shellcheck source-path=SCRIPTDIR source=../lib.sh
  source "$script_dir/../lib.sh"
  # shellcheck source-path=SCRIPTDIR source=gate.sh
  source "$script_dir/gate.sh"
  # shellcheck source-path=SCRIPTDIR source=k3s-lib.sh
  source "$script_dir/k3s-lib.sh"

  [[ $# -ge 2 ]] || die "usage: k3s-gate.sh <server> readyz | nodes <node>[,labels]…"
  check_node "$1"
  BORG_NODE="$1"
  local check="$2"
  shift 2
  require_root k3s-gate.sh
  k3s_running || die "k3s: no K3s server runs here ($BORG_K3S_KUBECONFIG missing)"

  case "$check" in
    readyz)
      [[ $# -eq 0 ]] || die "k3s: readyz takes no arguments"
      wait_for "$BORG_K3S_WAIT" k3s "API /readyz" api_ready
      say "k3s: API ready"
      ;;
    nodes)
      [[ $# -ge 1 ]] || die "k3s: nodes needs at least one node"
      local spec node want have extra
      local -a fields labels expected=()
      # Validate every argument before waiting on any.
      for spec in "$@"; do
        IFS=, read -r -a fields <<<"$spec"
        check_node "${fields[0]:-}"
        check_labels "${fields[@]:1}"
      done
      wait_for "$BORG_K3S_WAIT" k3s "API /readyz" api_ready
      for spec in "$@"; do
        IFS=, read -r -a fields <<<"$spec"
        node="${fields[0]}"
        labels=("${fields[@]:1}")
        expected+=("$node")
        wait_for "$BORG_K3S_WAIT" k3s "node $node registered" node_registered "$node"
        wait_for "$BORG_K3S_WAIT" k3s "node $node Ready" node_ready "$node"
        want="$(printf '%s\n' "${labels[@]}" | grep . | sort || true)"
        have="$(node_labels "$node")"
        [[ "$have" == "$want" ]] ||
          die "k3s: node $node labels: expected [$(tr '\n' ' ' <<<"$want")] but it has [$(tr '\n' ' ' <<<"$have")]"
      done
      # Nodes K3s still knows but the stack no longer has (a removed drone) stay NotReady forever.
      extra="$(kc get nodes -o name | sed 's|^node/||' | grep -vxF -f <(printf '%s\n' "${expected[@]}") || true)"
      [[ -z "$extra" ]] || log "k3s: registered but not in the stack (remove with kubectl delete node): $(tr '\n' ' ' <<<"$extra")"
      say "k3s: ${#expected[@]} nodes Ready with their labels"
      ;;
    *) die "k3s: unknown gate '$check' (readyz, nodes)" ;;
  esac
}

main "$@"; exit
