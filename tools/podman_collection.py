"""Put the containers.podman collection (molecule's podman driver needs it) into this venv.

Galaxy is not reachable here, but the `ansible` package on PyPI ships the collection. Installing
that whole package would bring some hundred other collections; this extracts only
ansible_collections/containers/podman from its wheel (version pinned in requirements-podman.txt)
into the venv's site-packages, where Ansible finds collections on sys.path.

    python tools/podman_collection.py      # idempotent: does nothing when that version is there
"""
import glob
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQUIREMENTS = os.path.join(ROOT, 'requirements-podman.txt')
PREFIX = 'ansible_collections/containers/podman/'


def pinned():
    with open(REQUIREMENTS) as f:
        lines = [line.split('#')[0].strip() for line in f]
    return next(line for line in lines if line.startswith('ansible=='))


def main():
    requirement = pinned()
    site = sysconfig.get_paths()['purelib']
    dest = os.path.join(site, PREFIX)
    stamp = os.path.join(dest, '.from-' + requirement.replace('==', '-'))
    if os.path.exists(stamp):
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, '-m', 'pip', 'download', '-q', '--no-deps', '--only-binary=:all:',
                        '-d', tmp, requirement], check=True)
        wheel = glob.glob(os.path.join(tmp, '*.whl'))[0]
        shutil.rmtree(dest, ignore_errors=True)
        with zipfile.ZipFile(wheel) as zf:
            members = [m for m in zf.namelist() if m.startswith(PREFIX)]
            if not members:
                sys.exit('%s has no %s' % (os.path.basename(wheel), PREFIX))
            zf.extractall(site, members)
    open(stamp, 'w').close()
    print('containers.podman from %s -> %s' % (requirement, dest))
    return 0


if __name__ == '__main__':
    sys.exit(main())
