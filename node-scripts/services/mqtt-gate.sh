#!/usr/bin/env bash
# mqtt-gate.sh <node> <local port> [<bridge client id>] — run as root on a broker node
# (`sudo -n bash <bundle>/node-scripts/services/mqtt-gate.sh …`), after its confirm.
# Ready when the broker answers the generated probe user on loopback (a `$SYS` read), and, on an
# edge broker, when its bridge to the queen reports itself connected
# (`$SYS/broker/connection/<client id>/state` = 1). The probe's password stays in a private
# options file: never on a command line.
# Test-only environment overrides: see ../lib.sh (BORG_SECRETS_DIR, BORG_ROOT_UID) and gate.sh.
set -euo pipefail

# shellcheck disable=SC2317 # called through wait_for
probe() {
  mosquitto_sub -h 127.0.0.1 -p "$port" -C 1 -W 5 "$@"
}

# shellcheck disable=SC2317 # called through wait_for
bridge_connected() {
  [[ "$(probe -t "\$SYS/broker/connection/$1/state")" == 1 ]]
}

main() {
  local script_dir
  script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
  # shellcheck source-path=SCRIPTDIR source=../lib.sh
  source "$script_dir/../lib.sh"
  # shellcheck source-path=SCRIPTDIR source=gate.sh
  source "$script_dir/gate.sh"

  [[ $# -eq 2 || $# -eq 3 ]] || die "usage: mqtt-gate.sh <node> <local port> [<bridge client id>]"
  check_node "$1"
  BORG_NODE="$1"
  port="$2"
  [[ "$port" =~ ^[0-9]+$ ]] || die "mqtt: port must be a number"
  require_root mqtt-gate.sh

  local password_file="$BORG_SECRETS_DIR/mqtt-borg-probe.password" config_home
  [[ -r "$password_file" ]] || die "mqtt: $password_file is missing: were the secrets installed?"
  config_home="$(mktemp -d)"
  # shellcheck disable=SC2064 # expand now: the directory is known
  trap "rm -rf -- '$config_home'" EXIT
  # mosquitto_sub reads its default options from $XDG_CONFIG_HOME/mosquitto_sub.
  (umask 077 && printf -- '-u borg-probe\n-P %s\n' "$(cat -- "$password_file")" >"$config_home/mosquitto_sub")
  export XDG_CONFIG_HOME="$config_home"

  wait_for 120 mqtt "broker answers the probe user on 127.0.0.1:$port" probe -t "\$SYS/broker/version"
  if [[ $# -eq 3 ]]; then
    wait_for 180 mqtt "bridge $3 connected to the queen" bridge_connected "$3"
  fi
  say "mqtt: ready"
}

main "$@"; exit
