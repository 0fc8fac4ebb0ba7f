"""Fixtures for tests that run the modules for real against scratch files and real OpenSSH binaries."""
import grp
import json
import os
import pwd
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, 'tests', 'fixtures')
SSHD = shutil.which('sshd') or '/usr/sbin/sshd'
TEST_USERS = ('kaalice', 'kabob')


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, check=False, **kw)


def run_module(name, args, check=False, diff=True):
    """Run a module the way Ansible does on the target: JSON args in, JSON result out."""
    payload = dict(args, _ansible_check_mode=check, _ansible_diff=diff, _ansible_tmpdir=None)
    argfile = os.path.join(os.environ.get('TMPDIR', '/tmp'), 'keepalive-args-%d.json' % os.getpid())
    with open(argfile, 'w') as f:
        json.dump({'ANSIBLE_MODULE_ARGS': payload}, f)
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, '.build'))
    proc = run([sys.executable, os.path.join(ROOT, 'plugins', 'modules', name + '.py'), argfile], env=env)
    os.unlink(argfile)
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError('module printed no JSON: %s %s' % (proc.stdout, proc.stderr))
    # ansible-core 2.19 returns warnings as structured summaries; tests read the text.
    result['warnings'] = [w['event']['msg'] if isinstance(w, dict) else w for w in result.get('warnings', [])]
    return result


def sshd_T(config, hostkey, connection=None):
    """Effective server settings, as sshd itself computes them."""
    argv = [SSHD, '-T', '-f', str(config), '-h', str(hostkey)]
    if connection:
        argv += ['-C', connection]
    proc = run(argv)
    assert proc.returncode == 0, proc.stderr
    return dict(line.split(' ', 1) for line in proc.stdout.splitlines() if ' ' in line)


def ssh_G(config, host):
    """Effective client settings for a host, as ssh itself computes them."""
    proc = run(['ssh', '-G', '-F', str(config), host])
    assert proc.returncode == 0, proc.stderr
    return dict(line.split(' ', 1) for line in proc.stdout.splitlines() if ' ' in line)


def materialize(kind, name, dest):
    """Copy a fixture tree to dest, pointing its /etc/ssh paths at the copy."""
    shutil.copytree(os.path.join(FIXTURES, kind, name), str(dest))
    for dirpath, _dirs, files in os.walk(str(dest)):
        for f in files:
            p = os.path.join(dirpath, f)
            with open(p, 'rb') as fh:
                data = fh.read()
            with open(p, 'wb') as fh:
                fh.write(data.replace(b'/etc/ssh', str(dest).encode()))
    return dest


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
    """Local test users (created once; their homes are emptied per test by the 'user' fixture)."""
    for name in TEST_USERS:
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(['useradd', '--create-home', '--shell', '/usr/sbin/nologin', name], check=True)
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


def owner(path):
    st = os.lstat(path)
    return pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name, oct(st.st_mode & 0o7777)


def ansible_env(**extra):
    """Environment for ansible-playbook: this collection, this venv's Python, no cows or colours."""
    env = dict(os.environ,
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.build'),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_NOCOLOR='1', ANSIBLE_NOCOWS='1', ANSIBLE_LOCALHOST_WARNING='false',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='false', ANSIBLE_RETRY_FILES_ENABLED='false',
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''))
    env.update(extra)
    return env


def playbook(path, *args, **env):
    """Run ansible-playbook; returns (rc, output, recap) with recap {host: {ok: n, changed: n, ...}}."""
    proc = run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), str(path)] + list(args),
               env=ansible_env(**env))
    out = proc.stdout + proc.stderr
    recap = {}
    in_recap = False
    for line in out.splitlines():
        if line.startswith('PLAY RECAP'):
            in_recap = True
            continue
        if in_recap and ':' in line and '=' in line:
            host, counts = line.split(':', 1)
            recap[host.strip()] = {k: int(v) for k, v in (kv.split('=') for kv in counts.split())}
    return proc.returncode, out, recap
