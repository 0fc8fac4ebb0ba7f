#!/usr/bin/env bash
# Run ansible-test on a copy of the collection placed as ansible_collections/keepalive/ssh.
# ansible-test needs that layout and lists files with git, so the copy lives outside this checkout.
# Usage: tests/ansible-test.sh sanity|units [ansible-test options]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${KEEPALIVE_ANSIBLE_TEST_DIR:-${TMPDIR:-/tmp}/keepalive-ansible-test}
dest=$work/ansible_collections/keepalive/ssh
rm -rf "$dest" && mkdir -p "$dest"
(cd "$here" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$dest")
# ansible-test fetches its pip bootstrap from a host outside the package index; use our offline one.
pip_version=$(python - <<'PY'
import inspect, re
from ansible_test._internal import python_requirements
print(re.search(r"pip='([0-9.]+)'", inspect.getsource(python_requirements.get_venv_packages)).group(1))
PY
)
cache=$HOME/.ansible/test/cache
mkdir -p "$cache"
cp "$here/tests/tools/pip_bootstrap.py" "$cache/get_pip_${pip_version//./_}.py"
cd "$dest"
exec ansible-test "$@" --venv --python 3.11 --color no
