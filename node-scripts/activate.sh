#!/usr/bin/env bash
# activate.sh <node> <hash> <staging> <confirm-timeout-seconds 30-3600> — run as root
# (`sudo -n bash <staging>/node-scripts/activate.sh …`).
#  1. verify the staged bundle (owner $SUDO_USER or root, not group/world
#     writable) by copying it to a root-owned temp dir and checking the copy:
#     sha256(MANIFEST) == <hash>, `sha256sum -c`, no file outside MANIFEST, no
#     symlinks; it becomes $BORG_STATE_DIR/bundles/<hash>/
#  2. already confirmed with this hash and still running that system → exit 0
#  3. nix-build <bundle>/system.nix (the pinned nixpkgs; a failure changes
#     nothing on the running system)
#  4. record deploy/pending, arm the borg-revert timer (abort if that fails),
#     ignore SIGHUP/SIGPIPE, `switch-to-configuration test` (never boot)
#  5. switch failure → revert at once and exit non-zero
# confirm.sh (fresh SSH session) must follow within the timeout, or revert.sh
# runs from the timer. Test-only environment overrides: see lib.sh.
set -euo pipefail

# verify_bundle DIR HASH — DIR is a root-owned copy; die unless it is exactly
# the bundle named by HASH.
verify_bundle() {
  local dir="$1" hash="$2" actual line path odd
  [[ -f "$dir/MANIFEST" && ! -L "$dir/MANIFEST" ]] || die "bundle has no MANIFEST"
  actual="$(sha256sum <"$dir/MANIFEST")"
  actual="${actual%% *}"
  [[ "$actual" == "$hash" ]] || die "bundle MANIFEST hash $actual does not match $hash"

  odd="$(find "$dir" -mindepth 1 ! -type f ! -type d -printf '%P\n' -quit)"
  [[ -z "$odd" ]] || die "bundle contains a non-regular file: $odd"

  local -a listed=()
  local n=0
  while IFS= read -r line || [[ -n "$line" ]]; do
    n=$((n + 1))
    if [[ ! "$line" =~ ^[0-9a-f]{64}\ \ ([A-Za-z0-9._+-][A-Za-z0-9._+/-]*)$ ]]; then
      die "bundle MANIFEST line $n is malformed"
    fi
    path="${BASH_REMATCH[1]}"
    if [[ "$path" == */ || "$path" == *//* || "/$path/" == */../* || "/$path/" == */./* || "$path" == MANIFEST ]]; then
      die "bundle MANIFEST line $n has an unsafe path"
    fi
    listed+=("$path")
  done <"$dir/MANIFEST"

  local want have
  want="$(printf '%s\n' "${listed[@]}" | LC_ALL=C sort)"
  have="$(cd "$dir" && find . -type f ! -path ./MANIFEST -printf '%P\n' | LC_ALL=C sort)"
  if [[ "$want" != "$have" ]]; then
    die "bundle files do not match its MANIFEST (missing, extra or duplicate entries)"
  fi
  (cd "$dir" && sha256sum --quiet --strict -c MANIFEST >&2) ||
    die "bundle content does not match its MANIFEST (tampered or incomplete copy)"
  local f
  for f in system.nix configuration.nix node-scripts/lib.sh node-scripts/revert.sh node-scripts/confirm.sh; do
    [[ -f "$dir/$f" ]] || die "bundle lacks $f"
  done
}

main() {
  local script_dir
  script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
  # shellcheck source-path=SCRIPTDIR source=lib.sh
  source "$script_dir/lib.sh"

  [[ $# -eq 4 ]] || die "usage: activate.sh <node> <hash> <staging> <confirm-timeout-seconds>"
  check_node "$1"
  BORG_NODE="$1"
  check_hash "$2"
  local hash="$2" staging="$3" timeout="$4"
  # The bounds of borg:rollout.confirmTimeoutSeconds: a shorter timer reverts before a confirm
  # can log in, a longer one leaves a broken node down for over an hour.
  if [[ ! "$timeout" =~ ^[1-9][0-9]{1,3}$ ]] || (( timeout < 30 || timeout > 3600 )); then
    die "invalid confirm timeout '$timeout' (whole seconds, 30-3600)"
  fi
  [[ "$staging" == /* ]] || die "staging path must be absolute"
  require_root activate.sh
  umask 077
  # A dropped SSH session must not kill us half way: ignore SIGHUP (sshd/pty)
  # and SIGPIPE (closed stdout/stderr); output helpers never fail.
  trap '' HUP PIPE

  # --- 1. verify and copy the staged bundle -------------------------------
  [[ -d "$staging" && ! -L "$staging" ]] || die "staged bundle $staging is not a directory"
  local owner mode
  owner="$(stat -c %U -- "$staging")"
  mode="$(stat -c %a -- "$staging")"
  if [[ "$owner" != root && ( -z "${SUDO_USER:-}" || "$owner" != "$SUDO_USER" ) ]]; then
    die "staged bundle $staging is owned by $owner, not ${SUDO_USER:-root} or root"
  fi
  if (( (8#$mode & 8#022) != 0 )); then
    die "staged bundle $staging is group/world-writable (mode $mode)"
  fi

  take_lock
  local bundle="$BORG_BUNDLES_DIR/$hash" tmp
  tmp="$(mktemp -d "$BORG_BUNDLES_DIR/.tmp-$hash.XXXXXX")"
  # shellcheck disable=SC2064 # expand $tmp now
  trap "rm -rf -- '$tmp'" EXIT
  cp -R --no-preserve=all -- "$staging/." "$tmp/"
  verify_bundle "$tmp" "$hash"
  if [[ -d "$bundle" ]]; then
    # Same hash, already copied by an earlier run: keep it if still intact.
    if (verify_bundle "$bundle" "$hash") 2>/dev/null; then
      rm -rf -- "$tmp"
    else
      rm -rf -- "$bundle"
      mv -T -- "$tmp" "$bundle"
    fi
  else
    mv -T -- "$tmp" "$bundle"
  fi
  trap - EXIT

  # --- 2. idempotence -------------------------------------------------------
  local cur confirmed="$BORG_DEPLOY_DIR/confirmed"
  cur="$(current_system)"
  if [[ -f "$confirmed" && "$(kv_get "$confirmed" hash)" == "$hash" &&
        -n "$cur" && "$(kv_get "$confirmed" system)" == "$cur" ]]; then
    say "$hash already active ($cur)"
    return 0
  fi
  release_lock

  # --- 3. build (changes nothing on the running system; not under the lock) --
  # system.nix fetches the nixpkgs revision pinned in the bundle (pin.json):
  # no <nixpkgs> lookup, so NIX_PATH and channels on the node do not matter.
  log "building the system for bundle $hash"
  local out new
  if ! out="$(nix-build "$bundle/system.nix" -A system --no-out-link)"; then
    die "build failed for bundle $hash; nothing changed"
  fi
  new="$(printf '%s\n' "$out" | sed '/^$/d' | tail -n 1)"
  if [[ "$new" != /* || ! -x "$new/bin/switch-to-configuration" ]]; then
    die "build of bundle $hash produced no system ('$new'); nothing changed"
  fi

  # --- 4. record, arm, switch -----------------------------------------------
  take_lock
  cur="$(current_system)"
  local old="$cur" pending="$BORG_DEPLOY_DIR/pending" inherited=0
  [[ -n "$old" && -x "$old/bin/switch-to-configuration" ]] ||
    die "cannot resolve the running system ($BORG_CURRENT_SYSTEM); not switching"
  if [[ -f "$pending" && "$(kv_get "$pending" new)" == "$cur" ]]; then
    # An earlier activation is still unconfirmed and running: the known-good
    # system to fall back to is the one it recorded, not the running one.
    old="$(kv_get "$pending" old)"
    inherited=1
  fi

  systemctl stop "$BORG_REVERT_UNIT.timer" "$BORG_REVERT_UNIT.service" >/dev/null 2>&1 || true
  systemctl reset-failed "$BORG_REVERT_UNIT.timer" "$BORG_REVERT_UNIT.service" >/dev/null 2>&1 || true

  kv_write "$pending" "node=$BORG_NODE" "hash=$hash" "old=$old" "new=$new" \
    "unit=$BORG_REVERT_UNIT" "time=$(now_utc)"

  local bash_bin
  bash_bin="$(readlink -f -- "$(command -v bash)")"
  if ! systemd-run --unit="$BORG_REVERT_UNIT" --on-active="${timeout}s" \
      --timer-property=AccuracySec=1s \
      "$bash_bin" "$bundle/node-scripts/revert.sh" "$BORG_NODE" "$hash" >&2; then
    if (( inherited )); then
      # The previous unconfirmed system is running with no timer left.
      do_revert "$BORG_NODE" "$hash" "revert timer could not be re-armed" || true
    else
      rm -f -- "$pending"
    fi
    die "could not arm the revert timer; not switching"
  fi

  log "switching to $new (switch-to-configuration test; previous: $old)"
  if ! run_switch "$new" test; then
    systemctl stop "$BORG_REVERT_UNIT.timer" >/dev/null 2>&1 || true
    if do_revert "$BORG_NODE" "$hash" "switch-to-configuration test failed"; then
      die "activation failed, reverted to $old"
    fi
    die "activation failed and reverting to $old failed too"
  fi
  say "activated $new; confirm within ${timeout}s or it reverts"
}

main "$@"; exit
