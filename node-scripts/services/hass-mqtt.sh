#!/usr/bin/env bash
# hass-mqtt.sh <node> <url> <broker> <port> <mqtt user> <owner> — run as root on the edge Pi
# (`sudo -n bash <bundle>/node-scripts/services/hass-mqtt.sh …`), after the Pi's MQTT gate.
# Home Assistant keeps its broker in a config entry it owns (YAML broker keys were removed), so
# this step drives HA's REST API, idempotently:
#   1. wait for the API (manifest.json);
#   2. onboarding: create <owner> with the generated password if HA has no user yet, else log in;
#   3. if an mqtt entry exists and was made by this step for the same broker, port, user and
#      password (a digest in $BORG_STATE_DIR/hass/mqtt-entry), stop: nothing changes;
#   4. otherwise remove the mqtt entries (MQTT is single-instance) and run the config flow with
#      broker, port, user and password (from the secrets dir) until HA creates the entry.
# Test-only environment overrides: see ../lib.sh (BORG_STATE_DIR, BORG_SECRETS_DIR, BORG_ROOT_UID),
# gate.sh and hass-lib.sh.
set -euo pipefail

main() {
  local script_dir
  script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
  # shellcheck source-path=SCRIPTDIR source=../lib.sh
  source "$script_dir/../lib.sh"
  # shellcheck source-path=SCRIPTDIR source=gate.sh
  source "$script_dir/gate.sh"
  # shellcheck source-path=SCRIPTDIR source=hass-lib.sh
  source "$script_dir/hass-lib.sh"

  [[ $# -eq 6 ]] || die "usage: hass-mqtt.sh <node> <url> <broker> <port> <mqtt user> <owner>"
  check_node "$1"
  BORG_NODE="$1"
  local url="$2" broker="$3" port="$4" user="$5" owner="$6"
  [[ "$broker" =~ ^[A-Za-z0-9.:-]+$ ]] || die "hass: invalid broker address"
  [[ "$port" =~ ^[0-9]+$ ]] || die "hass: broker port must be a number"
  [[ "$user" =~ ^[a-z_][a-z0-9_-]*$ && "$owner" =~ ^[a-z_][a-z0-9_-]*$ ]] || die "hass: invalid user name"
  require_root hass-mqtt.sh
  hass_init "$url"
  local password_file
  password_file="$(hass_secret hass-mqtt.password)"

  wait_for 600 hass "API answers on $url (manifest.json)" hass_manifest
  hass_login "$owner"

  # What the entry must hold; a digest only, so the marker carries no password.
  local marker="$BORG_STATE_DIR/hass/mqtt-entry" wanted
  wanted="$({ printf '%s\n' "$broker" "$port" "$user"; cat -- "$password_file"; } | sha256sum | cut -d' ' -f1)"
  hass_mqtt_entries
  local count
  count="$(jq 'length' "$HASS_TMP/entries.json")"
  if ((count > 0)) && [[ "$(kv_get "$marker" digest)" == "$wanted" ]]; then
    say "hass: mqtt entry for $user@$broker:$port is in place"
    return 0
  fi
  # Made by hand, for another broker, or with an older password: ours replaces it.
  local id
  while read -r id; do
    [[ "$id" =~ ^[A-Za-z0-9_-]+$ ]] || die "hass: unexpected config entry id"
    hass_call DELETE "/api/config/config_entries/entry/$id"
    hass_expect "removing the outdated mqtt entry $id (DELETE /api/config/config_entries/entry/<id>)" 200
    log "hass: removed the outdated mqtt entry $id"
  done < <(jq -r '.[].entry_id' "$HASS_TMP/entries.json")

  create_entry "$broker" "$port" "$user" "$password_file"
  ensure_state_dirs
  [[ -d "$BORG_STATE_DIR/hass" ]] || mkdir -m 0700 -- "$BORG_STATE_DIR/hass"
  kv_write "$marker" "digest=$wanted" || die "hass: could not write $marker"
  say "hass: mqtt entry for $user@$broker:$port created"
}

# create_entry BROKER PORT USER PASSWORD_FILE — HA's MQTT config flow, step by step (bounded).
create_entry() {
  local broker="$1" port="$2" user="$3" password_file="$4" flow="" step type
  jq -n '{handler: "mqtt", show_advanced_options: false}' >"$HASS_TMP/flow.json"
  hass_call POST /api/config/config_entries/flow "$HASS_TMP/flow.json"
  hass_expect "mqtt config flow: starting it (POST /api/config/config_entries/flow)" 200
  for step in 1 2 3 4; do
    type="$(hass_json '.type | strings')" || die "hass: mqtt config flow: unexpected answer: $(hass_response)"
    case "$type" in
      create_entry)
        return 0
        ;;
      abort)
        die "hass: mqtt config flow: aborted ($(hass_json '.reason // "no reason"'))"
        ;;
      menu)
        # Supervised installs offer the broker add-on first; the broker step is the manual one.
        hass_json '.menu_options | index("broker")' >/dev/null || die "hass: mqtt config flow: no broker step in the menu: $(hass_response)"
        flow="$(hass_json '.flow_id | strings')"
        jq -n '{next_step_id: "broker"}' >"$HASS_TMP/step.json"
        ;;
      form)
        flow="$(hass_json '.flow_id | strings')"
        if hass_json '.errors | length > 0' >/dev/null 2>&1; then
          die "hass: mqtt config flow: Home Assistant could not use $user@$broker:$port ($(hass_json '.errors | tostring')): is the broker up and the password installed?"
        fi
        [[ "$(hass_json '.step_id')" == broker ]] || die "hass: mqtt config flow: unexpected step $(hass_json '.step_id'): $(hass_response)"
        hass_private "$HASS_TMP/step.json"
        jq -n --arg broker "$broker" --argjson port "$port" --arg user "$user" --rawfile password "$password_file" \
          '{broker: $broker, port: $port, username: $user, password: ($password | rtrimstr("\n"))}' >"$HASS_TMP/step.json"
        ;;
      *)
        die "hass: mqtt config flow: unexpected result type '$type': $(hass_response)"
        ;;
    esac
    [[ "$flow" =~ ^[A-Za-z0-9_-]+$ ]] || die "hass: mqtt config flow: unexpected flow id"
    hass_call POST "/api/config/config_entries/flow/$flow" "$HASS_TMP/step.json"
    hass_expect "mqtt config flow: step $step (POST /api/config/config_entries/flow/<id>)" 200
  done
  [[ "$(hass_json '.type')" == create_entry ]] || die "hass: mqtt config flow: no entry after 4 steps: $(hass_response)"
}

main "$@"; exit
