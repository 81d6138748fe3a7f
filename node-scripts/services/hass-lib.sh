# shellcheck shell=bash
# Home Assistant's REST API for hass-mqtt.sh and hass-gate.sh. Sourced after ../lib.sh and gate.sh,
# never run. Secrets (the owner's password, tokens, the MQTT password) never reach a command line:
# they are read from $BORG_SECRETS_DIR into request bodies and headers in a private (0700) temp
# dir, which curl reads with @file. Every failure names the node, the service and the request.
#   BORG_HASS_TIMEOUT  seconds per HTTP request (default 20)

HASS_URL=""
HASS_TMP=""
HASS_TLS=()
HASS_STATUS=""

# hass_init URL — where HA answers (https: verified against the stack's CA in the secrets dir).
hass_init() {
  HASS_URL="${1%/}"
  [[ "$HASS_URL" =~ ^https?://[A-Za-z0-9.:-]+$ ]] || die "hass: invalid URL (expected http(s)://host:port)"
  HASS_TMP="$(mktemp -d)"
  chmod 0700 "$HASS_TMP"
  # shellcheck disable=SC2064 # expand now: the directory is known
  trap "hass_cleanup '$HASS_TMP'" EXIT
  HASS_TLS=()
  if [[ "$HASS_URL" == https://* ]]; then
    local ca="$BORG_SECRETS_DIR/hass-ca.crt"
    [[ -r "$ca" ]] || die "hass: $ca is missing: were the secrets installed?"
    HASS_TLS=(--cacert "$ca")
  fi
}

# hass_cleanup DIR — revoke the session's refresh token (best effort), then forget everything.
hass_cleanup() {
  if [[ -s "$1/refresh.form" ]]; then
    curl -s --max-time 10 "${HASS_TLS[@]}" -o /dev/null --data-binary "@$1/refresh.form" \
      -H "Content-Type: application/x-www-form-urlencoded" -- "$HASS_URL/auth/revoke" >/dev/null 2>&1 || true
  fi
  rm -rf -- "$1"
}

# hass_secret NAME — the path of a secret file, which must exist.
hass_secret() {
  local f="$BORG_SECRETS_DIR/$1"
  [[ -r "$f" ]] || die "hass: $f is missing: were the secrets installed?"
  printf '%s\n' "$f"
}

# hass_call METHOD PATH [BODY_FILE [CONTENT_TYPE]] — the response body lands in $HASS_TMP/response,
# the HTTP status in HASS_STATUS ("000": no answer; the reason in $HASS_TMP/curl.err).
hass_call() {
  local method="$1" path="$2" body="${3:-}" type="${4:-application/json}"
  local args=(-sS --max-time "${BORG_HASS_TIMEOUT:-20}" -X "$method" -o "$HASS_TMP/response" -w '%{http_code}' "${HASS_TLS[@]}")
  [[ -s "$HASS_TMP/auth.header" ]] && args+=(-H "@$HASS_TMP/auth.header")
  [[ -n "$body" ]] && args+=(-H "Content-Type: $type" --data-binary "@$body")
  : >"$HASS_TMP/response"
  HASS_STATUS="$(curl "${args[@]}" -- "$HASS_URL$path" 2>"$HASS_TMP/curl.err")" || true
  [[ "$HASS_STATUS" =~ ^[0-9]{3}$ ]] || HASS_STATUS=000
}

# hass_response — the last response body, on one line and bounded (for error messages).
hass_response() {
  if [[ "$HASS_STATUS" == 000 ]]; then
    tr '\n' ' ' <"$HASS_TMP/curl.err" | cut -c1-300
  else
    tr '\n' ' ' <"$HASS_TMP/response" | cut -c1-300
  fi
}

# hass_expect WHAT CODE… — die naming WHAT unless the last status is one of CODEs.
hass_expect() {
  local what="$1" code
  shift
  for code in "$@"; do [[ "$HASS_STATUS" == "$code" ]] && return 0; done
  die "hass: $what: HTTP $HASS_STATUS from $HASS_URL: $(hass_response)"
}

# hass_json FILTER — jq FILTER over the last response body (jq -e: fails on null/false/invalid).
hass_json() {
  jq -er "$1" <"$HASS_TMP/response"
}

# hass_manifest — the probe the gates wait on: the frontend's manifest.json is served.
# shellcheck disable=SC2317 # called through wait_for
hass_manifest() {
  hass_call GET /manifest.json
  [[ "$HASS_STATUS" == 200 ]] && jq -e 'type == "object"' "$HASS_TMP/response" >/dev/null 2>&1 && return 0
  echo "manifest.json: HTTP $HASS_STATUS: $(hass_response)"
  return 1
}

# hass_private FILE — FILE created empty with mode 0600 (the temp dir is 0700 anyway).
hass_private() {
  (umask 077 && : >"$1")
}

# hass_login OWNER — an access token for OWNER in $HASS_TMP/auth.header. Creates OWNER through
# onboarding when HA has no user yet (with the generated password), logs in otherwise.
hass_login() {
  local owner="$1" password_file client code
  password_file="$(hass_secret hass-owner.password)"
  # IndieAuth: the client id is a URL on HA's own host, and the redirect goes back to it.
  client="$HASS_URL/"
  hass_call GET /api/onboarding
  hass_expect "onboarding status (GET /api/onboarding)" 200
  local user_done
  # "done" is a boolean, so no jq -e here (it fails on false).
  user_done="$(jq -r '[.[] | select(.step == "user") | .done] | if length == 0 then true else .[0] end | tostring' <"$HASS_TMP/response" 2>/dev/null)" || user_done=""
  [[ "$user_done" == true || "$user_done" == false ]] || die "hass: onboarding status (GET /api/onboarding): unexpected answer: $(hass_response)"
  if [[ "$user_done" == false ]]; then
    hass_private "$HASS_TMP/onboarding.json"
    jq -n --arg client "$client" --arg owner "$owner" --rawfile password "$password_file" \
      '{client_id: $client, name: "Borg", username: $owner, password: ($password | rtrimstr("\n")), language: "en"}' >"$HASS_TMP/onboarding.json"
    hass_call POST /api/onboarding/users "$HASS_TMP/onboarding.json"
    hass_expect "onboarding: creating the owner '$owner' (POST /api/onboarding/users)" 200
    code="$(hass_json '.auth_code | strings')" || die "hass: onboarding: no auth_code in the answer: $(hass_response)"
    log "hass: onboarding: created the owner '$owner'"
  else
    jq -n --arg client "$client" '{client_id: $client, handler: ["homeassistant", null], redirect_uri: $client}' >"$HASS_TMP/flow.json"
    hass_call POST /auth/login_flow "$HASS_TMP/flow.json"
    hass_expect "owner login: starting the login flow (POST /auth/login_flow)" 200
    local flow
    flow="$(hass_json '.flow_id | strings')" || die "hass: owner login: no flow_id in the answer: $(hass_response)"
    [[ "$flow" =~ ^[A-Za-z0-9_-]+$ ]] || die "hass: owner login: unexpected flow id"
    hass_private "$HASS_TMP/login.json"
    jq -n --arg client "$client" --arg owner "$owner" --rawfile password "$password_file" \
      '{client_id: $client, username: $owner, password: ($password | rtrimstr("\n"))}' >"$HASS_TMP/login.json"
    hass_call POST "/auth/login_flow/$flow" "$HASS_TMP/login.json"
    hass_expect "owner login (POST /auth/login_flow/<id>)" 200
    if ! code="$(hass_json 'select(.type == "create_entry") | .result | strings')"; then
      die "hass: owner login: '$owner' was refused ($(hass_json '.errors.base // .reason // .type' 2>/dev/null || echo "no reason")): Home Assistant was onboarded with another owner, or the owner's password was changed; log in as the owner and create '$owner' with the password of \`pulumi stack output homeAssistant --show-secrets\`"
    fi
  fi
  # Codes and tokens are URL-safe (HA makes them with token_hex/uuid); printf is a builtin, so
  # they stay off every command line.
  [[ "$code" =~ ^[A-Za-z0-9._~-]+$ ]] || die "hass: owner login: the auth code is not URL-safe"
  hass_private "$HASS_TMP/token.form"
  printf 'grant_type=authorization_code&code=%s&client_id=%s' "$code" "$(jq -rn --arg client "$client" '$client | @uri')" >"$HASS_TMP/token.form"
  hass_call POST /auth/token "$HASS_TMP/token.form" application/x-www-form-urlencoded
  hass_expect "owner login: exchanging the code for a token (POST /auth/token)" 200
  local token refresh
  token="$(hass_json '.access_token | strings')" || die "hass: owner login: no access_token in the answer"
  refresh="$(hass_json '.refresh_token | strings')" || refresh=""
  hass_private "$HASS_TMP/auth.header"
  printf 'Authorization: Bearer %s\n' "$token" >"$HASS_TMP/auth.header"
  if [[ "$refresh" =~ ^[A-Za-z0-9._~-]+$ ]]; then
    hass_private "$HASS_TMP/refresh.form"
    printf 'token=%s' "$refresh" >"$HASS_TMP/refresh.form"
  fi
}

# hass_mqtt_entries — the config entries of domain mqtt (JSON array) in $HASS_TMP/entries.json.
hass_mqtt_entries() {
  hass_call GET "/api/config/config_entries/entry?domain=mqtt"
  hass_expect "listing config entries (GET /api/config/config_entries/entry)" 200
  jq -e '[.[] | select(.domain == "mqtt")]' <"$HASS_TMP/response" >"$HASS_TMP/entries.json" ||
    die "hass: listing config entries: unexpected answer: $(hass_response)"
}
