"""Hostile-user findings of the security review (2026-11-28, findings 1-8): each test failed on the reviewed main.

Same style and helpers as test_hostile_users.py, with users of their own (karev1 attacks, karev2 is the
bystander) so a parallel run of that suite never races these.
"""
import base64
import os
import pwd
import re
import signal
import subprocess
import sys
import time

import pytest

from fleet import ensure_users  # noqa: E402  pylint: disable=wrong-import-order
from test_hostile_users import HOSTS, LIMIT, MARGIN, as_user, reset, run_full, user_file

HOSTILE, BYSTANDER = 'karev1', 'karev2'
ARTIFACT = '/tmp/keepalive-review-artifact'


@pytest.fixture
def people():
    ensure_users((HOSTILE, BYSTANDER))
    hostile, bystander = pwd.getpwnam(HOSTILE), pwd.getpwnam(BYSTANDER)
    for pw in (hostile, bystander):
        reset(pw)
    if os.path.lexists(ARTIFACT):
        os.unlink(ARTIFACT)
    yield hostile, bystander
    for pw in (hostile, bystander):
        reset(pw)
    if os.path.lexists(ARTIFACT):
        os.unlink(ARTIFACT)


def both(hostile, bystander, **extra):
    return dict(users=[dict(name=hostile.pw_name, hosts=HOSTS), dict(name=bystander.pw_name, hosts=HOSTS)],
                command_timeout=LIMIT, **extra)


def bystander_converged(bystander):
    with open(os.path.join(bystander.pw_dir, '.ssh', 'config')) as f:
        return 'ServerAliveInterval 60' in f.read()


# -- finding 1: two spellings of one Include path crash the staging for the whole host ----------------

def test_two_spellings_of_one_include_do_not_stop_the_host(people):
    hostile, bystander = people
    user_file(hostile, 'a', 'Host x\n    User a\n')
    user_file(hostile, 'config', 'Include ~/.ssh/a\nInclude ~/.ssh/./a\nHost y\n    User b\n')
    user_file(bystander, 'config', 'Host z\n    User c\n')
    result, raw, _elapsed = run_full('client_keepalive', both(hostile, bystander))  # no JSON today: traceback
    assert not result.get('failed'), raw
    assert bystander_converged(bystander)
    info = dict(path=None, system_config=None, command_timeout=LIMIT,
                users=[dict(name=hostile.pw_name), dict(name=bystander.pw_name)], host_names=['x'])
    result, raw, _elapsed = run_full('keepalive_info', info)
    assert not result.get('failed'), raw
    assert 'reason' not in result['clients'][bystander.pw_name]


# -- finding 2: backup=true reads the user's file as root, unbounded ---------------------------------

SWAP = 'truncate -s 100G ~/.ssh/big 2>/dev/null && mv ~/.ssh/big ~/.ssh/config\nexit 1\n'


def test_backup_never_reads_a_users_file_unbounded_as_root(people):
    """The user's Match exec (run during validation, as the user) swaps the already-read config for a
    100 GB sparse file; the backup must not read it as root (today: MemoryError, the host's run dies)."""
    hostile, bystander = people
    user_file(hostile, 'swap.sh', SWAP)
    user_file(hostile, 'config', 'Host y\n    User b\nMatch exec "sh ~/.ssh/swap.sh"\n    User q\n')
    user_file(bystander, 'config', 'Host z\n    User c\n')
    result, raw, _elapsed = run_full('client_keepalive', both(hostile, bystander, backup=True))
    assert not result.get('failed'), raw
    assert bystander_converged(bystander)
    for name in os.listdir(os.path.join(hostile.pw_dir, '.ssh')):
        assert os.lstat(os.path.join(hostile.pw_dir, '.ssh', name)).st_blocks * 512 < 2 * 1024 * 1024, name


# -- the controller-side probe ---------------------------------------------------------------------

def slow_listing(pw, files=1200):
    """An Include glob over a big directory: the probe's listing round runs for seconds, as the user."""
    d = os.path.join(pw.pw_dir, '.ssh', 'd')
    os.mkdir(d)
    for i in range(files):
        with open(os.path.join(d, 'f%d.conf' % i), 'w') as f:
            f.write('Host h%d\n    User u\n' % i)
    subprocess.run(['chown', '-R', '%d:%d' % (pw.pw_uid, pw.pw_gid), d], check=True)
    user_file(pw, 'config', 'Include d/*.conf\nHost *\n    ServerAliveInterval 60\n')


STOPPER = r'''
import os, signal, sys, time
me, end = os.getuid(), time.time() + float(sys.argv[1])
while time.time() < end:
    for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
        try:
            if os.stat('/proc/' + pid).st_uid != me:
                continue
            cmd = open('/proc/%s/cmdline' % pid, 'rb').read().split(b'\0')
        except OSError:
            continue
        if len(cmd) > 2 and cmd[1] == b'-c' and cmd[2].startswith(b'CAP='):
            os.kill(int(pid), signal.SIGSTOP)  # the user's own probe shell: everything the user can stop
            print(pid, flush=True)
            sys.exit(0)
'''


def decide(hostile, bystander, cap):
    """The client action's no-op decision with sh as root; (result, seconds, bytes the host sent)."""
    from ansible_collections.keepalive.ssh.plugins.action.client_keepalive import ActionModule
    sent = []

    def sh(script):
        proc = subprocess.run(['/bin/sh', '-c', script], capture_output=True, check=False, timeout=cap)
        sent.append(len(proc.stdout))
        return proc.returncode, proc.stdout.decode('utf-8', 'surrogateescape')
    action = ActionModule.__new__(ActionModule)
    start = time.time()
    result = action.decision(action.validated(both(hostile, bystander)), sh, False)[0]
    return result, time.time() - start, sum(sent)


