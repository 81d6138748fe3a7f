#!/usr/bin/env bash
# revert.sh <node> <hash> — run as root by the borg-revert timer (armed by
# activate.sh) when no confirm arrived in time.
# Reads $BORG_STATE_DIR/deploy/pending; if the running system is not the
# recorded old one, runs `<old>/bin/switch-to-configuration test`; records
# deploy/reverted (hash, time) and removes pending. Never touches the boot
# default (activate.sh never changed it). Logs to stderr and `logger -t borg`.
# (activate.sh and confirm.sh run the same routine, do_revert in lib.sh,
# in-process because they already hold the state lock.)
# Test-only environment overrides: see lib.sh.
set -euo pipefail

main() {
  local script_dir
  script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
  # shellcheck source-path=SCRIPTDIR source=lib.sh
  source "$script_dir/lib.sh"

  [[ $# -eq 2 ]] || die "usage: revert.sh <node> <hash>"
  check_node "$1"
  BORG_NODE="$1"
  check_hash "$2"
  local hash="$2"
  umask 077
  require_root revert.sh

  take_lock
  do_revert "$BORG_NODE" "$hash" "timer fired"
}

main "$@"; exit
