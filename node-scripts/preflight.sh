#!/usr/bin/env bash
# preflight.sh <node> <hash> <staging> — run as the deploy user, sent alone on
# stdin (`bash -s -- <node> <hash> <staging>`), so it is self-contained and
# does NOT source lib.sh.
# Checks: NixOS marker, passwordless sudo, nix-build and systemctl on PATH, at
# least 1 GiB free under /nix. Then removes a stale <staging> (the bundle copy
# that follows must land fresh) and makes sure its parent exists (0700).
# Prints `borg: <node>: ready`; any failure is one line naming the node.
# Test-only environment override: BORG_NIXOS_MARKER (default /etc/NIXOS).
set -euo pipefail

main() {
  local node="${1:-}" hash="${2:-}" staging="${3:-}"
  local marker="${BORG_NIXOS_MARKER:-/etc/NIXOS}"
  fail() {
    printf 'borg: %s: %s\n' "${node:-?}" "$*" >&2
    exit 1
  }
  [[ $# -eq 3 ]] || fail "preflight: usage: bash -s -- <node> <hash> <staging>"
  [[ "$node" =~ ^[a-z0-9-]+$ ]] || { node="?"; fail "preflight: invalid node name"; }
  [[ "$hash" =~ ^[0-9a-f]{64}$ ]] || fail "preflight: invalid bundle hash"
  # Only ever delete a path shaped like <home>/.borg/staging/<hash>.
  if [[ "$staging" != /*/.borg/staging/"$hash" || "/$staging/" == */../* || "/$staging/" == */./* ]]; then
    fail "preflight: staging path must be <home>/.borg/staging/<hash>"
  fi

  [[ -e "$marker" ]] || fail "not a NixOS host ($marker missing)"
  sudo -n true </dev/null >/dev/null 2>&1 || fail "passwordless sudo is not available (sudo -n true failed)"
  command -v nix-build >/dev/null 2>&1 || fail "nix-build not found on PATH"
  command -v systemctl >/dev/null 2>&1 || fail "systemctl not found on PATH"

  local df_out avail_kb need_kb=$((1024 * 1024))
  df_out="$(df -Pk /nix 2>/dev/null)" || fail "cannot read free space under /nix (df failed)"
  avail_kb="$(printf '%s\n' "$df_out" | awk 'NR == 2 { print $4 }')"
  [[ "$avail_kb" =~ ^[0-9]+$ ]] || fail "cannot read free space under /nix (unexpected df output)"
  if (( avail_kb < need_kb )); then
    fail "only $((avail_kb / 1024)) MiB free under /nix, need at least 1024 MiB"
  fi

  if [[ -e "$staging" || -L "$staging" ]]; then
    rm -rf -- "$staging" || fail "cannot remove stale staging dir $staging"
  fi
  local parent
  parent="$(dirname -- "$staging")"
  { mkdir -p -- "$parent" && chmod 0700 -- "$parent"; } || fail "cannot create $parent"
  printf 'borg: %s: ready\n' "$node"
}

main "$@"; exit
