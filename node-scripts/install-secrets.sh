#!/usr/bin/env bash
# install-secrets.sh <node> — run as root
# (`sudo -n bash <staging>/node-scripts/install-secrets.sh <node>`), the secret
# records on stdin, one per line:
#   <name> <owner> <group> <base64 content> [<unit>,<unit>…]
# name: [A-Za-z0-9._-]+ (not . or ..); owner/group: user/group names; the
# optional units are try-restarted once everything is installed, when that
# file's content changed (a rotated secret reaches its daemon without a
# redeploy; on a first deploy the units do not exist yet and nothing happens).
# Every record is validated before anything is written; a malformed record is
# reported by its line number only and nothing changes. Then each secret is
# written atomically into $BORG_SECRETS_DIR (root-owned, 0711): temp file in the
# same dir (umask 077) → chmod 0400 → chown owner:group when both exist
# (getent), else root:root (NixOS fixes ownership on activation) → mv. Files in
# the dir that are not in the set are removed (empty stdin removes all).
# Secret content never reaches a command line, stdout/stderr or xtrace.
# Test-only environment overrides: see lib.sh.
set -euo pipefail
set +x

# in_set NAME MEMBER… — true when NAME is one of the members (no associative
# lookup: directory entries are arbitrary strings).
in_set() {
  local want="$1" m
  shift
  for m in "$@"; do
    [[ "$m" == "$want" ]] && return 0
  done
  return 1
}

main() {
  local script_dir
  script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
  # shellcheck source-path=SCRIPTDIR source=lib.sh
  source "$script_dir/lib.sh"

  [[ $# -eq 1 ]] || die "usage: install-secrets.sh <node>  (records on stdin)"
  check_node "$1"
  BORG_NODE="$1"
  require_root install-secrets.sh

  # --- read and validate everything first -----------------------------------
  local -a names=() owners=() groups=() contents=() units=()
  local -A seen=()
  local line n=0 name owner group b64 unit_list
  local re_name='^[A-Za-z0-9._-]+$' re_id='^[A-Za-z0-9_][A-Za-z0-9._-]*[$]?$'
  local re_b64='^[A-Za-z0-9+/]*={0,2}$'
  local re_units='^[A-Za-z0-9@_.:-]+(,[A-Za-z0-9@_.:-]+)*$'
  while IFS= read -r line || [[ -n "$line" ]]; do
    n=$((n + 1))
    [[ -z "$line" ]] && continue
    if [[ ! "$line" =~ ^([^ ]+)\ ([^ ]+)\ ([^ ]+)\ ([^ ]*)(\ ([^ ]+))?$ ]]; then
      die "secret record on line $n is malformed (expected '<name> <owner> <group> <base64> [<units>]')"
    fi
    name="${BASH_REMATCH[1]}"
    owner="${BASH_REMATCH[2]}"
    group="${BASH_REMATCH[3]}"
    b64="${BASH_REMATCH[4]}"
    unit_list="${BASH_REMATCH[6]}"
    if [[ -n "$unit_list" && ! "$unit_list" =~ $re_units ]]; then
      die "secret record on line $n has an invalid unit list"
    fi
    if [[ ! "$name" =~ $re_name || "$name" == . || "$name" == .. ]]; then
      die "secret record on line $n has an invalid name"
    fi
    [[ "$owner" =~ $re_id ]] || die "secret record on line $n has an invalid owner"
    [[ "$group" =~ $re_id ]] || die "secret record on line $n has an invalid group"
    if [[ ! "$b64" =~ $re_b64 ]] || (( ${#b64} % 4 != 0 )) ||
       ! printf '%s' "$b64" | base64 -d >/dev/null 2>&1; then
      die "secret record on line $n has invalid base64 content"
    fi
    [[ -z "${seen[$name]:-}" ]] || die "secret record on line $n repeats an earlier name"
    seen[$name]=1
    names+=("$name")
    owners+=("$owner")
    groups+=("$group")
    contents+=("$b64")
    units+=("$unit_list")
  done

  # --- the directory ---------------------------------------------------------
  local dir="$BORG_SECRETS_DIR" parent
  [[ "$dir" == /* ]] || die "secrets dir must be an absolute path"
  [[ ! -L "$dir" ]] || die "secrets dir $dir is a symlink; refusing"
  if [[ ! -d "$dir" ]]; then
    parent="$(dirname -- "$dir")"
    # Parents must stay traversable for the services reading their files.
    if [[ ! -d "$parent" ]]; then
      (umask 022 && mkdir -p -- "$parent")
      chmod 0711 -- "$parent"
    fi
    mkdir -m 0711 -- "$dir"
  fi
  chown root:root -- "$dir"
  chmod 0711 -- "$dir"

  # --- install ---------------------------------------------------------------
  umask 077
  local i tmp target
  local -a restart=()
  for i in "${!names[@]}"; do
    target="$dir/${names[$i]}"
    tmp="$(mktemp "$dir/.borg-tmp.XXXXXXXX")"
    if ! printf '%s' "${contents[$i]}" | base64 -d >"$tmp"; then
      rm -f -- "$tmp"
      die "could not decode secret ${names[$i]}"
    fi
    chmod 0400 -- "$tmp"
    if getent passwd "${owners[$i]}" >/dev/null 2>&1 &&
       getent group "${groups[$i]}" >/dev/null 2>&1; then
      chown -- "${owners[$i]}:${groups[$i]}" "$tmp"
    else
      chown root:root -- "$tmp"
    fi
    if [[ -n "${units[$i]}" ]] && ! cmp -s -- "$tmp" "$target"; then
      local -a unit_names=()
      IFS=, read -r -a unit_names <<<"${units[$i]}"
      restart+=("${unit_names[@]}")
    fi
    if ! mv -f -T -- "$tmp" "$target"; then
      rm -f -- "$tmp"
      die "could not install secret ${names[$i]}"
    fi
  done

  # --- prune -----------------------------------------------------------------
  local entry removed=0
  shopt -s nullglob dotglob
  for entry in "$dir"/*; do
    in_set "${entry##*/}" "${names[@]}" && continue
    rm -rf -- "$entry"
    removed=$((removed + 1))
  done
  shopt -u nullglob dotglob

  # try-restart: a unit that is not running (or does not exist yet) stays as it is.
  if [[ ${#restart[@]} -gt 0 ]]; then
    mapfile -t restart < <(printf '%s\n' "${restart[@]}" | sort -u)
    systemctl try-restart -- "${restart[@]}" || die "secrets installed, but restarting ${restart[*]} failed"
    log "restarted for changed secrets: ${restart[*]}"
  fi

  say "${#names[@]} secrets installed, $removed removed"
}

main "$@"; exit
