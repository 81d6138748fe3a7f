#!/usr/bin/env bash
# ceph-gate.sh <node> <monitors> <osds> <accepted> — the readiness gate of the
# Ceph cluster, a Pulumi step on the admin host (the queen) after the pool.
# One bounded wait; a timeout fails naming the node, the gate and every
# condition the cluster still did not meet:
#   every monitor in quorum · an active manager · all OSDs up and in ·
#   every placement group active+clean · HEALTH_OK, or only the health checks
#   in <accepted> (comma list, "-" for none: e.g. POOL_NO_REDUNDANCY when the
#   stack asks for one replica).
# Passing records $BORG_STATE_DIR/ceph/bootstrapped: from then on the rolling
# guard (ceph-guard.sh) protects the cluster around every switch.
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

  [[ $# -eq 4 ]] || die "usage: ceph-gate.sh <node> <monitors> <osds> <accepted>"
  check_node "$1"
  BORG_NODE="$1"
  local mons="$2" osds="$3" accepted="$4"
  [[ "$mons" =~ ^[1-9][0-9]*$ && "$osds" =~ ^[1-9][0-9]*$ ]] || die "ceph: invalid monitor or OSD count"
  [[ "$accepted" =~ ^(-|[A-Z_]+(,[A-Z_]+)*)$ ]] || die "ceph: invalid list of accepted health checks"
  require_root ceph-gate.sh
  ceph_secret ceph-admin-keyring >/dev/null

  # One `ceph status` per try; the error names every condition still unmet.
  wait_for "$BORG_CEPH_WAIT" ceph "health gate ($mons mon, $osds OSD, accepted: $accepted)" \
    probe "quorum=$mons" mgr "osds=$osds" clean "health=$accepted"

  ensure_state_dirs
  [[ -d "$BORG_CEPH_STATE" ]] || mkdir -m 0700 -- "$BORG_CEPH_STATE"
  [[ -e "$BORG_CEPH_STATE/bootstrapped" ]] || now_utc >"$BORG_CEPH_STATE/bootstrapped"
  say "ceph: healthy: $mons monitor(s) in quorum, $osds OSD(s) up and in, PGs active+clean"
}

main "$@"; exit
