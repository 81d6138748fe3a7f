#!/usr/bin/env bash
# confirm.sh <node> <hash> [<activate-urn>] — run as root on a FRESH SSH
# connection after activate.sh (`sudo -n bash $BORG_STATE_DIR/bundles/<hash>/node-scripts/confirm.sh …`).
# <activate-urn> only feeds the retry hint printed when the node already reverted:
# Pulumi recorded the activation as done, so a plain re-run would only re-confirm.
#  - already confirmed (no pending, same hash, same running system) → exit 0
#  - disarm the borg-revert timer FIRST, then require the running system to
#    still be the activated one (else the timer fired: fail)
#  - health gate: `systemctl is-system-running --wait` (bounded by
#    BORG_HEALTH_TIMEOUT, default 60 s) prints `running`, and sshd is active;
#    unhealthy → revert now and exit 1 naming the failed units
#  - healthy → make it the boot default (nix-env --set + switch-to-configuration
#    boot), record deploy/confirmed, drop pending, prune old bundles.
# Test-only environment overrides: see lib.sh.
set -euo pipefail

# health_problems — print why the system is unhealthy ("" when healthy).
health_problems() {
  local limit="$1" state units sshd_state
  local -a problems=()
  state="$(timeout "${limit}s" systemctl is-system-running --wait 2>/dev/null)" || true
  state="$(printf '%s\n' "$state" | sed '/^[[:space:]]*$/d' | tail -n 1 | tr -d '[:space:]')"
  case "$state" in
    running) ;;
    degraded)
      units="$(systemctl --failed --no-legend --plain 2>/dev/null |
        awk '{ u = ($1 == "●") ? $2 : $1; if (u != "") printf "%s%s", sep, u; sep = ", " }')" || true
      problems+=("failed units: ${units:-none listed}")
      ;;
    "") problems+=("system did not finish starting within ${limit}s") ;;
    *) problems+=("system is $state") ;;
  esac
  sshd_state="$(systemctl is-active sshd 2>/dev/null)" || true
  sshd_state="$(printf '%s' "$sshd_state" | tr -d '[:space:]')"
  [[ "$sshd_state" == active ]] || problems+=("sshd is ${sshd_state:-unknown}")
  local out="" p
  for p in "${problems[@]}"; do out+="${out:+; }$p"; done
  printf '%s' "$out"
}

# prune_bundles KEEP… — remove every bundle (and leftover temp copy) not kept.
prune_bundles() {
  local entry name keep
  shopt -s nullglob dotglob
  for entry in "$BORG_BUNDLES_DIR"/*; do
    name="${entry##*/}"
    for keep in "$@"; do
      [[ -n "$keep" && "$name" == "$keep" ]] && continue 2
    done
    rm -rf -- "$entry"
  done
  shopt -u nullglob dotglob
}

main() {
  local script_dir
  script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
  # shellcheck source-path=SCRIPTDIR source=lib.sh
  source "$script_dir/lib.sh"

  [[ $# -eq 2 || $# -eq 3 ]] || die "usage: confirm.sh <node> <hash> [<activate-urn>]"
  local retry="change the configuration (a new bundle re-runs every step), or retry this bundle with: pulumi up --replace <the node's -nixos-activate resource>"
  if [[ $# -eq 3 ]]; then
    [[ "$3" =~ ^urn:pulumi:[A-Za-z0-9_.:\$/-]+$ ]] || die "invalid activate URN"
    retry="change the configuration (a new bundle re-runs every step), or retry this bundle with: pulumi up --replace '$3'"
  fi
  check_node "$1"
  BORG_NODE="$1"
  check_hash "$2"
  local hash="$2" limit="${BORG_HEALTH_TIMEOUT:-60}"
  [[ "$limit" =~ ^[1-9][0-9]{0,4}$ ]] || die "invalid BORG_HEALTH_TIMEOUT '$limit'"
  require_root confirm.sh
  umask 077
  # Once the timer is disarmed nothing may stop us half way.
  trap '' HUP PIPE

  take_lock
  local pending="$BORG_DEPLOY_DIR/pending" confirmed="$BORG_DEPLOY_DIR/confirmed"
  local reverted="$BORG_DEPLOY_DIR/reverted" cur
  cur="$(current_system)"

  if [[ ! -f "$pending" ]]; then
    if [[ "$(kv_get "$confirmed" hash)" == "$hash" && -n "$cur" &&
          "$(kv_get "$confirmed" system)" == "$cur" ]]; then
      say "confirmed $cur (already)"
      return 0
    fi
    if [[ "$(kv_get "$reverted" hash)" == "$hash" ]]; then
      local reason
      reason="$(kv_get "$reverted" reason)"
      if [[ "$reason" == "timer fired" ]]; then
        die "reverted before confirm (timer fired); running $(kv_get "$reverted" old); $retry"
      fi
      die "activation of bundle $hash was already reverted (${reason:-unknown reason}); running $(kv_get "$reverted" old); $retry"
    fi
    die "no pending activation of bundle $hash to confirm"
  fi
  local p_hash old new
  p_hash="$(kv_get "$pending" hash)"
  old="$(kv_get "$pending" old)"
  new="$(kv_get "$pending" new)"
  [[ "$p_hash" == "$hash" ]] ||
    die "the pending activation is for bundle ${p_hash:-unknown}, not $hash"

  # Disarm first; a timer that cannot be stopped is a failure.
  systemctl stop "$BORG_REVERT_UNIT.timer" >/dev/null 2>&1 || true
  if systemctl is-active --quiet "$BORG_REVERT_UNIT.timer" 2>/dev/null; then
    die "could not disarm the $BORG_REVERT_UNIT timer"
  fi

  if [[ -z "$cur" || "$cur" != "$new" ]]; then
    # Not running what was activated (e.g. rebooted into the boot default):
    # never make the unconfirmed system the boot default; settle on the
    # recorded known-good system and record the revert.
    do_revert "$BORG_NODE" "$hash" "not running the activated system at confirm" || true
    die "not running the activated system at confirm (rebooted or reverted); running $(current_system), boot default unchanged; $retry"
  fi

  local problems
  problems="$(health_problems "$limit")"
  if [[ -n "$problems" ]]; then
    if do_revert "$BORG_NODE" "$hash" "health gate failed: $problems"; then
      die "health gate failed ($problems); reverted to $old"
    fi
    die "health gate failed ($problems); reverting to $old FAILED"
  fi

  log "healthy; making $new the boot default"
  nix-env -p "$BORG_SYSTEM_PROFILE" --set "$new" >&2 ||
    die "nix-env --set $new failed; $new runs but is not the boot default (re-run confirm)"
  run_switch "$new" boot ||
    die "switch-to-configuration boot failed; $new runs but may not be the boot default (re-run confirm)"

  local prev_hash previous
  prev_hash="$(kv_get "$confirmed" hash)"
  if [[ -n "$prev_hash" && "$prev_hash" != "$hash" ]]; then
    previous="$prev_hash"
  else
    previous="$(kv_get "$confirmed" previous)"
  fi
  kv_write "$confirmed" "node=$BORG_NODE" "hash=$hash" "system=$new" \
    "previous=$previous" "time=$(now_utc)"
  rm -f -- "$pending"
  prune_bundles "$hash" "$previous"
  say "confirmed $new"
}

main "$@"; exit
