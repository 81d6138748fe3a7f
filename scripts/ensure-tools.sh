#!/usr/bin/env bash
# pretest: the real tools that check generated files must be on PATH (Debian packages).
# As root, installs what is missing; otherwise prints the exact command and fails.
# Optional tools (the real-daemon suites) are installed when possible; without them those
# suites skip, loudly, and nothing else fails.
set -euo pipefail

declare -A package_of=(
  [nix-instantiate]=nix-bin
  [shellcheck]=shellcheck
  [curl]=curl
  [jq]=jq
  [openssl]=openssl
  [mosquitto]=mosquitto
  [mosquitto_sub]=mosquitto-clients
  # `kubectl config view` checks the exported kubeconfig (any kubectl will do)
  [kubectl]=kubernetes-client
  [nats-server]=nats-server
)
# Real Ceph daemons on loopback (test/ceph-daemons.test.ts): Pacific 16.2 on Debian 12.
declare -A optional_package_of=(
  [ceph-mon]=ceph-mon
  [ceph-osd]=ceph-osd
  [ceph-mgr]=ceph-mgr
  [ceph]=ceph-common
)

missing=()
for tool in "${!package_of[@]}"; do
  # Debian puts daemons in /usr/sbin, which an unprivileged PATH often lacks.
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("${package_of[$tool]}")
done
optional=()
for tool in "${!optional_package_of[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || optional+=("${optional_package_of[$tool]}")
done
[ "${#missing[@]}" -eq 0 ] && [ "${#optional[@]}" -eq 0 ] && exit 0

apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "pretest: installing ${missing[*]} ${optional[*]}" >&2
  apt-get update -qq
  [ "${#missing[@]}" -eq 0 ] || apt_install "${missing[@]}"
  if [ "${#optional[@]}" -gt 0 ] && ! apt_install "${optional[@]}"; then
    echo "pretest: WARNING: could not install ${optional[*]}; the real-daemon tests will be skipped" >&2
  fi
  exit 0
fi
if [ "${#optional[@]}" -gt 0 ]; then
  echo "pretest: WARNING: ${optional[*]} missing: the real-daemon tests will be SKIPPED. Install with:" >&2
  echo "  sudo sh -c 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${optional[*]}'" >&2
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "pretest: missing ${missing[*]}; install them with:" >&2
  echo "  sudo sh -c 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}'" >&2
  exit 1
fi
