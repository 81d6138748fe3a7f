#!/usr/bin/env bash
# pretest: the real tools that check generated files must be on PATH (Debian packages).
# As root, installs what is missing; otherwise prints the exact command and fails.
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

missing=()
for tool in "${!package_of[@]}"; do
  # Debian puts daemons in /usr/sbin, which an unprivileged PATH often lacks.
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("${package_of[$tool]}")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

install_cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "pretest: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "pretest: missing ${missing[*]}; install them with:" >&2
  echo "  sudo sh -c '$install_cmd'" >&2
  exit 1
fi
