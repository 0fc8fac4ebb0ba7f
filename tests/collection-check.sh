#!/usr/bin/env bash
# The collection as users get it: build the tarball, check it ships nothing dev-only, install it, render
# every module's and filter's docs from the install, and run the site and audit playbooks from the
# install (not from this checkout) against a two-host simulated fleet on loopback (tools/fleet.py).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
fleet_root=$out/fleet
cleanup() {
  [ -f "$fleet_root/fleet.json" ] && python "$here/tools/fleet.py" down --root "$fleet_root" >/dev/null || true
  rm -rf "$out"
}
trap cleanup EXIT
cd "$here"
ansible-galaxy collection build --force --output-path "$out" . >/dev/null
tarball=$(ls "$out"/keepalive-ssh-*.tar.gz)

# What users get: LICENSE and the runtime parts; never tests, tooling, dotfiles or build debris.
tar -tzf "$tarball" | sed 's|^\./||' > "$out/contents"
for required in LICENSE README.md MANIFEST.json FILES.json meta/runtime.yml meta/execution-environment.yml \
    meta/ee-requirements.txt bindep.txt \
    plugins/modules/sshd_keepalive.py roles/sshd/tasks/main.yml playbooks/site.yml; do
  grep -qx "$required" "$out/contents" || { echo "tarball lacks $required"; exit 1; }
done
dev_only='^(tests|bench|tools|molecule|extensions|demo-out|keepalive-report|ee|context|changelogs/fragments)(/|$)|^(Makefile|requirements(-podman)?\.txt|tox\.ini|execution-environment\.yml)$|(^|/)\.[^/]+|(^|/)__pycache__(/|$)|\.tar\.gz$'
if grep -E "$dev_only" "$out/contents"; then
  echo "tarball $(basename "$tarball") contains the dev-only files above"; exit 1
fi
echo "ok: $(basename "$tarball") has $(wc -l < "$out/contents") entries, LICENSE included, no dev-only files"

# Users' docs only: nothing shipped points at the developers' make targets, tests/, tools/ or CI (those
# are in DEVELOPING.md and docs/dev/ of the source repository, which do not ship).
mkdir "$out/unpacked" && tar -xzf "$tarball" -C "$out/unpacked"
dev_pointer='(^|[^a-z-])make (test|demo|deps|bench)|`make|(^|[^a-z_])(tests|tools)/|\.ci/'
if grep -rnE --exclude=FILES.json --exclude=MANIFEST.json "$dev_pointer" "$out/unpacked"; then
  echo "the shipped files above point at development-only make targets, tests/, tools/ or .ci/"; exit 1
fi
echo "ok: nothing shipped points at make, tests/, tools/ or .ci/"

ansible-galaxy collection install --force -p "$out/installed" "$tarball" >/dev/null
export ANSIBLE_COLLECTIONS_PATH=$out/installed
installed=$out/installed/ansible_collections/keepalive/ssh
ansible-galaxy collection list keepalive.ssh | grep -q 'keepalive.ssh'
for module in plugins/modules/*.py; do
  name=$(basename "$module" .py)
  ansible-doc "keepalive.ssh.$name" | grep -q "$installed/plugins/modules/$name.py" \
    || { echo "ansible-doc keepalive.ssh.$name failed"; exit 1; }
done
echo "ok: ansible-doc renders every module from the installed tarball"
filters=$(python -c 'import sys; sys.path.insert(0, sys.argv[1])
from ansible_collections.keepalive.ssh.plugins.filter.keepalive import FilterModule
print(" ".join("keepalive.ssh." + name for name in sorted(FilterModule().filters())))' "$out/installed")
for name in $filters; do  # an undocumented filter fails here
  ansible-doc -t filter "$name" | grep -q "$installed/plugins/filter/${name#keepalive.ssh.}.yml" \
    || { echo "ansible-doc -t filter $name failed"; exit 1; }
done
echo "ok: ansible-doc -t filter renders every filter from the installed tarball"

# The collection's docsite as the Ansible package builds it: plugin docs and extra docs
# (docs/docsite/extra-docs.yml, links.yml) pass antsibull-docs' lint, and the RST builds.
(cd "$installed" && antsibull-docs lint-collection-docs --plugin-docs .) \
  || { echo "antsibull-docs lint-collection-docs failed"; exit 1; }
mkdir -m 0700 "$out/docsite"
antsibull-docs collection --use-current --dest-dir "$out/docsite" keepalive.ssh >/dev/null \
  || { echo "antsibull-docs collection failed"; exit 1; }
[ -f "$out/docsite/collections/keepalive/ssh/docsite/guide.rst" ] \
  && [ -f "$out/docsite/collections/keepalive/ssh/sshd_keepalive_module.rst" ] \
  || { echo "antsibull-docs built no docsite"; exit 1; }
echo "ok: the docsite lints and builds with antsibull-docs from the installed tarball"

# The playbooks from the installed collection against real sshd processes on loopback.
python tools/fleet.py up --root "$fleet_root" --size 2 --port 2922 --net 127.49 --scenarios cloud,debian >/dev/null
inventory=$fleet_root/inventory/hosts.yml
export ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=false ANSIBLE_LOCALHOST_WARNING=false
recap() { sed -n '/^PLAY RECAP/,$p' "$1"; }
ansible-playbook -i "$inventory" keepalive.ssh.site > "$out/site.log" 2>&1 || { cat "$out/site.log"; exit 1; }
recap "$out/site.log" | grep -Eq 'changed=[1-9].*failed=0' || { cat "$out/site.log"; exit 1; }
ansible-playbook -i "$inventory" keepalive.ssh.audit -e "keepalive_report_dir=$out/report" > "$out/audit.log" 2>&1 \
  || { cat "$out/audit.log"; exit 1; }
grep -q 'compliant: 2/2 hosts (100%)' "$out/audit.log" || { cat "$out/audit.log"; exit 1; }
echo "ok: keepalive.ssh.site then keepalive.ssh.audit from the installed tarball: 2/2 hosts compliant"
