#!/usr/bin/env bash
# nats-gate.sh <node> server <seconds> <routes> <peers>
# nats-gate.sh <node> leaf <seconds> <leafnodes>
# Readiness gates of the NATS bootstrap, run as root on <node> (a Pulumi remote step): the server
# is healthy (JetStream included where it runs), routed to <routes> other servers and, on a
# JetStream peer (<peers> > 0), the meta group has a leader; the hub has its leaf nodes. (healthz
# with JetStream also says this server's stream replicas are current; that every stream has its
# leader and current followers is waited for by the stream provider, through the JetStream API,
# after each create or update.) Each waits at most <seconds> and then fails naming the node, the
# probe and what it saw.
set -euo pipefail

script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$script_dir/../lib.sh"
# shellcheck source-path=SCRIPTDIR source=gate.sh
source "$script_dir/gate.sh"
# shellcheck source-path=SCRIPTDIR source=nats-probes.sh
source "$script_dir/nats-probes.sh"

[[ $# -ge 3 ]] || die "usage: nats-gate.sh <node> server|leaf <seconds> …"
check_node "$1"
BORG_NODE="$1"
mode="$2"
seconds="$3"
shift 3
[[ "$seconds" =~ ^[0-9]+$ ]] || die "nats-gate.sh: <seconds> must be a number"
require_root nats-gate.sh
nats_require_tools

number() { [[ "$1" =~ ^[0-9]+$ ]] || die "nats-gate.sh: '$1' is not a number"; }

case "$mode" in
  server)
    [[ $# -eq 2 ]] || die "usage: nats-gate.sh <node> server <seconds> <routes> <peers>"
    number "$1"
    number "$2"
    wait_for "$seconds" nats "healthy, routed to $1 servers$( (($2 > 0)) && echo ", meta group of $2 with a leader")" probe_server "$1" "$2"
    ;;
  leaf)
    [[ $# -eq 1 ]] || die "usage: nats-gate.sh <node> leaf <seconds> <leafnodes>"
    number "$1"
    wait_for "$seconds" nats "$1 leaf node(s) connected" probe_leafs "$1"
    ;;
  *)
    die "nats-gate.sh: unknown mode '$mode' (server or leaf)"
    ;;
esac
say "nats $mode gate passed"
