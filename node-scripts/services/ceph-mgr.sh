#!/usr/bin/env bash
# ceph-mgr.sh <node> <mgr-id> — run as root by the oneshot borg-ceph-mgr-<id>
# before ceph-mgr-<id> (nix/modules/services/ceph.nix). Puts the manager's
# pre-generated key (secret ceph-mgr-keyring) into its data dir as the Ceph
# user's 0600 keyring. The monitors know the key from their mkfs (and the
# queen's register step imports it again), so this needs no other node.
# Idempotent: an unchanged keyring is left alone; a rotated one replaces it
# (the secrets step then restarts this unit and the manager).
set -euo pipefail

main() {
  local script_dir
  script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
  # shellcheck source-path=SCRIPTDIR source=../lib.sh
  source "$script_dir/../lib.sh"
  # shellcheck source-path=SCRIPTDIR source=ceph-lib.sh
  source "$script_dir/ceph-lib.sh"

  [[ $# -eq 2 ]] || die "usage: ceph-mgr.sh <node> <mgr-id>"
  check_node "$1"
  BORG_NODE="$1"
  local id="$2"
  [[ "$id" =~ ^[a-z0-9-]+$ ]] || die "ceph: invalid manager id '$id'"
  require_root ceph-mgr.sh

  local secret data tmp
  secret="$(ceph_secret ceph-mgr-keyring)"
  grep -qxF "[mgr.$id]" "$secret" || die "ceph: $secret holds no key for mgr.$id"
  data="$(ceph_path "mgr.$id" mgr_data)"
  if cmp -s -- "$secret" "$data/keyring"; then
    say "ceph: mgr.$id keyring in place"
    return 0
  fi
  mkdir -p -- "$data"
  tmp="$(mktemp "$data/.keyring.XXXXXX")"
  cat -- "$secret" >"$tmp"
  chmod 0600 -- "$tmp"
  ceph_own "$tmp" "$data"
  mv -f -T -- "$tmp" "$data/keyring"
  say "ceph: mgr.$id keyring installed"
}

main "$@"; exit
