#!/usr/bin/env bash
# consul-guard.sh <node> before|after — the rollout guard around a Consul server's switch
# (components/services/consul.ts), run as root on that server:
#   before: when Consul runs here, wait (bounded) until autopilot calls the raft peer set
#           healthy, then record that; when it does not run yet (first deploy) or is down,
#           record that and pass: the switch takes nothing away from the quorum.
#   after:  (after the confirm) wait until the peer set is back to what `before` recorded:
#           this server a voter again and the set healthy; or, if Consul did not run before,
#           until the agent is active.
# The guard changes nothing in Consul; the lane goes on only once it returns.
#   BORG_CONSUL_GUARD_TIMEOUT  seconds per probe (default 300)
set -euo pipefail

consul_active() {
  systemctl is-active --quiet consul.service
}

probe_active() {
  if consul_active; then echo "consul.service active"; return 0; fi
  echo "consul.service is $(systemctl is-active consul.service 2>/dev/null || true)"
  return 1
}

main() {
  local dir
  dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
  # shellcheck source-path=SCRIPTDIR source=../lib.sh
  source "$dir/../lib.sh"
  # shellcheck source-path=SCRIPTDIR source=gate.sh
  source "$dir/gate.sh"
  # shellcheck source-path=SCRIPTDIR source=consul-lib.sh
  source "$dir/consul-lib.sh"

  [[ $# -eq 2 ]] || die "usage: consul-guard.sh <node> before|after"
  check_node "$1"
  BORG_NODE="$1"
  local phase="$2" timeout="${BORG_CONSUL_GUARD_TIMEOUT:-300}"
  require_root consul-guard.sh
  ensure_state_dirs
  local guards="$BORG_STATE_DIR/guards" state
  [[ -d "$guards" ]] || mkdir -m 0700 -- "$guards"
  state="$guards/consul"

  case "$phase" in
    before)
      if ! consul_load || ! consul_active; then
        kv_write "$state" "before=absent" "time=$(now_utc)" || die "consul: cannot write $state"
        say "consul: not running on $BORG_NODE yet: nothing to guard"
        return 0
      fi
      consul_management_token
      wait_for "$timeout" consul "raft peer set healthy before switching $BORG_NODE" probe_autopilot
      kv_write "$state" "before=healthy" "time=$(now_utc)" || die "consul: cannot write $state"
      say "consul: raft peer set healthy: $BORG_NODE may switch"
      ;;
    after)
      local before
      before="$(kv_get "$state" before)"
      consul_load || die "consul: the new system of $BORG_NODE has no Consul ($BORG_CONSUL_ENV is missing)"
      wait_for "$timeout" consul "consul.service active on $BORG_NODE" probe_active
      if [[ "$before" == healthy ]]; then
        consul_management_token
        wait_for "$timeout" consul "$BORG_NODE back in the raft peer set" probe_voters "$BORG_NODE"
        wait_for "$timeout" consul "raft peer set healthy after switching $BORG_NODE" probe_autopilot
        say "consul: $BORG_NODE is a voter again and the raft peer set is healthy"
      else
        say "consul: started on $BORG_NODE (it did not run before this switch)"
      fi
      rm -f -- "$state"
      ;;
    *) die "usage: consul-guard.sh <node> before|after (got '$phase')" ;;
  esac
}

main "$@"
