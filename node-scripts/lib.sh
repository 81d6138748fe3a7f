# shellcheck shell=bash
# shellcheck disable=SC2034 # variables used by the scripts that source this
# Shared helpers for the node scripts that run as root on a NixOS node
# (install-secrets.sh, activate.sh, confirm.sh, revert.sh). Sourced, never run.
# preflight.sh is sent alone over SSH and therefore does NOT use this file.
#
# Paths. The environment overrides below exist ONLY for the test suite
# (test/node-scripts.test.ts); in production sudo resets the environment and
# the defaults apply:
#   BORG_STATE_DIR       default /var/lib/borg
#   BORG_SECRETS_DIR     default $BORG_STATE_DIR/secrets (= /var/lib/borg/secrets)
#   BORG_CURRENT_SYSTEM  default /run/current-system
#   BORG_SYSTEM_PROFILE  default /nix/var/nix/profiles/system
#   BORG_HEALTH_TIMEOUT  default 60 (seconds; confirm.sh health gate)
#   BORG_ROOT_UID        default 0: the uid the scripts insist on (require_root);
#                        the tests set their own uid so they run as any user
#
# State layout (root-owned):
#   $BORG_STATE_DIR/bundles/<hash>/   verified copies of staged bundles
#   $BORG_STATE_DIR/deploy/pending    activation awaiting confirm (node, hash, old, new, unit)
#   $BORG_STATE_DIR/deploy/confirmed  last confirmed activation (node, hash, system, previous, time)
#   $BORG_STATE_DIR/deploy/reverted   last revert (node, hash, old, new, reason, time)
#   $BORG_STATE_DIR/deploy/lock       flock taken by activate/confirm/revert
#   $BORG_STATE_DIR/deploy/switch.log output of the last switch-to-configuration

BORG_STATE_DIR="${BORG_STATE_DIR:-/var/lib/borg}"
BORG_SECRETS_DIR="${BORG_SECRETS_DIR:-$BORG_STATE_DIR/secrets}"
BORG_CURRENT_SYSTEM="${BORG_CURRENT_SYSTEM:-/run/current-system}"
BORG_SYSTEM_PROFILE="${BORG_SYSTEM_PROFILE:-/nix/var/nix/profiles/system}"
BORG_BUNDLES_DIR="$BORG_STATE_DIR/bundles"
BORG_DEPLOY_DIR="$BORG_STATE_DIR/deploy"
BORG_REVERT_UNIT="borg-revert"
# The revert timer runs us as a transient systemd service whose default PATH
# holds no NixOS directory; append them (existing entries keep precedence).
PATH="${PATH:+$PATH:}/run/current-system/sw/bin:/run/wrappers/bin"
export PATH
# Set by each script before anything can fail; used in every message.
BORG_NODE="${BORG_NODE:-?}"

# log MESSAGE… — one line on stderr, prefixed with the node. Never fails (the
# SSH session may be gone: SIGPIPE is ignored by activate/confirm).
log() {
  printf 'borg: %s: %s\n' "$BORG_NODE" "$*" >&2 2>/dev/null || true
}

# say MESSAGE… — the result line on stdout. Never fails.
say() {
  printf 'borg: %s: %s\n' "$BORG_NODE" "$*" 2>/dev/null || true
}

# journal MESSAGE… — log to stderr and, when available, to the journal.
journal() {
  log "$@"
  if command -v logger >/dev/null 2>&1; then
    logger -t borg -- "$BORG_NODE: $*" >/dev/null 2>&1 || true
  fi
}

die() {
  log "$@"
  exit 1
}

# require_root SCRIPT — refuse to run as anyone but root (uid $BORG_ROOT_UID).
require_root() {
  local want="${BORG_ROOT_UID:-0}"
  [[ "$want" =~ ^[0-9]+$ ]] || die "invalid BORG_ROOT_UID '$want'"
  [[ "$(id -u)" -eq "$want" ]] || die "$1 must run as root (sudo)"
}

# check_node NAME — node names are [a-z0-9-]+.
check_node() {
  [[ "${1:-}" =~ ^[a-z0-9-]+$ ]] || die "invalid node name (expected [a-z0-9-]+)"
}

# check_hash HASH — bundle hashes are 64 lowercase hex digits.
check_hash() {
  [[ "${1:-}" =~ ^[0-9a-f]{64}$ ]] || die "invalid bundle hash (expected 64 lowercase hex digits)"
}

