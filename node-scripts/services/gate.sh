# shellcheck shell=bash
# Readiness gates for the service steps (node-scripts/services/*.sh). Sourced after ../lib.sh,
# never run. A gate is a bounded wait on a probe; on timeout it fails naming the node, the
# service, the probe and the probe's last output, so `pulumi up` says exactly what is not ready.
#   BORG_GATE_INTERVAL  seconds between probes (default 3; the tests shorten it)
#   BORG_GATE_MAX       test-only cap on every wait (seconds)

BORG_GATE_INTERVAL="${BORG_GATE_INTERVAL:-3}"

# wait_for SECONDS SERVICE PROBE CMD… — run CMD until it exits 0 or SECONDS have passed.
wait_for() {
  local seconds="$1" service="$2" probe="$3"
  if [[ -n "${BORG_GATE_MAX:-}" ]] && ((BORG_GATE_MAX < seconds)); then seconds="$BORG_GATE_MAX"; fi
  shift 3
  local deadline=$((SECONDS + seconds)) output=""
  while true; do
    if output="$("$@" 2>&1)"; then
      log "$service: $probe: ready"
      return 0
    fi
    if ((SECONDS >= deadline)); then
      # The last output, on one line and bounded: enough to act on, never a flood.
      output="$(printf '%s' "$output" | tr '\n' ' ' | cut -c1-400)"
      die "$service: $probe: not ready after ${seconds}s: ${output:-no output}"
    fi
    sleep "$BORG_GATE_INTERVAL"
  done
}
