#!/usr/bin/env bash
# molecule test for every scenario, with the delegated driver against real sshd on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for scenario in molecule/*/; do
  name=$(basename "$scenario")
  molecule test -s "$name" || status=1
done
exit $status
