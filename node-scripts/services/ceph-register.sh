#!/usr/bin/env bash
# ceph-register.sh <node> <monitors> — a cross-node step on the admin host (the
# queen), run by Pulumi once every monitor host is deployed. Secrets on stdin
# only, as JSON:
#   {"keys": [{"entity": "mgr.queen", "key": "…", "caps": {"mon": "allow profile mgr", …}}],
#    "osds": [{"id": 0, "uuid": "…", "key": "…", "caps": {…}}]}
#  1. waits (bounded) until all <monitors> monitors are in quorum;
#  2. compares with the cluster's keys and OSDs (one `auth ls`, one `osd dump`);
#  3. imports each key whose key or caps differ (managers; a rotated OSD key);
#  4. adds each missing OSD with its pinned id, uuid and cephx key (`ceph osd new`).
# Nothing is done when the cluster already matches. Keys travel through pipes
# only (never an argument), nothing secret is printed.
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

  [[ $# -eq 2 ]] || die "usage: ceph-register.sh <node> <monitors>  (keys on stdin)"
  check_node "$1"
  BORG_NODE="$1"
  local mons="$2"
  [[ "$mons" =~ ^[1-9][0-9]*$ ]] || die "ceph: invalid monitor count '$mons'"
  require_root ceph-register.sh

  local input auth osdmap todo
  input="$(cat)"
  jq -e 'def entry: (.key | type) == "string" and (.caps | type) == "object";
         (.keys | type) == "array" and (.osds | type) == "array"
         and all(.keys[]; (.entity | type) == "string" and entry)
         and all(.osds[]; entry and (.id | type) == "number" and (.uuid | test("^[0-9a-f-]{36}$")))' >/dev/null 2>&1 <<<"$input" ||
    die "ceph: stdin is not the expected {keys, osds} document"
  ceph_secret ceph-admin-keyring >/dev/null

  wait_for "$BORG_CEPH_WAIT" ceph "quorum of $mons monitor(s)" probe "quorum=$mons"

  auth="$(ceph_admin auth ls -f json 2>/dev/null)" || die "ceph: cannot list the cluster's keys"
  osdmap="$(ceph_admin osd dump -f json 2>/dev/null)" || die "ceph: cannot read the OSD map"
  # What differs, computed in one jq over the three documents (all on a pipe).
  todo="$(printf '%s\n%s\n%s\n' "$input" "$auth" "$osdmap" | jq -c -s '
    .[0] as $in | (.[1].auth_dump // []) as $auth | (.[2].osds // []) as $map
    | def held($e): [$auth[] | select(.entity == $e.entity and .key == $e.key and .caps == $e.caps)] | length > 0;
      { import: [$in.keys[] | select(held(.) | not)],
        osds: [$in.osds[] | . as $o
               | { entity: "osd.\(.id)", id, uuid, key, caps,
                   exists: ([$map[] | select(.osd == $o.id)] | length > 0),
                   same: ([$map[] | select(.osd == $o.id and .uuid == $o.uuid)] | length > 0) }
               | .held = held(.)] }')" || die "ceph: could not compare the wanted keys with the cluster's"

  local imported=0 added=0 present=0 i count entry id uuid out
  count="$(jq '.import | length' <<<"$todo")"
  for ((i = 0; i < count; i++)); do
    import_key "$(jq -c --argjson i "$i" '.import[$i]' <<<"$todo")"
    imported=$((imported + 1))
  done
  count="$(jq '.osds | length' <<<"$todo")"
  for ((i = 0; i < count; i++)); do
    entry="$(jq -c --argjson i "$i" '.osds[$i]' <<<"$todo")"
    id="$(jq -r .id <<<"$entry")"
    uuid="$(jq -r .uuid <<<"$entry")"
    if jq -e '.exists and (.same | not)' >/dev/null <<<"$entry"; then
      die "ceph: osd.$id exists with another uuid than $uuid; refusing (was the drone order changed?)"
    fi
    if jq -e '.same and .held' >/dev/null <<<"$entry"; then
      present=$((present + 1))
      continue
    fi
    if jq -e '.same' >/dev/null <<<"$entry"; then
      # Registered, but with another key: a rotated one.
      import_key "$entry"
      imported=$((imported + 1))
      continue
    fi
    if ! out="$(jq -c '{cephx_secret: .key}' <<<"$entry" | ceph_admin osd new "$uuid" "$id" -i - 2>&1)"; then
      die "ceph: could not add osd.$id (uuid $uuid): $(printf '%s' "$out" | tr '\n' ' ' | cut -c1-300)"
    fi
    added=$((added + 1))
  done
  say "ceph: keys: $imported imported; OSDs: $added added, $present present"
}

# import_key ENTRY — `ceph auth import` of {entity, key, caps} (as a keyring, on a pipe).
import_key() {
  local entity out
  entity="$(jq -r .entity <<<"$1")"
  if ! out="$(jq -r '"[\(.entity)]\n\tkey = \(.key)\n" + (.caps | to_entries | map("\tcaps \(.key) = \"\(.value)\"\n") | add // "")' <<<"$1" |
    ceph_admin auth import -i - 2>&1)"; then
    die "ceph: could not import the key of $entity: $(printf '%s' "$out" | tr '\n' ' ' | cut -c1-300)"
  fi
}

main "$@"; exit
