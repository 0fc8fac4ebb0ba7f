#!/usr/bin/env bash
# The changelog fragments make a clean first release: a dry run of `antsibull-changelog release` on a
# copy of the tree (the real tree is never touched), then checks of the rendered CHANGELOG.rst.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
version=$(sed -n 's/^version: *//p' "$here/galaxy.yml")
copy=$work/ansible_collections/keepalive/ssh
mkdir -p "$copy"
# the tracked files and the new ones, as a clone would have them (no .venv, .build, caches)
(cd "$here" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$copy" 2>/dev/null) || true
cd "$copy"
antsibull-changelog lint
released=$(python3 -c 'import sys, yaml; print(" ".join(yaml.safe_load(open(sys.argv[1]))["releases"]))' changelogs/changelog.yaml)
if [ -n "$released" ]; then
  echo "ok: releases already in changelogs/changelog.yaml ($released); the next release is checked as a later one"
fi
antsibull-changelog release --version "$version" --date 2026-01-01 >/dev/null
antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
rst=CHANGELOG.rst
fail() { echo "changelog release dry run: $*"; echo "----- CHANGELOG.rst"; cat "$rst"; exit 1; }
[ -f "$rst" ] || fail "no CHANGELOG.rst rendered"
grep -q '^Release Summary$' "$rst" || fail "no release summary"
if [ -z "$released" ]; then
  # a first release fixes nothing and deprecates nothing that users had
  for section in 'Bugfixes' 'Security Fixes' 'Breaking Changes / Porting Guide' 'Removed Features (previously deprecated)'; do
    ! grep -qx "$section" "$rst" || fail "section '$section' in the first release: fixes of unreleased code are trivial"
  done
  # every module, filter and role appears exactly once, as new
  for module in "$here"/plugins/modules/*.py; do
    name=keepalive.ssh.$(basename "$module" .py)
    [ "$(grep -c "^- $name - " "$rst")" = 1 ] || fail "module $name is not listed exactly once"
  done
  for doc in "$here"/plugins/filter/*.yml; do
    name=keepalive.ssh.$(basename "$doc" .yml)
    [ "$(grep -c "^- $name - " "$rst")" = 1 ] || fail "filter $name is not listed exactly once"
  done
  for role in "$here"/roles/*/; do
    name=keepalive.ssh.$(basename "$role")
    [ "$(grep -c "^- $name - " "$rst")" = 1 ] || fail "role $name is not listed exactly once"
  done
  # playbooks have no ansible-doc: the release summary names each once
  for playbook in "$here"/playbooks/*.yml; do
    name=keepalive.ssh.$(basename "$playbook" .yml)
    [ "$(grep -o "\`\`$name\`\`" "$rst" | wc -l)" = 1 ] || fail "playbook $name is not named exactly once"
  done
fi
echo "ok: antsibull-changelog release $version (dry run on a copy) renders a clean changelog"
