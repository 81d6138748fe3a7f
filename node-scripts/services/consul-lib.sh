# shellcheck shell=bash
# The Consul API for the consul-*.sh steps. Sourced after ../lib.sh and gate.sh, never run.
# Every call goes to the agent on this node (loopback), with the CA the node got; a token goes
# to curl through a process-substitution config file, never on a command line.
#   BORG_CONSUL_ENV  the Consul API environment of the running system (default
#                    /etc/borg/consul.env, written by nix/modules/services/consul.nix): a guard
#                    before a switch talks to the agent as it runs now. Tests point it elsewhere.

BORG_CONSUL_ENV="${BORG_CONSUL_ENV:-/etc/borg/consul.env}"
CONSUL_ADDR=""
CONSUL_CA=""
CONSUL_SECRETS=""
CONSUL_TOKEN=""
CONSUL_BODY=""
CONSUL_STATUS=""

# consul_load — read the API environment; returns 1 when the running system has no Consul.
consul_load() {
  [[ -f "$BORG_CONSUL_ENV" ]] || return 1
  CONSUL_ADDR="$(kv_get "$BORG_CONSUL_ENV" CONSUL_HTTP_ADDR)"
  CONSUL_CA="$(kv_get "$BORG_CONSUL_ENV" CONSUL_CACERT)"
  CONSUL_SECRETS="$(kv_get "$BORG_CONSUL_ENV" BORG_CONSUL_SECRETS)"
  [[ "$CONSUL_ADDR" =~ ^https?://127\.0\.0\.1:[0-9]+$ ]] ||
    die "consul: $BORG_CONSUL_ENV: CONSUL_HTTP_ADDR '$CONSUL_ADDR' is not the agent's loopback API"
  if [[ "$CONSUL_ADDR" == https://* && -z "$CONSUL_CA" ]]; then
    die "consul: $BORG_CONSUL_ENV: an https API needs CONSUL_CACERT"
  fi
  CONSUL_BODY="$(mktemp)"
  # shellcheck disable=SC2064 # expand now: the path is fixed
  trap "rm -f -- '$CONSUL_BODY'" EXIT
  return 0
}

# consul_management_token — the management token from the secret config file (servers hold it;
# the first server's copy is what the cross-node steps use). Never printed.
consul_management_token() {
  [[ -n "$CONSUL_SECRETS" && -r "$CONSUL_SECRETS" ]] || die "consul: cannot read the secret config ${CONSUL_SECRETS:-(unset)}"
  CONSUL_TOKEN="$(jq -r '.acl.tokens.initial_management // empty' -- "$CONSUL_SECRETS" 2>/dev/null)" || CONSUL_TOKEN=""
  [[ -n "$CONSUL_TOKEN" ]] || die "consul: $CONSUL_SECRETS holds no management token (is $BORG_NODE a Consul server?)"
}

# consul_api METHOD PATH [token|anonymous] [BODY-FILE] — one request to the local agent. The
# response body lands in $CONSUL_BODY, the HTTP status in $CONSUL_STATUS. Returns 1 when no
# HTTP answer came (agent down, TLS failure), with curl's message on stdout.
consul_api() {
  local method="$1" path="$2" auth="${3:-token}" body="${4:-}" status
  local -a args=(-sS --max-time 10 -X "$method" -o "$CONSUL_BODY" -w '%{http_code}')
  [[ -n "$CONSUL_CA" ]] && args+=(--cacert "$CONSUL_CA")
  [[ -n "$body" ]] && args+=(-H 'Content-Type: application/json' --data-binary "@$body")
  : >"$CONSUL_BODY"
  if [[ "$auth" == token ]]; then
    status="$(curl "${args[@]}" -K <(printf 'header = "X-Consul-Token: %s"\n' "$CONSUL_TOKEN") -- "$CONSUL_ADDR$path" 2>&1)" || {
      printf '%s %s: %s\n' "$method" "$path" "$status"
      return 1
    }
  else
    status="$(curl "${args[@]}" -- "$CONSUL_ADDR$path" 2>&1)" || {
      printf '%s %s: %s\n' "$method" "$path" "$status"
      return 1
    }
  fi
  CONSUL_STATUS="$status"
}

# consul_error — the status and the start of a non-2xx body, for messages. Only for endpoints
# whose error bodies hold no secret (Consul answers errors in plain text).
consul_error() {
  printf 'HTTP %s: %s' "$CONSUL_STATUS" "$(head -c 200 -- "$CONSUL_BODY" | tr '\n' ' ')"
}

# csv_names CSV — validate a comma-separated list of node names (dies on a bad one).
csv_names() {
  [[ "$1" =~ ^[a-z0-9-]+(,[a-z0-9-]+)*$ ]] || die "consul: invalid node list '$1' (expected name,name,…)"
}

# --- probes (wait_for runs them in a subshell: exit status + one line of output) ---------------

probe_leader() {
  consul_api GET /v1/status/leader anonymous || return 1
  local leader
  leader="$(jq -r '. // ""' -- "$CONSUL_BODY" 2>/dev/null || true)"
  if [[ "$CONSUL_STATUS" != 200 || -z "$leader" ]]; then
    printf 'no leader yet (%s)\n' "$(consul_error)"
    return 1
  fi
  printf 'leader %s\n' "$leader"
}

# probe_voters CSV — every named server is a raft voter and the peer set has a leader.
probe_voters() {
  consul_api GET /v1/operator/raft/configuration || return 1
  [[ "$CONSUL_STATUS" == 200 ]] || { printf 'raft configuration: %s\n' "$(consul_error)"; return 1; }
  local missing
  missing="$(jq -r --arg want "$1" '
    [.Servers[] | select(.Voter) | .Node] as $voters
    | ($want | split(",")) - $voters | join(",")' -- "$CONSUL_BODY")"
  if [[ -n "$missing" ]]; then
    printf 'not raft voters: %s (peers: %s)\n' "$missing" "$(jq -c '[.Servers[] | {Node, Voter, Leader}]' -- "$CONSUL_BODY")"
    return 1
  fi
  jq -e '[.Servers[] | select(.Leader)] | length == 1' -- "$CONSUL_BODY" >/dev/null || { echo "raft peer set has no leader"; return 1; }
  printf 'voters: %s\n' "$1"
}

# probe_autopilot — autopilot calls the peer set healthy (HTTP 200; 429 means unhealthy).
probe_autopilot() {
  consul_api GET /v1/operator/autopilot/health || return 1
  if [[ "$CONSUL_STATUS" == 200 ]] && jq -e '.Healthy == true' -- "$CONSUL_BODY" >/dev/null 2>&1; then
    printf 'healthy, failure tolerance %s\n' "$(jq -r '.FailureTolerance' -- "$CONSUL_BODY")"
    return 0
  fi
  if jq -e '.Servers' -- "$CONSUL_BODY" >/dev/null 2>&1; then
    printf 'unhealthy: %s\n' "$(jq -c '[.Servers[] | select(.Healthy | not) | {Name, SerfStatus, Voter}]' -- "$CONSUL_BODY")"
  else
    printf 'autopilot health: %s\n' "$(consul_error)"
  fi
  return 1
}

# probe_members CSV — every named node is a LAN member with status alive (1).
probe_members() {
  consul_api GET /v1/agent/members || return 1
  [[ "$CONSUL_STATUS" == 200 ]] || { printf 'members: %s\n' "$(consul_error)"; return 1; }
  local bad
  bad="$(jq -r --arg want "$1" '
    (map({key: .Name, value: .Status}) | from_entries) as $status
    | [$want | split(",")[] | select($status[.] != 1)
       | "\(.)=\(if $status[.] == null then "absent" else ({"0": "none", "2": "leaving", "3": "left", "4": "failed"}[($status[.] | tostring)] // "status \($status[.])") end)"]
    | join(",")' -- "$CONSUL_BODY")"
  if [[ -n "$bad" ]]; then
    printf 'not alive: %s\n' "$bad"
    return 1
  fi
  printf 'alive: %s\n' "$1"
}

# probe_anonymous_denied NODE — a request without a token sees no node of the catalog, while the
# management token sees NODE (so an empty answer means denied, not an empty catalog).
probe_anonymous_denied() {
  consul_api GET /v1/catalog/nodes || return 1
  [[ "$CONSUL_STATUS" == 200 ]] || { printf 'catalog with the management token: %s\n' "$(consul_error)"; return 1; }
  jq -e --arg n "$1" 'any(.[]; .Node == $n)' -- "$CONSUL_BODY" >/dev/null || { printf 'the catalog does not list %s yet\n' "$1"; return 1; }
  consul_api GET /v1/catalog/nodes anonymous || return 1
  case "$CONSUL_STATUS" in
    401 | 403) echo "anonymous catalog read: HTTP $CONSUL_STATUS"; return 0 ;;
    200)
      if jq -e 'length == 0' -- "$CONSUL_BODY" >/dev/null 2>&1; then
        echo "anonymous catalog read: no node visible"
        return 0
      fi
      printf 'ANONYMOUS CATALOG READ ALLOWED: sees %s\n' "$(jq -r '[.[].Node] | join(",")' -- "$CONSUL_BODY" 2>/dev/null || echo '?')"
      return 1
      ;;
    *) printf 'anonymous catalog read: %s\n' "$(consul_error)"; return 1 ;;
  esac
}

# probe_management — the ACL system is up and takes the management token (the leader creates it
# from initial_management once it is elected: a moment after the leader appears).
probe_management() {
  consul_api GET /v1/acl/token/self || return 1
  if [[ "$CONSUL_STATUS" == 200 ]]; then
    echo "management token accepted"
    return 0
  fi
  # Error bodies are plain text without the token; a 200 body would hold it and is never printed.
  printf 'management token: %s\n' "$(consul_error)"
  return 1
}
