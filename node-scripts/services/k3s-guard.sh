#!/usr/bin/env bash
# k3s-guard.sh <node> cordon|cordon-self|uncordon [borg.io/<cap>=true…] — run as root on a K3s
# server around <node>'s switch (the rollout guard):
#   cordon       before the switch, on an earlier server: that server's API must answer; <node>
#                is cordoned (and marked) unless it is not registered yet (first deploy) or an
#                operator had cordoned it already.
#   cordon-self  before the first server's own switch: best effort, since K3s may not run yet
#                (first deploy) or be broken in a way this very switch repairs.
#   uncordon     after <node>'s confirm: waits for the API and for <node> Ready, sets exactly the
#                given borg.io labels (kubelet applies --node-label only at registration), and
#                uncordons it if the deploy had cordoned it.
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

  [[ $# -ge 2 ]] || die "usage: k3s-guard.sh <node> cordon|cordon-self|uncordon [labels…]"
  check_node "$1"
  BORG_NODE="$1"
  local node="$1" action="$2"
  shift 2
  require_root k3s-guard.sh

  case "$action" in
    cordon | cordon-self)
      [[ $# -eq 0 ]] || die "k3s: $action takes no labels"
      if ! k3s_running; then
        [[ "$action" == cordon-self ]] || die "k3s: no K3s server runs here ($BORG_K3S_KUBECONFIG missing): cannot cordon $node"
        say "k3s: not running yet (first deploy): nothing to cordon"
        return 0
      fi
      if [[ "$action" == cordon-self ]] && ! api_ready >/dev/null 2>&1; then
        log "k3s: API not ready before this node's own switch: not cordoning (the switch may be the repair)"
        say "k3s: API not ready: $node not cordoned"
        return 0
      fi
      wait_for "$BORG_K3S_WAIT" k3s "API /readyz" api_ready
      if ! node_registered "$node"; then
        say "k3s: $node is not registered yet (first deploy): nothing to cordon"
        return 0
      fi
      if [[ "$(kc get node "$node" -o 'jsonpath={.spec.unschedulable}')" == true ]]; then
        say "k3s: $node was already cordoned (not by this deploy): leaving it as it is"
        return 0
      fi
      kc annotate node "$node" --overwrite "$K3S_CORDON_MARK=true" >/dev/null
      kc cordon "$node" >/dev/null
      say "k3s: $node cordoned for its switch"
      ;;
    uncordon)
      check_labels "$@"
      k3s_running || die "k3s: no K3s server runs here ($BORG_K3S_KUBECONFIG missing): cannot check $node"
      wait_for "$BORG_K3S_WAIT" k3s "API /readyz" api_ready
      wait_for "$BORG_K3S_WAIT" k3s "node $node Ready" node_ready "$node"
      local want have line
      want="$(printf '%s\n' "$@" | grep . | sort || true)"
      have="$(node_labels "$node")"
      while IFS= read -r line; do
        [[ -n "$line" ]] || continue
        grep -qxF -- "$line" <<<"$have" || kc label node "$node" --overwrite "$line" >/dev/null
      done <<<"$want"
      while IFS= read -r line; do
        [[ -n "$line" ]] || continue
        cut -d= -f1 <<<"$want" | grep -qxF -- "${line%%=*}" || kc label node "$node" "${line%%=*}-" >/dev/null
      done <<<"$have"
      if [[ "$(kc get node "$node" -o "jsonpath={.metadata.annotations.borg\\.io/cordoned-by-deploy}")" == true ]]; then
        kc uncordon "$node" >/dev/null
        kc annotate node "$node" "$K3S_CORDON_MARK-" >/dev/null
        say "k3s: $node Ready, labels set, uncordoned"
      else
        say "k3s: $node Ready, labels set"
      fi
      ;;
    *) die "k3s: unknown guard action '$action' (cordon, cordon-self, uncordon)" ;;
  esac
}

main "$@"; exit
