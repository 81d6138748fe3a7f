#!/usr/bin/env bash
# collective-status.sh — run by the borg-collective-status timer on the edge Pi (a DynamicUser
# oneshot; see ../modules/services/home-assistant.nix). Looks at the collective from the Pi and
# publishes one JSON document, retained, QoS 1, to the local broker for Home Assistant's
# "Collective status" sensor:
#   {"state": "healthy|degraded|down", "problems": [...], "consul": {...}|null, "nats": {...}|null,
#    "node": "<pi>", "checked": "<UTC time>"}
# Consul (through the Pi's own agent, whose status endpoints need no ACL token): a leader is
# elected and every server is in the raft peer set. NATS (the Pi's leaf, monitoring on loopback):
# the leaf connection to the queen is up. "down": nothing of the collective is reachable from here.
# A problem in the collective is a normal report (exit 0); only a failed publish fails the unit.
#
# Environment (from the unit; the tests set the same):
#   BORG_NODE, BORG_STATUS_TOPIC, BORG_STATUS_MQTT_PORT, BORG_STATUS_MQTT_USER
#   BORG_STATUS_MQTT_HOST          default 127.0.0.1
#   BORG_STATUS_PASSWORD_FILE      default $CREDENTIALS_DIRECTORY/mqtt-password
#   BORG_STATUS_CONSUL_URL         unset: Consul is not checked
#   BORG_STATUS_CONSUL_SERVERS     the number of Consul servers expected in the peer set
#   BORG_STATUS_CONSUL_CACERT      default $CREDENTIALS_DIRECTORY/consul-ca when that exists
#   BORG_STATUS_NATS_URL           unset: NATS is not checked
set -euo pipefail

node="${BORG_NODE:?}"
topic="${BORG_STATUS_TOPIC:?}"
host="${BORG_STATUS_MQTT_HOST:-127.0.0.1}"
port="${BORG_STATUS_MQTT_PORT:?}"
user="${BORG_STATUS_MQTT_USER:?}"
password_file="${BORG_STATUS_PASSWORD_FILE:-${CREDENTIALS_DIRECTORY:-/nonexistent}/mqtt-password}"
cacert="${BORG_STATUS_CONSUL_CACERT:-}"
if [[ -z "$cacert" && -r "${CREDENTIALS_DIRECTORY:-/nonexistent}/consul-ca" ]]; then cacert="$CREDENTIALS_DIRECTORY/consul-ca"; fi

problems=()
reachable=0
consul=null
nats=null

consul_get() {
  curl -sf --max-time 5 ${cacert:+--cacert "$cacert"} -- "$BORG_STATUS_CONSUL_URL$1"
}

if [[ -n "${BORG_STATUS_CONSUL_URL:-}" ]]; then
  expected="${BORG_STATUS_CONSUL_SERVERS:?}"
  if answer="$(consul_get /v1/status/leader)" && leader="$(jq -er 'if type == "string" then . else error end' <<<"$answer")"; then
    servers=0
    if peers="$(consul_get /v1/status/peers)"; then servers="$(jq 'if type == "array" then length else 0 end' <<<"$peers")"; fi
    if [[ -z "$leader" ]]; then
      problems+=("consul: no leader elected")
    else
      reachable=$((reachable + 1))
      ((servers >= expected)) || problems+=("consul: $servers of $expected servers in the raft peer set")
    fi
    consul="$(jq -cn --arg leader "$leader" --argjson servers "$servers" --argjson expected "$expected" '{leader: $leader, servers: $servers, expected: $expected}')"
  else
    problems+=("consul: the local agent does not answer")
  fi
fi

if [[ -n "${BORG_STATUS_NATS_URL:-}" ]]; then
  if answer="$(curl -sf --max-time 5 -- "$BORG_STATUS_NATS_URL/leafz")" && leafnodes="$(jq -er '.leafnodes | numbers' <<<"$answer")"; then
    if ((leafnodes >= 1)); then reachable=$((reachable + 1)); else problems+=("nats: the leaf is not connected to the queen"); fi
    nats="$(jq -cn --argjson leafnodes "$leafnodes" '{leafnodes: $leafnodes}')"
  else
    problems+=("nats: the leaf's monitoring endpoint does not answer")
  fi
fi

if ((${#problems[@]} == 0)); then
  state=healthy
elif ((reachable == 0)); then
  state=down
else
  state=degraded
fi

document="$(
  printf '%s\n' "${problems[@]+"${problems[@]}"}" | jq -cRn \
    --arg state "$state" --arg node "$node" --arg checked "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --argjson consul "$consul" --argjson nats "$nats" \
    '{state: $state, problems: [inputs | select(. != "")], consul: $consul, nats: $nats, node: $node, checked: $checked}'
)"

# The password goes to mosquitto_pub through its options file, never its command line.
[[ -r "$password_file" ]] || { echo "collective-status: $password_file is not readable" >&2; exit 1; }
config_home="$(mktemp -d)"
trap 'rm -rf -- "$config_home"' EXIT
(umask 077 && printf -- '-u %s\n-P %s\n' "$user" "$(cat -- "$password_file")" >"$config_home/mosquitto_pub")
XDG_CONFIG_HOME="$config_home" mosquitto_pub -h "$host" -p "$port" -q 1 -r -t "$topic" -m "$document"
echo "$document"
