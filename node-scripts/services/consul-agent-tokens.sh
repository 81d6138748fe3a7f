#!/usr/bin/env bash
# consul-agent-tokens.sh <node> <datacenter> — run as root on the first Consul server after the
# servers' gate; stdin: one line per node of the stack, `<name> <accessor-id> <secret-id>`.
# Makes sure each node has exactly one agent token, a node identity `<name>:<datacenter>`, with
# the AccessorID and SecretID Pulumi generated (the SecretID is already in that node's secret
# config file): created when missing, re-created when its SecretID changed (rotation), left
# alone when it matches. Tokens this step made for nodes no longer in the stack are deleted.
# Safe to re-run. SecretIDs never reach a command line, stdout or stderr.
#   BORG_CONSUL_GATE_TIMEOUT  seconds to wait for the ACL system (default 300)
set -euo pipefail
set +x

DESCRIPTION="borg agent token for"

main() {
  local dir
  dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
  # shellcheck source-path=SCRIPTDIR source=../lib.sh
  source "$dir/../lib.sh"
  # shellcheck source-path=SCRIPTDIR source=gate.sh
  source "$dir/gate.sh"
  # shellcheck source-path=SCRIPTDIR source=consul-lib.sh
  source "$dir/consul-lib.sh"

  [[ $# -eq 2 ]] || die "usage: consul-agent-tokens.sh <node> <datacenter>  (records on stdin)"
  check_node "$1"
  BORG_NODE="$1"
  local dc="$2"
  [[ "$dc" =~ ^[a-z0-9-]+$ ]] || die "consul: invalid datacenter name"
  require_root consul-agent-tokens.sh

  # --- read and validate everything first ---------------------------------------------------
  local uuid='[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
  local re="^([a-z0-9-]+) ($uuid) ($uuid)\$"
  local -a names=() accessors=() secrets=()
  local line n=0
  while IFS= read -r line || [[ -n "$line" ]]; do
    n=$((n + 1))
    [[ -z "$line" ]] && continue
    [[ "$line" =~ $re ]] || die "consul: token record on line $n is malformed (expected '<node> <accessor-uuid> <secret-uuid>')"
    names+=("${BASH_REMATCH[1]}")
    accessors+=("${BASH_REMATCH[2]}")
    secrets+=("${BASH_REMATCH[3]}")
  done
  [[ ${#names[@]} -gt 0 ]] || die "consul: no token records on stdin"

  consul_load || die "consul: no Consul on $BORG_NODE ($BORG_CONSUL_ENV is missing)"
  consul_management_token
  wait_for "${BORG_CONSUL_GATE_TIMEOUT:-300}" consul "ACL system takes the management token" probe_management

  umask 077
  local request
  request="$(mktemp)"
  # shellcheck disable=SC2064 # expand now
  trap "rm -f -- '$request' '$CONSUL_BODY'" EXIT

  consul_api GET /v1/acl/tokens >/dev/null || die "consul: listing tokens failed"
  [[ "$CONSUL_STATUS" == 200 ]] || die "consul: listing tokens: $(consul_error)"
  # Stubs only (accessor, description): the list answer carries no SecretID we print.
  local listing
  listing="$(jq -c '[.[] | {AccessorID, Description}]' -- "$CONSUL_BODY")"

  local i created=0 rotated=0 unchanged=0 revoked=0 current
  for i in "${!names[@]}"; do
    local name="${names[$i]}" accessor="${accessors[$i]}"
    if jq -e --arg a "$accessor" 'any(.[]; .AccessorID == $a)' <<<"$listing" >/dev/null; then
      consul_api GET "/v1/acl/token/$accessor" >/dev/null || die "consul: reading the token of $name failed"
      [[ "$CONSUL_STATUS" == 200 ]] || die "consul: reading the token of $name: HTTP $CONSUL_STATUS"
      current="$(jq -r '.SecretID // ""' -- "$CONSUL_BODY")"
      if [[ "$current" == "${secrets[$i]}" ]] &&
         jq -e --arg n "$name" --arg dc "$dc" '.NodeIdentities == [{NodeName: $n, Datacenter: $dc}]' -- "$CONSUL_BODY" >/dev/null; then
        unchanged=$((unchanged + 1))
        continue
      fi
      # A SecretID cannot change in place: replace the token under the same AccessorID.
      consul_api DELETE "/v1/acl/token/$accessor" >/dev/null || die "consul: deleting the old token of $name failed"
      [[ "$CONSUL_STATUS" == 200 ]] || die "consul: deleting the old token of $name: $(consul_error)"
      rotated=$((rotated + 1))
    else
      created=$((created + 1))
    fi
    # Built with printf (a builtin): the SecretID never appears in a process's arguments.
    printf '{"AccessorID":"%s","SecretID":"%s","Description":"%s %s","NodeIdentities":[{"NodeName":"%s","Datacenter":"%s"}],"Local":false}\n' \
      "$accessor" "${secrets[$i]}" "$DESCRIPTION" "$name" "$name" "$dc" >"$request"
    consul_api PUT /v1/acl/token token "$request" >/dev/null || die "consul: creating the token of $name failed"
    [[ "$CONSUL_STATUS" == 200 ]] || die "consul: creating the token of $name: HTTP $CONSUL_STATUS"
    log "consul: agent token of $name ($accessor) written"
  done

  # Tokens this step made for nodes that left the stack.
  local stale accessor
  stale="$(jq -r --arg d "$DESCRIPTION " --argjson keep "$(printf '%s\n' "${accessors[@]}" | jq -R . | jq -s .)" \
    '.[] | select((.Description // "") | startswith($d)) | select(.AccessorID as $a | $keep | index($a) | not) | .AccessorID' <<<"$listing")"
  for accessor in $stale; do
    [[ "$accessor" =~ ^$uuid$ ]] || continue
    consul_api DELETE "/v1/acl/token/$accessor" >/dev/null || die "consul: deleting stale token $accessor failed"
    [[ "$CONSUL_STATUS" == 200 ]] || die "consul: deleting stale token $accessor: $(consul_error)"
    log "consul: deleted the agent token $accessor of a node no longer in the stack"
    revoked=$((revoked + 1))
  done

  say "consul: agent tokens: $created created, $rotated rotated, $unchanged unchanged, $revoked revoked"
}

main "$@"
