#!/usr/bin/env bash
# hass-gate.sh <node> <url> <owner> — run as root on the edge Pi after hass-mqtt.sh. Ready when
# Home Assistant answers on its API (manifest.json) and its MQTT entry is loaded (state "loaded":
# HA is connected to the broker with its user). Bounded; a timeout names the node, the service,
# the probe and the entry's last state.
# Test-only environment overrides: see ../lib.sh, gate.sh and hass-lib.sh.
set -euo pipefail

# shellcheck disable=SC2317 # called through wait_for
mqtt_loaded() {
  hass_mqtt_entries
  if jq -e 'any(.[]; .state == "loaded")' "$HASS_TMP/entries.json" >/dev/null; then return 0; fi
  jq -r 'if length == 0 then "no mqtt entry" else map("entry \(.entry_id): \(.state)\(if .reason then " (\(.reason))" else "" end)") | join(", ") end' "$HASS_TMP/entries.json"
  return 1
}

main() {
  local script_dir
  script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
  # shellcheck source-path=SCRIPTDIR source=../lib.sh
  source "$script_dir/../lib.sh"
  # shellcheck source-path=SCRIPTDIR source=gate.sh
  source "$script_dir/gate.sh"
  # shellcheck source-path=SCRIPTDIR source=hass-lib.sh
  source "$script_dir/hass-lib.sh"

  [[ $# -eq 3 ]] || die "usage: hass-gate.sh <node> <url> <owner>"
  check_node "$1"
  BORG_NODE="$1"
  [[ "$3" =~ ^[a-z_][a-z0-9_-]*$ ]] || die "hass: invalid owner name"
  require_root hass-gate.sh
  hass_init "$2"

  wait_for 600 hass "API answers on $2 (manifest.json)" hass_manifest
  hass_login "$3"
  wait_for 120 hass "mqtt entry loaded" mqtt_loaded
  say "hass: ready"
}

main "$@"; exit
