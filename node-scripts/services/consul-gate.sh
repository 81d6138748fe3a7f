#!/usr/bin/env bash
# consul-gate.sh <node> servers <server,…> | cluster <node,…> — readiness gates, run as root on
# the first Consul server (components/services/consul.ts), each probe a bounded wait:
#   servers: a leader is elected and every listed server is a raft voter;
#   cluster: a leader, every listed node a LAN member that is alive, and a request without a
#            token sees nothing of the catalog (ACL default deny works).
# Authenticated calls use the management token from this server's secret config file.
#   BORG_CONSUL_GATE_TIMEOUT  seconds per probe (default 300)
set -euo pipefail

main() {
  local dir
  dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
  # shellcheck source-path=SCRIPTDIR source=../lib.sh
  source "$dir/../lib.sh"
  # shellcheck source-path=SCRIPTDIR source=gate.sh
  source "$dir/gate.sh"
  # shellcheck source-path=SCRIPTDIR source=consul-lib.sh
  source "$dir/consul-lib.sh"

  [[ $# -eq 3 ]] || die "usage: consul-gate.sh <node> servers|cluster <node,…>"
  check_node "$1"
  BORG_NODE="$1"
  local mode="$2" names="$3" timeout="${BORG_CONSUL_GATE_TIMEOUT:-300}"
  require_root consul-gate.sh
  [[ "$mode" == servers || "$mode" == cluster ]] || die "usage: consul-gate.sh <node> servers|cluster <node,…> (got mode '$mode')"
  csv_names "$names"
  consul_load || die "consul: no Consul on $BORG_NODE ($BORG_CONSUL_ENV is missing): is it a server of this stack?"
  consul_management_token

  wait_for "$timeout" consul "leader elected" probe_leader
  case "$mode" in
    servers)
      wait_for "$timeout" consul "raft voters $names" probe_voters "$names"
      say "consul: leader elected, raft voters: $names"
      ;;
    cluster)
      wait_for "$timeout" consul "members alive $names" probe_members "$names"
      wait_for "$timeout" consul "anonymous catalog read denied" probe_anonymous_denied "$BORG_NODE"
      say "consul: leader elected, members alive: $names; anonymous catalog read denied"
      ;;
  esac
}

main "$@"
