#!/usr/bin/env bash
# Every test of the collection, in one command (what `make test` and .ci/run call).
# Each step runs even if an earlier one failed; the exit status is non-zero if any failed.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
export PATH=$here/.venv/bin:$PATH
export ANSIBLE_COLLECTIONS_PATH=$here/.build
export ANSIBLE_PYTHON_INTERPRETER=$here/.venv/bin/python
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 PY_COLORS=0
mkdir -p /run/sshd

passed=0 failed=0 failures=()
step() {
  local name=$1; shift
  echo "=== $name"
  local start=$SECONDS
  "$@"
  local rc=$?
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1)); echo "=== $name: ok ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1)); failures+=("$name"); echo "=== $name: FAILED (exit $rc, $((SECONDS - start)) s)"
  fi
}

# pytest exits 5 when it collected no test: for us that is a broken suite, never a pass.
pytest_step() {
  python -m pytest -p no:cacheprovider "$@"
  local rc=$?
  [ "$rc" -eq 5 ] && echo "pytest collected no tests in: $*"
  return "$rc"
}

step "collection build, contents, install, ansible-doc, playbooks from the tarball" tests/collection-check.sh
step "changelog lint and release dry run" tests/changelog-check.sh
step "ansible-lint" ansible-lint --nocolor
step "ansible-test sanity" tests/ansible-test.sh sanity
step "ansible-test units" env KEEPALIVE_ANSIBLE_TEST_DIR="${TMPDIR:-/tmp}/keepalive-ansible-test-units" tests/ansible-test.sh units
step "pytest (engine, modules, properties, roles, real sshd, idle sessions)" pytest_step -q tests/unit tests/functional tests/e2e
step "ansible-core support matrix (modules, roles, playbooks on each version of tests/matrix/versions.txt)" tests/matrix.sh run
step "molecule (default: real sshd on loopback; podman: systemd containers)" tests/molecule.sh

echo
for f in "${failures[@]}"; do echo "failed step: $f"; done
echo "steps: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
