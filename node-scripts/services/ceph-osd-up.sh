#!/usr/bin/env bash
# ceph-osd-up.sh <node> <osd-id> — a cross-node step on an OSD host, run by
# Pulumi after the queen's register step added this OSD to the cluster.
# Until then the daemon cannot authenticate and systemd restarts it every 20 s
# (and gives up after 30 tries), so: clear a given-up unit, start it (a no-op
# when it runs), and wait (bounded) until the daemon reports itself active on
# its local admin socket — no cluster key needed on the drone.
set -euo pipefail

main() {
  local script_dir
  script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
  # shellcheck source-path=SCRIPTDIR source=../lib.sh
  source "$script_dir/../lib.sh"
  # shellcheck source-path=SCRIPTDIR source=gate.sh
  source "$script_dir/gate.sh"
  # shellcheck source-path=SCRIPTDIR source=ceph-lib.sh
  source "$script_dir/ceph-lib.sh"

  [[ $# -eq 2 ]] || die "usage: ceph-osd-up.sh <node> <osd-id>"
  check_node "$1"
  BORG_NODE="$1"
  local id="$2"
  [[ "$id" =~ ^[0-9]+$ ]] || die "ceph: invalid OSD id '$id'"
  require_root ceph-osd-up.sh

  local unit="ceph-osd-$id.service"
  systemctl reset-failed -- "$unit" 2>/dev/null || true
  systemctl start -- "$unit" || die "ceph: could not start $unit"
  wait_for "$BORG_CEPH_WAIT" ceph "osd.$id active" probe_osd_active "$id"
  say "ceph: osd.$id is active"
}

# probe_osd_active ID — the daemon's own view (`ceph daemon osd.ID status`).
# shellcheck disable=SC2317 # called through wait_for
probe_osd_active() {
  local s sock
  sock="$(ceph-conf --name "osd.$1" --show-config-value admin_socket 2>/dev/null)" || sock=""
  if [[ -n "$sock" && ! -S "$sock" ]]; then
    echo "osd.$1 is not running (no admin socket at $sock; see journalctl -u ceph-osd-$1)"
    return 1
  fi
  s="$(timeout --foreground 20 ceph daemon "osd.$1" status 2>&1)" || { printf '%s\n' "$s"; return 1; }
  jq -e '.state == "active"' >/dev/null 2>&1 <<<"$s" && return 0
  jq -r '"osd state: \(.state)"' <<<"$s" 2>/dev/null || printf '%s\n' "$s"
  return 1
}

main "$@"; exit
