"""Helpers shared by the functional and end-to-end tests: run modules and playbooks, ask OpenSSH."""
import grp
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, 'tests', 'fixtures')
SSHD = shutil.which('sshd') or '/usr/sbin/sshd'
TEST_USERS = ('kaalice', 'kabob')
sys.path.insert(0, os.path.join(ROOT, 'tools'))

from fleet import ansible_env, copy_fixture  # noqa: E402  pylint: disable=wrong-import-position


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, check=False, **kw)


def start_module(name, args, argfile, check=False, diff=True, **popen):
    """Start a module the way Ansible runs it on the target: JSON args in a file, JSON result on stdout."""
    payload = dict(args, _ansible_check_mode=check, _ansible_diff=diff, _ansible_tmpdir=None)
    with open(argfile, 'w') as f:
        json.dump({'ANSIBLE_MODULE_ARGS': payload}, f)
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, '.build'))
    return subprocess.Popen([sys.executable, os.path.join(ROOT, 'plugins', 'modules', name + '.py'), argfile],
                            env=env, text=True, **popen)


def run_module(name, args, check=False, diff=True):
    """Run a module to completion and return its result."""
    fd, argfile = tempfile.mkstemp(prefix='keepalive-args-', suffix='.json')
    os.close(fd)
    try:
        proc = start_module(name, args, argfile, check, diff, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stdout, stderr = proc.communicate()
    finally:
        os.unlink(argfile)
    try:
        result = json.loads(stdout)
    except ValueError:
        raise AssertionError('module printed no JSON: %s %s' % (stdout, stderr))
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
    """Copy a fixture tree to dest, pointing its /etc/ssh paths at the copy (the fleet does the same)."""
    copy_fixture(os.path.join(FIXTURES, kind, name), str(dest))
    return dest


def owner(path):
    st = os.lstat(path)
    return pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name, oct(st.st_mode & 0o7777)


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
            pairs = [kv.split('=') for kv in counts.split()]
            if all(len(p) == 2 and p[1].isdigit() for p in pairs):  # not a warning printed after the recap
                recap[host.strip()] = {k: int(v) for k, v in pairs}
    return proc.returncode, out, recap


def refusal(result, user, strict=False):
    """Why a user's file was left alone: the failure message with strict=true, else the skip reason
    (the run itself succeeds: one user's file never stops a host)."""
    if strict:
        assert result.get('failed'), result
        return result['msg']
    assert not result.get('failed'), result
    reasons = [s['reason'] for s in result['skipped_users'] if s['user'] == user]
    assert reasons, result
    return reasons[0]


def reachable_by_users(path):
    """Let local users traverse a pytest temp dir (pytest makes its parents 0700 root): users' files are
    read as the user, so a user's file placed there must be reachable as for any real home."""
    path = os.path.abspath(str(path))
    while path not in ('/', tempfile.gettempdir()):
        os.chmod(path, os.stat(path).st_mode | 0o055)
        path = os.path.dirname(path)


def unix_socket(path, listening=False):
    """A ControlMaster-like socket file: listening (returned, the caller closes it) or dead (bound and closed:
    the file stays and nobody accepts on it, as when a master is gone)."""
    import socket  # pylint: disable=import-outside-toplevel
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    if listening:
        sock.listen(1)
        return sock
    sock.close()
    return None


def b36(number):
    digits = ''
    while True:
        number, digit = divmod(number, 36)
        digits = '0123456789abcdefghijklmnopqrstuvwxyz'[digit] + digits
        if not number:
            return digits


def huge_config(names=174000, per_line=1000):
    """Just under 1 MiB (max_file_size): 174,000 distinct Host names, 1,000 per Host line."""
    return ''.join('Host %s\n    User u\n' % ' '.join('h' + b36(line * per_line + i) for i in range(per_line))
                   for line in range(names // per_line))