# kv_get FILE KEY — print the value of KEY from a key=value file ("" if absent).
kv_get() {
  local file="$1" key="$2" line
  [[ -f "$file" ]] || return 0
  while IFS= read -r line || [[ -n "$line" ]]; do
    if [[ "$line" == "$key="* ]]; then
      printf '%s\n' "${line#"$key="}"
      return 0
    fi
  done <"$file"
}

# kv_write FILE KEY=VALUE… — replace FILE atomically with the given lines.
kv_write() {
  local file="$1" tmp
  shift
  # Explicit checks: callers may run this with errexit suspended (in `if`).
  tmp="$(mktemp "$file.tmp.XXXXXX")" || return 1
  if ! { printf '%s\n' "$@" >"$tmp" && chmod 0600 -- "$tmp" && mv -f -T -- "$tmp" "$file"; }; then
    rm -f -- "$tmp"
    return 1
  fi
}

# current_system — the fully resolved running system ("" if unresolvable).
current_system() {
  readlink -f -- "$BORG_CURRENT_SYSTEM" 2>/dev/null || true
}

now_utc() {
  date -u +%Y-%m-%dT%H:%M:%SZ
}

# ensure_state_dirs — create the root-owned state layout if missing.
ensure_state_dirs() {
  local d
  if [[ ! -d "$BORG_STATE_DIR" ]]; then
    (umask 022 && mkdir -p -- "$BORG_STATE_DIR")
    # 0711: services must traverse it to reach their files in secrets/.
    chmod 0711 -- "$BORG_STATE_DIR"
  fi
  for d in "$BORG_BUNDLES_DIR" "$BORG_DEPLOY_DIR"; do
    [[ -d "$d" ]] || mkdir -m 0700 -- "$d"
  done
}

# take_lock — serialise the steps that read or change deploy state
# (activate/confirm/revert) on this node. Held on fd 9 until release_lock or
# exit. Nothing slow (like a build) runs under it.
take_lock() {
  ensure_state_dirs
  exec 9>>"$BORG_DEPLOY_DIR/lock"
  if ! flock -w 900 9; then
    die "another borg deploy step holds $BORG_DEPLOY_DIR/lock"
  fi
}

release_lock() {
  flock -u 9
}

# run_switch SYSTEM ACTION — run SYSTEM/bin/switch-to-configuration ACTION with
# its output in a log file (a vanished SSH session must not kill it mid-switch),
# then replay that log on stderr. Returns the switch's exit status.
run_switch() {
  local system="$1" action="$2" logf="$BORG_DEPLOY_DIR/switch.log" rc=0
  : >"$logf"
  "$system/bin/switch-to-configuration" "$action" >"$logf" 2>&1 </dev/null || rc=$?
  cat -- "$logf" >&2 2>/dev/null || true
  return "$rc"
}

# do_revert NODE HASH REASON — the revert routine (revert.sh wraps it; activate.sh and
# confirm.sh call it directly because they already hold the lock).
# Goes back to the "old" system recorded in pending with
# `switch-to-configuration test`; never touches the boot default.
do_revert() {
  local node="$1" hash="$2" reason="$3" pending="$BORG_DEPLOY_DIR/pending"
  local p_hash old new cur
  if [[ ! -f "$pending" ]]; then
    journal "revert $hash: no pending activation, nothing to do"
    return 0
  fi
  p_hash="$(kv_get "$pending" hash)"
  old="$(kv_get "$pending" old)"
  new="$(kv_get "$pending" new)"
  if [[ "$p_hash" != "$hash" ]]; then
    journal "revert $hash: the pending activation is for ${p_hash:-unknown}, leaving it alone"
    return 0
  fi
  if [[ -z "$old" || ! -x "$old/bin/switch-to-configuration" ]]; then
    journal "revert $hash: recorded old system '${old}' is not a NixOS system; cannot revert"
    return 1
  fi
  cur="$(current_system)"
  if [[ "$cur" != "$old" ]]; then
    journal "reverting ${cur:-unknown} -> $old (switch-to-configuration test)"
    if ! run_switch "$old" test; then
      journal "revert $hash: switching back to $old FAILED"
      return 1
    fi
  fi
  kv_write "$BORG_DEPLOY_DIR/reverted" \
    "node=$node" "hash=$hash" "old=$old" "new=$new" "reason=$reason" "time=$(now_utc)" ||
    journal "revert $hash: could not write $BORG_DEPLOY_DIR/reverted"
  rm -f -- "$pending" || { journal "revert $hash: could not remove $pending"; return 1; }
  journal "reverted to $old (activation $hash abandoned: $reason)"
  return 0
}
