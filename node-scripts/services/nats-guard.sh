#!/usr/bin/env bash
# nats-guard.sh <switching-node> before|after <seconds> <routes> <peers> <nonpeers>
# The rollout guard of a JetStream peer, run as root: `before` on the previous peer (or on the
# node itself for the first one), so peers switch one at a time even across rollout lanes; `after`
# on the node itself once its confirm passed.
#   before: no server answering here, or too few peers routed for a quorum (a fresh cluster still
#           forming): nothing to protect, go. Otherwise wait until the meta group is healthy
#           (healthz, a leader, routes to every server) and refuse after <seconds>: a degraded
#           cluster must not lose another peer.
#   after:  wait until this server is healthy again and the meta group has its leader, unless
#           the cluster is still forming (then only the server must answer).
# The guard changes nothing on the cluster: a failed confirm leaves nothing to undo.
set -euo pipefail

script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$script_dir/../lib.sh"
# shellcheck source-path=SCRIPTDIR source=gate.sh
source "$script_dir/gate.sh"
# shellcheck source-path=SCRIPTDIR source=nats-probes.sh
source "$script_dir/nats-probes.sh"

[[ $# -eq 6 ]] || die "usage: nats-guard.sh <node> before|after <seconds> <routes> <peers> <nonpeers>"
check_node "$1"
BORG_NODE="$1"
phase="$2"
seconds="$3"
routes="$4"
peers="$5"
nonpeers="$6"
for n in "$seconds" "$routes" "$peers" "$nonpeers"; do
  [[ "$n" =~ ^[0-9]+$ ]] || die "nats-guard.sh: '$n' is not a number"
done
require_root nats-guard.sh
nats_require_tools

case "$phase" in
  before)
    if ! nats_answers; then
      say "nats guard: no server answers here yet; nothing to protect"
      exit 0
    fi
    if ! nats_quorum_possible "$routes" "$peers" "$nonpeers"; then
      say "nats guard: the cluster is still forming (too few peers routed for a quorum); switching"
      exit 0
    fi
    wait_for "$seconds" nats "JetStream meta group healthy before switching $BORG_NODE" probe_server "$routes" "$peers"
    ;;
  after)
    wait_for "$seconds" nats "server answers" nats_answers
    if nats_quorum_possible "$routes" "$peers" "$nonpeers" || probe_meta "$peers" >/dev/null; then
      wait_for "$seconds" nats "healthy again with the JetStream meta group" probe_server "$routes" "$peers"
    else
      say "nats guard: the cluster is still forming; not waiting for a quorum"
    fi
    ;;
  *)
    die "nats-guard.sh: unknown phase '$phase' (before or after)"
    ;;
esac
say "nats guard $phase passed"
