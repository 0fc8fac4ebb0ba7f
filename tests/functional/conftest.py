"""Fixtures for tests that run the modules for real against scratch files and real OpenSSH binaries."""
import os
import pwd
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))

# kalib puts tools/ on sys.path, so fleet comes second
from kalib import TEST_USERS, materialize  # noqa: E402  pylint: disable=wrong-import-position
from fleet import ensure_users  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope='session')
def hostkey(tmp_path_factory):
    os.makedirs('/run/sshd', exist_ok=True)  # sshd -t / -T insist on the privilege separation dir
    key = tmp_path_factory.mktemp('hostkey') / 'ssh_host_ed25519_key'
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(key)], check=True)
    return key


@pytest.fixture
def sshd_tree(tmp_path, hostkey):
    """sshd_tree('debian12') → path of a runnable copy of that fixture's sshd_config."""
    def make(name):
        dest = materialize('sshd', name, tmp_path / name)
        return dest / 'sshd_config'
    return make


@pytest.fixture(scope='session')
def users():
    """Local test users, made the same way the simulated fleet makes them (homes emptied per test by 'user')."""
    ensure_users(TEST_USERS)
    return {n: pwd.getpwnam(n) for n in TEST_USERS}


def clear_ssh_dir(pw):
    ssh_dir = os.path.join(pw.pw_dir, '.ssh')
    if os.path.islink(ssh_dir):
        os.unlink(ssh_dir)
    shutil.rmtree(ssh_dir, ignore_errors=True)


@pytest.fixture
def user(users):
    pw = users['kaalice']
    clear_ssh_dir(pw)
    yield pw
    clear_ssh_dir(pw)
