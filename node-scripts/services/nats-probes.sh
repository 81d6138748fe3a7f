# shellcheck shell=bash
# NATS probes for nats-gate.sh and nats-guard.sh: read the server's monitoring endpoint (HTTP,
# loopback only, no credentials) with curl and judge it with jq. Sourced after ../lib.sh, never
# run. Each probe prints what it saw on failure (gate.sh's wait_for shows the last output).
#   BORG_NATS_MONITOR  monitoring URL (default http://127.0.0.1:8222; the tests point it at a
#                      loopback test server)

BORG_NATS_MONITOR="${BORG_NATS_MONITOR:-http://127.0.0.1:8222}"

nats_require_tools() {
  local tool
  for tool in curl jq; do
    command -v "$tool" >/dev/null 2>&1 || die "nats: $tool is not installed (the NATS module installs it)"
  done
}

# nats_get PATH — the endpoint's body on stdout; fails when the server does not answer 2xx.
nats_get() {
  curl -sf --max-time 5 "$BORG_NATS_MONITOR$1"
}

# nats_answers — the server's monitoring endpoint answers at all.
nats_answers() {
  nats_get /varz >/dev/null 2>&1
}

# probe_health — healthz, JetStream included where this server runs it.
probe_health() {
  local out
  if ! out="$(curl -s --max-time 5 "$BORG_NATS_MONITOR/healthz?js-enabled-only=true" 2>&1)"; then
    echo "monitoring endpoint does not answer"
    return 1
  fi
  jq -e '.status == "ok"' >/dev/null 2>&1 <<<"$out" || { echo "healthz: $out"; return 1; }
}

# probe_routes N — routes to at least N other servers (distinct remote ids).
probe_routes() {
  local want="$1" out have
  out="$(nats_get /routez)" || { echo "routez does not answer"; return 1; }
  have="$(jq '[.routes[]?.remote_id] | unique | length' <<<"$out")"
  ((have >= want)) || { echo "routes to $have of $want other servers"; return 1; }
}

# probe_meta PEERS — the JetStream meta group has a leader and knows PEERS peers; on the leader,
# every follower is current.
probe_meta() {
  local peers="$1" out
  out="$(nats_get /jsz)" || { echo "jsz does not answer"; return 1; }
  jq -e --argjson n "$peers" '
    (.meta_cluster.leader // "") != "" and (.meta_cluster.cluster_size // 0) >= $n and
    ([.meta_cluster.replicas[]? | select((.current | not) or (.offline == true))] | length) == 0' \
    >/dev/null <<<"$out" || { echo "meta group: $(jq -c '.meta_cluster // "none"' <<<"$out")"; return 1; }
}

# probe_server ROUTES PEERS — healthy, routed to ROUTES servers, and (PEERS > 0: a JetStream
# peer) the meta group has its leader.
probe_server() {
  probe_health && probe_routes "$1" && { (($2 == 0)) || probe_meta "$2"; }
}

# nats_quorum_possible ROUTES PEERS NONPEERS — enough JetStream peers are routed to this server
# for a meta quorum (a lower bound: every routed server that could be a non-peer is discounted).
# False while a fresh cluster is still forming.
nats_quorum_possible() {
  local peers="$2" nonpeers="$3" out routed
  out="$(nats_get /routez)" || return 1
  routed="$(jq '[.routes[]?.remote_id] | unique | length' <<<"$out")"
  ((routed + 1 - nonpeers >= peers / 2 + 1))
}

# probe_leafs N — at least N leaf nodes connected.
probe_leafs() {
  local want="$1" out have
  out="$(nats_get /leafz)" || { echo "leafz does not answer"; return 1; }
  have="$(jq '.leafnodes // 0' <<<"$out")"
  ((have >= want)) || { echo "$have of $want leaf nodes connected"; return 1; }
}
