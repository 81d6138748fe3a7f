#!/usr/bin/env bash
# k3s-kubeconfig.sh <server> — run as root on the first K3s server: prints the admin kubeconfig
# K3s wrote (server https://127.0.0.1:6443; the program rewrites it). Its stdout is a secret output
# of the step (logging off); nothing else is printed on stdout.
set -euo pipefail

main() {
  local script_dir
  script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
  # shellcheck source-path=SCRIPTDIR source=../lib.sh
  source "$script_dir/../lib.sh"
  # shellcheck source-path=SCRIPTDIR source=k3s-lib.sh
  source "$script_dir/k3s-lib.sh"

  [[ $# -eq 1 ]] || die "usage: k3s-kubeconfig.sh <server>"
  check_node "$1"
  BORG_NODE="$1"
  require_root k3s-kubeconfig.sh
  k3s_running || die "k3s: no admin kubeconfig at $BORG_K3S_KUBECONFIG: K3s has not started here"
  grep -q '^kind: Config' "$BORG_K3S_KUBECONFIG" || die "k3s: $BORG_K3S_KUBECONFIG is not a kubeconfig"
  cat -- "$BORG_K3S_KUBECONFIG"
}

main "$@"; exit
