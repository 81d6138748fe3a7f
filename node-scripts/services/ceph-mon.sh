#!/usr/bin/env bash
# ceph-mon.sh <node> <mon-id> <name=addrvec>… — the one-time creation of a Ceph
# monitor's store, run as root by the oneshot borg-ceph-mon-<id> before
# ceph-mon-<id> starts (nix/modules/services/ceph.nix). Needs no other node:
#  - every monitor of the cluster goes into one initial monmap (the arguments,
#    `name=[v2:ip:3300,v1:ip:6789]`), with the fsid from the secrets, so all
#    monitors mkfs the same cluster and find each other;
#  - the store is made with the pre-generated mon., client.admin,
#    client.bootstrap-osd and mgr keys (secret ceph-mon-keyring), so nothing is
#    ever copied back from a node;
#  - it is built in a temporary directory beside the mon data dir, its marker
#    written last, then renamed into place: the data dir is either absent or
#    complete. A data dir without our marker is someone else's: refuse.
# Re-runs (every boot) find the marker and only check the fsid.
set -euo pipefail

main() {
  local script_dir
  script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
  # shellcheck source-path=SCRIPTDIR source=../lib.sh
  source "$script_dir/../lib.sh"
  # shellcheck source-path=SCRIPTDIR source=ceph-lib.sh
  source "$script_dir/ceph-lib.sh"

  [[ $# -ge 3 ]] || die "usage: ceph-mon.sh <node> <mon-id> <name=addrvec>…"
  check_node "$1"
  BORG_NODE="$1"
  local id="$2"
  shift 2
  [[ "$id" =~ ^[a-z0-9-]+$ ]] || die "ceph: invalid monitor id '$id'"
  require_root ceph-mon.sh

  local fsid data marker keyring
  fsid="$(ceph_fsid)"
  data="$(ceph_path "mon.$id" mon_data)"
  marker="$data/borg-bootstrapped"
  if [[ -e "$marker" ]]; then
    [[ "$(<"$marker")" == "$fsid" ]] ||
      die "ceph: mon.$id was made for cluster $(<"$marker"), but ceph-fsid now says $fsid; refusing (a new fsid means a new cluster)"
    say "ceph: mon.$id already bootstrapped"
    return 0
  fi
  [[ ! -e "$data" ]] || die "ceph: $data exists but was not made by borg (no marker); refusing to touch it"
  keyring="$(ceph_secret ceph-mon-keyring)"

  local parent work
  parent="$(dirname -- "$data")"
  mkdir -p -- "$parent"
  # Leftovers of an interrupted run are ours (by name) and incomplete.
  rm -rf -- "$data".borg-mkfs.*
  work="$(mktemp -d "$data.borg-mkfs.XXXXXX")"
  ceph_monmap "$work.monmap" "$@"
  if ! ceph-mon --mkfs -i "$id" --mon-data "$work" --monmap "$work.monmap" --keyring "$keyring" >"$work.log" 2>&1; then
    log "ceph: $(tr '\n' ' ' <"$work.log" | cut -c1-400)"
    rm -rf -- "$work" "$work.monmap" "$work.log"
    die "ceph: ceph-mon --mkfs failed for mon.$id"
  fi
  rm -f -- "$work.monmap" "$work.log"
  printf '%s\n' "$fsid" >"$work/borg-bootstrapped"
  ceph_own "$work"
  chmod 0750 -- "$work"
  mv -T -- "$work" "$data"
  say "ceph: mon.$id created for cluster $fsid with $# monitor(s) in its monmap"
}

main "$@"; exit
