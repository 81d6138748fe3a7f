#!/usr/bin/env bash
# ceph-pool.sh <node> <pool> <size> <min-size> <host|osd> <osds> — a cross-node
# step on the admin host (the queen), run by Pulumi after the register step
# and once every OSD host is deployed. The client's keyring section (with its
# caps) on stdin. Check-then-act, so a re-run changes nothing:
#  1. waits (bounded) until all <osds> OSDs are up and in;
#  2. the CRUSH rule borg-<domain> (replicas on different hosts or OSDs);
#  3. the replicated RBD pool with that rule, size and min_size, initialised for
#     RBD (`rbd pool init`: the application tag Ceph CSI needs);
#  4. the client (client.kubernetes: profile rbd, limited to the pool).
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

  [[ $# -eq 6 ]] || die "usage: ceph-pool.sh <node> <pool> <size> <min-size> <host|osd> <osds>  (client keyring on stdin)"
  check_node "$1"
  BORG_NODE="$1"
  local pool="$2" size="$3" min_size="$4" domain="$5" osds="$6"
  [[ "$pool" =~ ^[a-z0-9_-]+$ ]] || die "ceph: invalid pool name '$pool'"
  [[ "$size" =~ ^[1-9]$ && "$min_size" =~ ^[1-9]$ && "$min_size" -le "$size" ]] || die "ceph: invalid size $size / min_size $min_size"
  [[ "$domain" == host || "$domain" == osd ]] || die "ceph: failure domain must be host or osd"
  [[ "$osds" =~ ^[1-9][0-9]*$ ]] || die "ceph: invalid OSD count '$osds'"
  require_root ceph-pool.sh

  local client entity
  client="$(cat)"
  entity="$(head -n 1 <<<"$client")"
  [[ "$entity" =~ ^\[client\.[a-z0-9_-]+\]$ ]] || die "ceph: stdin is not a client keyring section"
  entity="${entity:1:-1}"
  ceph_secret ceph-admin-keyring >/dev/null

  wait_for "$BORG_CEPH_WAIT" ceph "all $osds OSD(s) up and in" probe "osds=$osds"

  local rule="borg-$domain" rules pools current changed=()
  rules="$(ceph_admin osd crush rule dump -f json 2>/dev/null)" || die "ceph: cannot read the CRUSH rules"
  if ! jq -e --arg r "$rule" 'any(.[]; .rule_name == $r)' >/dev/null <<<"$rules"; then
    run ceph_admin osd crush rule create-replicated "$rule" default "$domain"
    rules="$(ceph_admin osd crush rule dump -f json 2>/dev/null)" || die "ceph: cannot read the CRUSH rules"
    changed+=("rule $rule")
  fi
  pools="$(ceph_admin osd pool ls detail -f json 2>/dev/null)" || die "ceph: cannot list the pools"
  if ! jq -e --arg p "$pool" 'any(.[]; .pool_name == $p)' >/dev/null <<<"$pools"; then
    run ceph_admin osd pool create "$pool" 32 32 replicated "$rule"
    pools="$(ceph_admin osd pool ls detail -f json 2>/dev/null)" || die "ceph: cannot list the pools"
    changed+=("pool $pool")
  fi
  # One line: size, min_size, rule name, whether RBD is enabled.
  current="$(jq -r --arg p "$pool" --argjson rules "$rules" '.[] | select(.pool_name == $p)
      | [.size, .min_size, ((.crush_rule) as $id | $rules[] | select(.rule_id == $id) | .rule_name),
         (.application_metadata | has("rbd"))] | @tsv' <<<"$pools")"
  local have_size have_min have_rule have_rbd
  IFS=$'\t' read -r have_size have_min have_rule have_rbd <<<"$current"
  if [[ "$have_size" != "$size" ]]; then
    if [[ "$size" == 1 ]]; then run ceph_admin osd pool set "$pool" size 1 --yes-i-really-mean-it
    else run ceph_admin osd pool set "$pool" size "$size"; fi
    changed+=("size $size")
  fi
  # After size: Ceph moves min_size along with it; set ours last.
  if [[ "$have_size" != "$size" || "$have_min" != "$min_size" ]]; then
    if [[ "$(ceph_admin osd pool get "$pool" min_size -f json 2>/dev/null | jq -r .min_size)" != "$min_size" ]]; then
      run ceph_admin osd pool set "$pool" min_size "$min_size"
      changed+=("min_size $min_size")
    fi
  fi
  if [[ "$have_rule" != "$rule" ]]; then
    run ceph_admin osd pool set "$pool" crush_rule "$rule"
    changed+=("crush_rule $rule")
  fi
  if [[ "$have_rbd" != true ]]; then
    # Hangs without OSDs: bounded like every call.
    run timeout --foreground "$BORG_CEPH_CALL_TIMEOUT" rbd --client-mount-timeout 15 -n client.admin \
      --keyring "$BORG_SECRETS_DIR/ceph-admin-keyring" pool init "$pool"
    changed+=("rbd init")
  fi
  if [[ "$(ceph_admin auth get "$entity" 2>/dev/null)" != "$client" ]]; then
    local out
    out="$(printf '%s\n' "$client" | ceph_admin auth import -i - 2>&1)" ||
      die "ceph: could not import the key of $entity: $(printf '%s' "$out" | tr '\n' ' ' | cut -c1-300)"
    changed+=("$entity")
  fi
  say "ceph: pool $pool (size $size, min_size $min_size, failure domain $domain): ${changed[*]:-unchanged}"
}

# run CMD… — run a ceph command; on failure die with its output.
run() {
  local out
  out="$("$@" 2>&1)" || die "ceph: '$(printf '%s' "$*" | cut -c1-120)' failed: $(printf '%s' "$out" | tr '\n' ' ' | cut -c1-300)"
}

main "$@"; exit
