#!/usr/bin/env bash
# molecule test for every scenario: `default` (delegated driver, real sshd on loopback, fast) and
# `podman` (systemd containers reached through ports on 127.0.0.1). Containers of the podman scenario
# are removed at the end whatever happens (failure, Ctrl-C), by their label.
#   KEEPALIVE_MOLECULE_SCENARIOS="default"   runs only the named ones (default: every scenario)
set -uo pipefail
cd "$(dirname "$0")/.."
eval "$(tools/podman_image.sh --env)"
# molecule keeps its scratch state (ephemeral directories) under $ANSIBLE_HOME/tmp: not in ~/.ansible
own_home=
[ -n "${ANSIBLE_HOME:-}" ] || { own_home=$(mktemp -d "${TMPDIR:-/tmp}/keepalive-molecule.XXXXXX"); export ANSIBLE_HOME=$own_home; }
scenarios=${KEEPALIVE_MOLECULE_SCENARIOS:-$(cd extensions/molecule && ls -d */ | tr -d /)}
cleanup() {
  # only when this run started containers: a loopback-only run leaves another run's containers alone
  if [[ " $scenarios " == *" podman "* ]] && command -v podman >/dev/null; then
    podman ps -aq --filter label=keepalive.ssh.test=molecule | xargs -r podman rm -f -t 2 >/dev/null
  fi
  [ -z "$own_home" ] || rm -rf "$own_home"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM
status=0
for scenario in $scenarios; do
  name=$(basename "$scenario")
  start=$SECONDS
  molecule test -s "$name" || status=1
  echo "molecule scenario $name: $((SECONDS - start)) s"
done
exit $status
