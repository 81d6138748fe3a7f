# shellcheck shell=bash
# shellcheck disable=SC2034 # variables used by the scripts that source this
# Ceph helpers for node-scripts/services/ceph-*.sh. Sourced after ../lib.sh (and
# gate.sh where a script waits), never run. Paths come from Ceph itself (`ceph-conf`), so the same
# scripts run on a node (/etc/ceph/ceph.conf, /var/lib/ceph) and in the test
# suite (CEPH_CONF pointing at a temp cluster on loopback).
#
# Test-only environment overrides (production: sudo/systemd reset them):
#   CEPH_CONF              read by every Ceph tool (default /etc/ceph/ceph.conf)
#   BORG_CEPH_USER         owner of daemon data (default ceph; empty: leave as created)
#   BORG_CEPH_WAIT         seconds a gate waits (default 600)
#   BORG_CEPH_CALL_TIMEOUT seconds one ceph CLI call may take (default 60)
#
# Secret files (install-secrets.sh, root 0400):
#   ceph-fsid  ceph-mon-keyring  ceph-admin-keyring  ceph-mgr-keyring
#   ceph-osd-keyring  ceph-osd-uuid

BORG_CEPH_USER="${BORG_CEPH_USER-ceph}"
BORG_CEPH_WAIT="${BORG_CEPH_WAIT:-600}"
BORG_CEPH_CALL_TIMEOUT="${BORG_CEPH_CALL_TIMEOUT:-60}"
BORG_CEPH_STATE="$BORG_STATE_DIR/ceph"
CEPH_UUID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'

# ceph_secret NAME — path of a secret file; dies when it is missing or empty.
ceph_secret() {
  local f="$BORG_SECRETS_DIR/$1"
  [[ -s "$f" ]] || die "ceph: secret file $f is missing (the secrets step installs it before activation)"
  printf '%s\n' "$f"
}

# ceph_fsid — the cluster fsid from its file, checked.
ceph_fsid() {
  local f fsid
  f="$(ceph_secret ceph-fsid)" || exit 1
  fsid="$(<"$f")"
  [[ "$fsid" =~ $CEPH_UUID_RE ]] || die "ceph: $f does not hold a lowercase UUID"
  printf '%s\n' "$fsid"
}

# ceph_path NAME OPTION — a daemon's path setting as Ceph resolves it (mon_data, osd_data…).
ceph_path() {
  local value
  value="$(ceph-conf --name "$1" --show-config-value "$2")" || die "ceph: cannot read $2 of $1 from the Ceph configuration"
  [[ "$value" == /* ]] || die "ceph: $2 of $1 is not an absolute path: $value"
  printf '%s\n' "$value"
}

# ceph_own PATH… — hand daemon data to the Ceph user (recursively).
ceph_own() {
  [[ -z "$BORG_CEPH_USER" ]] && return 0
  chown -R -- "$BORG_CEPH_USER:$BORG_CEPH_USER" "$@"
}

# ceph_monmap FILE MEMBER… — the initial monmap of every monitor (MEMBER: name=addrvec).
ceph_monmap() {
  local file="$1" fsid member
  shift
  fsid="$(ceph_fsid)" || exit 1
  local -a add=()
  [[ $# -gt 0 ]] || die "ceph: no monitors given for the monmap"
  for member in "$@"; do
    [[ "$member" =~ ^([a-z0-9-]+)=(\[v2:[0-9.]+:[0-9]+,v1:[0-9.]+:[0-9]+\])$ ]] ||
      die "ceph: monitor '$member' is not name=[v2:ip:port,v1:ip:port]"
    add+=(--addv "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}")
  done
  monmaptool --create --fsid "$fsid" "${add[@]}" --clobber "$file" >/dev/null ||
    die "ceph: monmaptool could not write the initial monmap"
}

# ceph_admin ARGS… — the ceph CLI as client.admin, bounded (a lost quorum must not hang a step).
ceph_admin() {
  timeout --foreground "$BORG_CEPH_CALL_TIMEOUT" \
    ceph --connect-timeout 15 -n client.admin --keyring "$BORG_SECRETS_DIR/ceph-admin-keyring" "$@"
}

# ceph_status — `ceph status` as JSON; when the cluster does not answer, the
# CLI's last words and non-zero.
ceph_status() {
  local out errf rc=0
  errf="$(mktemp)"
  out="$(ceph_admin status -f json 2>"$errf")" || rc=$?
  if [[ $rc -ne 0 ]]; then
    grep -v '^[[:space:]]*$' "$errf" | tail -n 2
    rm -f -- "$errf"
    return 1
  fi
  rm -f -- "$errf"
  printf '%s\n' "$out"
}

# --- probes: exit 0 when ready, else print what is missing ------------------

# status_problems WANT… — read `ceph status` JSON on stdin, print one line per
# unmet condition (nothing when all hold). WANT: quorum=N, mgr, osds=N, clean,
# health=ACCEPTED (comma list of accepted checks, "-" for none).
status_problems() {
  local want=() w
  for w in "$@"; do want+=(--arg "${w%%=*}" "${w#*=}"); done
  jq -r "${want[@]}" '
    def has_want($k): $ARGS.named | has($k);
    (.pgmap.pgs_by_state // [] | map(select(.state_name == "active+clean") | .count) | add // 0) as $clean
    | [ (if has_want("quorum") and (.quorum_names | length) != ($ARGS.named.quorum | tonumber) then
          "\(.quorum_names | length) of \($ARGS.named.quorum) monitors in quorum (\(.quorum_names | join(",")))" else empty end),
        (if has_want("mgr") and (.mgrmap.available | not) then "no active manager" else empty end),
        (if has_want("osds") and ((.osdmap | [.num_osds, .num_up_osds, .num_in_osds] | unique) != [($ARGS.named.osds | tonumber)]) then
          "\(.osdmap.num_osds) OSDs (want \($ARGS.named.osds)): \(.osdmap.num_up_osds) up, \(.osdmap.num_in_osds) in" else empty end),
        (if has_want("clean") and (.pgmap.num_pgs == 0 or $clean != .pgmap.num_pgs) then
          "PGs not all active+clean: " + ([.pgmap.pgs_by_state[]? | "\(.count) \(.state_name)"] | join(", ") | if . == "" then "none yet" else . end) else empty end),
        (if has_want("health") and .health.status != "HEALTH_OK"
            and ((.health.checks | keys) - ($ARGS.named.health | split(",")) | length) > 0 then
          "\(.health.status): " + ([.health.checks | to_entries[] | "\(.key) (\(.value.summary.message))"] | join("; ")) else empty end)
      ] | .[]'
}

# probe WANT… — one `ceph status`, judged by status_problems.
probe() {
  local s problems
  s="$(ceph_status)" || { printf '%s\n' "$s"; return 1; }
  problems="$(status_problems "$@" <<<"$s")" || { echo "unreadable ceph status"; return 1; }
  [[ -z "$problems" ]] && return 0
  printf '%s\n' "$problems"
  return 1
}