def test_probe_time_limit_is_not_the_users_to_stop(people):
    """The user stops their own probe shell (SIGSTOP): root's `timeout` still ends the round in time.
    (When the limit was a `timeout` running as the user, the user stopped it too and the play waited
    for the task timeout, 900 s in the role.)"""
    hostile, bystander = people
    slow_listing(hostile)
    user_file(bystander, 'config', 'Host z\n    User c\n')
    stopper = subprocess.Popen(as_user(hostile, sys.executable, '-c', STOPPER, '60'), stdout=subprocess.PIPE, text=True)
    stopped = []
    try:
        time.sleep(0.3)
        start = time.time()
        try:
            decide(hostile, bystander, cap=LIMIT * 3 + MARGIN)
        except subprocess.TimeoutExpired:
            pytest.fail('the probe was still running after %.0f s (command_timeout %d)'
                        % (time.time() - start, LIMIT))
    finally:
        stopper.kill()
        stopped = stopper.communicate()[0].split()
        for pid in stopped:  # the stopped probe processes, by their ids
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
    assert stopped, 'the user never saw their probe shell: nothing was stopped, nothing was proven'


def test_probe_output_is_bounded(people):
    """1 MB of the user's disk (one file, 300 hard links beside an Include glob that matches none of them)
    must not send hundreds of MB to the controller: today every regular entry of the directory is dumped."""
    hostile, bystander = people
    d = os.path.join(hostile.pw_dir, '.ssh', 'd')
    os.mkdir(d)
    big = os.path.join(d, 'big')
    with open(big, 'w') as f:
        f.write(('# %s\n' % ('x' * 76)) * 12000)  # < 1 MiB, a valid config
    for i in range(300):
        os.link(big, os.path.join(d, '.l%d' % i))
    subprocess.run(['chown', '-R', '%d:%d' % (hostile.pw_uid, hostile.pw_gid), d], check=True)
    user_file(hostile, 'config', 'Include d/*.conf\nHost *\n    ServerAliveInterval 60\n')
    user_file(bystander, 'config', 'Host *\n    ServerAliveInterval 60\n')
    _result, _elapsed, sent = decide(hostile, bystander, cap=120)
    assert sent < 64 * 1024 * 1024, '%d MB sent to the controller' % (sent // 2 ** 20)


def test_probe_records_only_name_files_of_their_own_request():
    """A record from a user's shell (which the user can ptrace) names a file by joining the request's
    directory with a name: an absolute name replaces another user's file in the controller's view."""
    from ansible_collections.keepalive.ssh.plugins.plugin_utils.snapshot import Snapshot, Unsupported
    snap = Snapshot(run=None)
    forged = ['D 0 dir', '.', 'N 0 =' + base64.b64encode(b'/home/karev2/.ssh/config').decode(),
              '600 1 1008 1008', base64.b64encode(b'Host *\n    ServerAliveInterval 60\n').decode(), '.']
    try:
        snap.parse(forged, [('d', '/home/karev1/.ssh/d')])
    except Unsupported:
        return
    assert '/home/karev2/.ssh/config' not in snap.files


# -- path without user ----------------------------------------------------------------------------

def test_a_users_file_given_by_path_alone_is_not_evaluated_as_root(people):
    """`path: /home/USER/.ssh/config` without `user:` validates with ssh -G as root: the user's Match exec
    runs as root.  A file below a home (or owned by someone else) must be read and checked as its owner,
    or refused."""
    hostile, _bystander = people
    user_file(hostile, 'config', 'Host y\n    User b\nMatch exec "id -u > %s; exit 1"\n    User q\n' % ARTIFACT)
    run_full('client_keepalive', dict(path=os.path.join(hostile.pw_dir, '.ssh', 'config'), hosts=HOSTS,
                                      command_timeout=LIMIT))
    if os.path.lexists(ARTIFACT):
        with open(ARTIFACT) as f:
            assert f.read().strip() == str(hostile.pw_uid), 'the user\'s command ran as root'


# -- output hygiene and budgets ----------------------------------------------------------------------

def test_reasons_carry_no_terminal_control_characters(people):
    hostile, bystander = people
    name = 'x\x1bc\x1b]0;owned\x07'
    fifo = os.path.join(hostile.pw_dir, '.ssh', name)
    os.mkfifo(fifo)
    os.chown(fifo, hostile.pw_uid, hostile.pw_gid)
    user_file(hostile, 'config', 'Include ~/.ssh/%s\n' % name)
    user_file(bystander, 'config', 'Host z\n    User c\n')
    result, _raw, _elapsed = run_full('client_keepalive', both(hostile, bystander))
    reasons = [s['reason'] for s in result['skipped_users']]
    assert reasons and not any(re.search(r'[\x00-\x1f\x7f]', r) for r in reasons), reasons


def test_audit_of_one_user_has_one_time_budget(people):
    """keepalive_info gives each ssh -G a fresh command_timeout: a Match exec sleeping just under it
    multiplies the user's cost by the number of host names."""
    hostile, bystander = people
    user_file(hostile, 'config', 'Match exec "sleep %s; exit 1"\n    User q\n' % (LIMIT - 0.5))
    info = dict(path=None, system_config=None, command_timeout=LIMIT, host_names=['h%d' % i for i in range(10)],
                users=[dict(name=hostile.pw_name), dict(name=bystander.pw_name)])
    _result, _raw, elapsed = run_full('keepalive_info', info)
    assert elapsed < LIMIT * 2 + MARGIN, 'one user made the audit take %.1f s' % elapsed
