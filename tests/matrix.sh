#!/usr/bin/env bash
# The ansible-core support matrix: one venv per version of tests/matrix/versions.txt.
#   tests/matrix.sh setup   create the venvs that are missing (needs the package index; make deps runs it)
#   tests/matrix.sh run     run the module, role and playbook tests on each version (make test runs it)
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
venvs=$here/.venv-matrix
pytest_pin=$(grep -E '^pytest==' requirements.txt)

# The pyenv (or system) interpreter for a controller Python version, e.g. 3.12.
python_for() {
  local want=$1 p
  for p in /root/.pyenv/versions/"$want".*/bin/python3 "$(command -v "python$want" 2>/dev/null)"; do
    [ -x "$p" ] && { echo "$p"; return 0; }
  done
  echo "no Python $want found (pyenv: /root/.pyenv/versions/$want.*)" >&2
  return 1
}

# What runs on every version: the modules, the roles and the playbooks (the pinned version runs everything).
tests=(tests/functional/test_sshd_keepalive.py tests/functional/test_client_keepalive.py
       tests/functional/test_keepalive_info.py tests/functional/test_target_python.py tests/functional/test_platforms.py
       tests/functional/test_playbook.py tests/functional/test_roles.py
       tests/functional/test_return_contract.py tests/functional/test_docs.py::test_module_examples_run_against_scratch_files
       tests/e2e/test_demo.py::test_demo_rolls_out_a_small_fleet)

versions() { grep -Ev '^\s*(#|$)' tests/matrix/versions.txt; }

setup() {
  local core py venv
  while read -r core py; do
    venv=$venvs/ansible-core-$core
    [ -f "$venv/.installed" ] && continue
    echo "== venv for ansible-core $core (Python $py)"
    rm -rf "$venv"
    "$(python_for "$py")" -m venv "$venv" || return 1
    "$venv/bin/python" -m pip install -q "ansible-core==$core" "$pytest_pin" || return 1
    touch "$venv/.installed"
  done < <(versions)
}

run() {
  local core py venv failed=()
  while read -r core py; do
    venv=$venvs/ansible-core-$core
    [ -f "$venv/.installed" ] || { echo "missing venv for ansible-core $core: run tests/matrix.sh setup"; failed+=("$core"); continue; }
    echo "== ansible-core $core (controller Python $py)"
    # the tests run ansible-playbook and the modules with the venv's own Python (sys.executable)
    if ! PATH=$venv/bin:$PATH ANSIBLE_PYTHON_INTERPRETER=$venv/bin/python \
        "$venv/bin/python" -m pytest -p no:cacheprovider -q "${tests[@]}"; then
      failed+=("$core")
    fi
  done < <(versions)
  [ ${#failed[@]} -eq 0 ] || { echo "failed on ansible-core: ${failed[*]}"; return 1; }
}

case "${1:-}" in
  setup) setup ;;
  run) run ;;
  *) echo "usage: $0 setup|run" >&2; exit 2 ;;
esac
