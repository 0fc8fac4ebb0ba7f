#!/usr/bin/env bash
# The collection as users get it: build the tarball, install it, render every module's docs from the install.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$here"
ansible-galaxy collection build --force --output-path "$out" . >/dev/null
tarball=$(ls "$out"/keepalive-ssh-*.tar.gz)
ansible-galaxy collection install --force -p "$out/installed" "$tarball" >/dev/null
export ANSIBLE_COLLECTIONS_PATH=$out/installed
ansible-galaxy collection list keepalive.ssh | grep -q 'keepalive.ssh'
for module in plugins/modules/*.py; do
  name=$(basename "$module" .py)
  ansible-doc "keepalive.ssh.$name" | grep -q "keepalive.ssh.$name" || { echo "ansible-doc keepalive.ssh.$name failed"; exit 1; }
  echo "ok: ansible-doc keepalive.ssh.$name renders from the installed $(basename "$tarball")"
done
# The installed tarball must not carry build or test debris.
if tar -tzf "$tarball" | grep -E '(^|/)(\.venv|\.build|__pycache__|tests/output)/'; then
  echo "tarball contains build debris"; exit 1
fi
