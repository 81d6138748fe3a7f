#!/usr/bin/env bash
# ceph-guard.sh <switching-node> before|after — the rolling guard around the
# switch of a Ceph monitor or OSD host, run on the admin host (the queen) in
# that node's rollout lane (components/services/ceph.ts).
#   before: records the cluster's health, then `ceph osd set noout`, so OSDs
#           that go down during the switch are not marked out and rebalanced.
#   after:  (only after a successful confirm) waits, bounded, until the cluster
#           is back to the recorded health — no health check that was not there
#           before (the noout flag itself aside), as many OSDs up and in, PGs
#           active+clean if they were — then unsets noout.
# Several lanes may switch at once: each holds noout through a file in
# $BORG_STATE_DIR/ceph/noout/; the last one out unsets it, and a noout the
# operator had set before is left alone. A failed confirm never runs `after`:
# noout stays set and the deploy says so.
# Before the first successful gate there is no cluster to protect; if the
# cluster does not answer (no quorum), no data can move either: both skip.
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

  [[ $# -eq 2 && ( "$2" == before || "$2" == after ) ]] || die "usage: ceph-guard.sh <switching-node> before|after"
  check_node "$1"
  BORG_NODE="$1"
  local phase="$2"
  require_root ceph-guard.sh

  local holders="$BORG_CEPH_STATE/noout" mine
  mine="$holders/$BORG_NODE"
  if [[ ! -e "$BORG_CEPH_STATE/bootstrapped" ]]; then
    say "ceph: not bootstrapped yet: nothing to guard"
    return 0
  fi
  ensure_state_dirs
  [[ -d "$BORG_CEPH_STATE" ]] || mkdir -m 0700 -- "$BORG_CEPH_STATE"
  [[ -d "$holders" ]] || mkdir -m 0700 -- "$holders"
  exec 8>>"$BORG_CEPH_STATE/guard.lock"
  flock -w 300 8 || die "ceph: another guard holds $BORG_CEPH_STATE/guard.lock"

  if [[ "$phase" == before ]]; then
    local status
    if ! status="$(ceph_status)"; then
      log "ceph: the cluster does not answer (no quorum?): switching without noout; nothing can rebalance meanwhile"
      return 0
    fi
    local others
    others="$(find "$holders" -mindepth 1 -maxdepth 1 ! -name "$BORG_NODE" | wc -l)"
    if [[ "$others" -eq 0 && ! -e "$mine" ]] && jq -e '.health.checks.OSDMAP_FLAGS.summary.message // "" | test("noout")' >/dev/null <<<"$status"; then
      # Set by the operator: never ours to unset.
      touch -- "$BORG_CEPH_STATE/noout-preexisting"
    fi
    jq -c '{checks: ((.health.checks | keys) - ["OSDMAP_FLAGS"]), up: .osdmap.num_up_osds, in: .osdmap.num_in_osds,
            clean: (.pgmap as $p | ([$p.pgs_by_state[]? | select(.state_name == "active+clean") | .count] | add // 0) == $p.num_pgs)}' \
      <<<"$status" >"$mine.tmp"
    mv -f -T -- "$mine.tmp" "$mine"
    local out
    out="$(ceph_admin osd set noout 2>&1)" || die "ceph: could not set noout before switching $BORG_NODE: $out"
    say "ceph: noout set for the switch of $BORG_NODE (health before: $(jq -c . "$mine"))"
    return 0
  fi

  if [[ ! -e "$mine" ]]; then
    say "ceph: no noout held for $BORG_NODE"
    return 0
  fi
  flock -u 8
  wait_for "$BORG_CEPH_WAIT" ceph "health as before the switch of $BORG_NODE" probe_recovered "$mine"
  flock -w 300 8 || die "ceph: another guard holds $BORG_CEPH_STATE/guard.lock"
  rm -f -- "$mine"
  if [[ -n "$(find "$holders" -mindepth 1 -maxdepth 1)" ]]; then
    say "ceph: $BORG_NODE is back; noout stays for: $(find "$holders" -mindepth 1 -maxdepth 1 -printf '%f ')"
  elif [[ -e "$BORG_CEPH_STATE/noout-preexisting" ]]; then
    rm -f -- "$BORG_CEPH_STATE/noout-preexisting"
    say "ceph: $BORG_NODE is back; noout was set before the deploy and stays"
  else
    local out
    out="$(ceph_admin osd unset noout 2>&1)" || die "ceph: could not unset noout after $BORG_NODE: $out"
    say "ceph: $BORG_NODE is back to its health before the switch; noout unset"
  fi
}

# probe_recovered FILE — the cluster is at least as healthy as recorded in FILE.
# shellcheck disable=SC2317 # called through wait_for
probe_recovered() {
  local s
  s="$(ceph_status)" || { printf '%s\n' "$s"; return 1; }
  jq -e --slurpfile before "$1" '$before[0] as $b |
      ((.health.checks | keys) - ["OSDMAP_FLAGS"] - $b.checks | length == 0)
      and .osdmap.num_up_osds >= $b.up and .osdmap.num_in_osds >= $b.in
      and (($b.clean | not) or (.pgmap as $p | ([$p.pgs_by_state[]? | select(.state_name == "active+clean") | .count] | add // 0) == $p.num_pgs))' \
    >/dev/null <<<"$s" && return 0
  jq -r --slurpfile before "$1" '$before[0] as $b | "now: \(.osdmap.num_up_osds) up/\(.osdmap.num_in_osds) in (before \($b.up)/\($b.in)); checks: " +
      ((.health.checks | keys) - ["OSDMAP_FLAGS"] | join(",")) + " (before: " + ($b.checks | join(",")) + "); PGs: " +
      ([.pgmap.pgs_by_state[]? | "\(.count) \(.state_name)"] | join(", "))' <<<"$s"
  return 1
}

main "$@"; exit
