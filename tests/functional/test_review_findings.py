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


def test_client_role_command_timeout_is_one_budget_per_user(people):
    """client_keepalive (the client role's call): command_timeout is what one user's files may cost in all,
    not per ssh -G; a Match exec sleeping just under it on every ssh -G (validation and the no-collateral
    check ask about each of 10 host names) cannot multiply it."""
    hostile, bystander = people
    user_file(hostile, 'config', 'Match exec "sleep %s; exit 1"\n    User q\n' % (LIMIT - 0.5))
    hosts = [dict(pattern='h%d' % i, server_alive_interval=30) for i in range(10)]
    args = dict(users=[dict(name=hostile.pw_name, hosts=hosts), dict(name=bystander.pw_name, hosts=hosts)],
                command_timeout=LIMIT)
    result, raw, elapsed = run_full('client_keepalive', args)
    assert not result.get('failed'), raw
    assert [s['user'] for s in result['skipped_users']] == [hostile.pw_name], raw
    assert elapsed < LIMIT * 2 + MARGIN, 'one user made the run take %.1f s' % elapsed


# -- second review (the probe after its cost cuts): findings F1-F4 ---------------------------------

RACES = 40


def _swapper(pw, directory, target, kind):
    """The user swaps DIRECTORY/ssh_config between a regular file and a symlink to TARGET (or a FIFO),
    RACES * 50 times: bounded."""
    script = ('import os, sys\nd, t, kind = sys.argv[1:]\nf = os.path.join(d, "ssh_config")\n'
              'for _ in range(%d):\n'
              '    for make in ("file", kind):\n'
              '        tmp = os.path.join(d, ".new")\n'
              '        try:\n'
              '            os.unlink(tmp)\n'
              '        except OSError:\n'
              '            pass\n'
              '        if make == "file":\n'
              '            open(tmp, "w").write("Host *\\n    ServerAliveInterval 60\\n")\n'
              '        elif make == "link":\n'
              '            os.symlink(t, tmp)\n'
              '        else:\n'
              '            os.mkfifo(tmp)\n'
              '        os.rename(tmp, f)\n' % (RACES * 50))
    return subprocess.Popen(as_user(pw, sys.executable, '-c', script, directory, target, kind))


@pytest.mark.parametrize('kind', ['link', 'fifo'])
def test_a_file_without_user_in_a_sticky_directory_is_not_roots_to_read(people, tmp_path, kind):
    """F1: `path:` without `user:` in a world-writable sticky directory: the user swaps the file for a
    symlink to a root-only secret (root's shell would send its bytes to the controller) or a FIFO
    (root's own reads have no time limit). The probe must leave such a file to the module."""
    from ansible_collections.keepalive.ssh.plugins.action.client_keepalive import ActionModule
    hostile, _bystander = people
    sticky = tmp_path / 'sticky'
    sticky.mkdir()
    os.chmod(str(sticky), 0o1777)
    secret = tmp_path / 'secret'
    secret.write_text('KEEPALIVE-ROOT-ONLY-BYTES\n')
    os.chmod(str(secret), 0o600)
    os.chmod(str(tmp_path), 0o755)
    seen = []

    def sh(script):
        proc = subprocess.run(['/bin/sh', '-c', script], capture_output=True, check=False, timeout=LIMIT + MARGIN)
        seen.append(proc.stdout)
        return proc.returncode, proc.stdout.decode('utf-8', 'surrogateescape')
    action = ActionModule.__new__(ActionModule)
    # even a converged file of root's: what the user can do there between two reads is the question
    (sticky / 'ssh_config').write_text('Host *\n    ServerAliveInterval 60\n')
    for _attempt in range(2):
        converged = run_full('client_keepalive', dict(path=str(sticky / 'ssh_config'), hosts=HOSTS))[0]
    assert converged['changed'] is False and os.stat(str(sticky / 'ssh_config')).st_uid == 0, converged
    assert action.decision(action.validated(dict(path=str(sticky / 'ssh_config'), hosts=HOSTS)), sh, False)[0] is None
    racer = _swapper(hostile, str(sticky), str(secret), kind)
    try:
        for _attempt in range(RACES):
            result = action.decision(action.validated(dict(path=str(sticky / 'ssh_config'), hosts=HOSTS)), sh, False)
            assert result[0] is None, 'decided on the controller from a file the user can swap'
    finally:
        racer.kill()
        racer.wait()
    out = b''.join(seen)
    assert b'KEEPALIVE-ROOT-ONLY-BYTES' not in out
    assert base64.b64encode(b'KEEPALIVE-ROOT-ONLY-BYTES') not in out


def test_a_users_frame_answers_nothing_of_another_users(tmp_path):
    """F2: a user's shell (ptraced) answers a request for a directory with a file record naming another
    user's config in it (an N record to an 'f' request), or names such a file from its own listing:
    the controller must not take it."""
    from ansible_collections.keepalive.ssh.plugins.plugin_utils.snapshot import Snapshot, Unsupported
    text = base64.b64encode(b'Host *\n    ServerAliveInterval 60\n').decode()

    def frame(indexes, records):
        return ['S ' + ','.join(str(i) for i in indexes)] + base64.encodebytes(records.encode()).decode().split() + ['E']
    snap = Snapshot(run=None)
    snap.read_as_named(['/srv/cfg/a.conf'], 'karev1')
    snap.read_as_named(['/srv/cfg/b.conf'], 'karev2')
    snap.read_as('/home/karev1', 1001, 1001)
    requests = [('f', '/srv/cfg/a.conf'), ('f', '/srv/cfg/b.conf'), ('d', '/home/karev1/d')]
    for forged in (frame([0], 'N 0 b.conf\n600 1 1002 1002\n%s\n.\n' % text),      # a record of another kind
                   frame([0], 'F 1 file\n600 1 1002 1002\n%s\n.\n' % text)):        # another user's index
        with pytest.raises(Unsupported):
            Snapshot.parse(snap, forged, requests)
    snap.read_as('/home/karev1/d/x', 1002, 1002)  # a path in karev1's directory read as someone else
    with pytest.raises(Unsupported, match='not read as its directory is'):
        snap.parse(frame([2], 'D 2 dir\nfile x\n.\nN 2 x\n600 1 1001 1001\n%s\n.\n' % text), requests)


def test_users_sharing_a_directory_go_to_the_module(people, tmp_path):
    """F2: two users' files given in one directory: neither user's shell may answer for it."""
    hostile, bystander = people
    shared = tmp_path / 'cfg'
    shared.mkdir()
    os.chmod(str(tmp_path), 0o755)
    os.chmod(str(shared), 0o1777)
    for pw in (hostile, bystander):
        path = shared / ('%s.conf' % pw.pw_name)
        path.write_text('Host *\n    ServerAliveInterval 60\n')
        os.chown(str(path), pw.pw_uid, pw.pw_gid)
    args = dict(users=[dict(name=pw.pw_name, path=str(shared / ('%s.conf' % pw.pw_name)), hosts=HOSTS)
                       for pw in (hostile, bystander)])
    result, why, _snapshot = _decide_here(args)
    assert result is None and 'share' in why, why


def test_passwd_lines_are_taken_whole_and_checked():
    """F3/F4: a GECOS field with other line breaks (U+2028, \\x1e) stays in its line; a line of another
    name, or ids setpriv would not take for what they are, is not used."""
    from ansible_collections.keepalive.ssh.plugins.plugin_utils.snapshot import BEGIN, END, Snapshot, Unsupported
    line = 'karev1:x:1001:1001:a\u2028.\u2028F 9 file\x1e:/home/karev1:/bin/sh'
    snap = Snapshot(lambda s: (0, '\n'.join([BEGIN, 'U 0', line, '.', END]) + '\n'))
    snap.fetch([('u', 'karev1')])
    assert snap.getpwnam('karev1').pw_dir == '/home/karev1'
    for bad in ('karev2:x:1001:1001::/home/karev2:/bin/sh', 'karev1:x:4294967295:1001::/home/karev1:/bin/sh',
                'karev1:x:99999999999:1001::/home/karev1:/bin/sh', 'karev1:x:-1:1001::/home/karev1:/bin/sh'):
        with pytest.raises(Unsupported):
            Snapshot(lambda s, b=bad: (0, '\n'.join([BEGIN, 'U 0', b, '.', END]) + '\n')).fetch([('u', 'karev1')])


def test_users_shells_inherit_no_descriptor_of_roots(tmp_path):
    """F4: root's shell may hold descriptors (a copy of the channel to the controller): a user's shell
    must not inherit them, nor root's working directory."""
    from ansible_collections.keepalive.ssh.plugins.plugin_utils.snapshot import Snapshot
    nobody = pwd.getpwnam('nobody')
    snap = Snapshot(lambda s: (0, subprocess.run(['/bin/sh', '-c', 'exec 5>&1; cd %s; %s' % (tmp_path, s)],
                                                 capture_output=True, check=False).stdout.decode()))
    snap.read_as('/proc/self', nobody.pw_uid, nobody.pw_gid)
    (tmp_path / 'here').write_text('')
    os.chmod(str(tmp_path), 0o755)
    snap.fetch([('f', '/proc/self/fd/5'), ('f', '/proc/self/cwd/here'), ('f', '/proc/self/fd/1')])
    assert snap.entry('/proc/self/fd/1').kind == 'link'  # the check can see an open descriptor
    assert snap.entry('/proc/self/fd/5').kind == 'missing'
    assert snap.entry('/proc/self/cwd/here').kind == 'missing'


# -- third review (the fixes above): H1, M1, L1, L2, L4 --------------------------------------------

def _decide_here(args):
    from ansible_collections.keepalive.ssh.plugins.action.client_keepalive import ActionModule
    action = ActionModule.__new__(ActionModule)
    return action.decision(action.validated(args), lambda s: (0, subprocess.run(
        ['/bin/sh', '-c', s], capture_output=True, check=False, timeout=LIMIT + MARGIN).stdout.decode()), False)


@pytest.mark.parametrize('spelling', ['/home//{u}/.ssh/inc', '/./home/{u}/.ssh/inc', '//home/{u}/.ssh/inc'])
def test_another_spelling_of_the_users_home_is_not_roots_to_read(people, spelling):
    """H1: who reads a path is decided from its spelling; `Include /home//USER/.ssh/inc` passed the
    home confinement (normalised) but was read by root's shell (not a prefix of the home): a swap to a
    symlink or FIFO then reached root. Only plain paths are read at all."""
    hostile, _bystander = people
    user_file(hostile, 'inc', 'Host z\n    User c\n')
    user_file(hostile, 'config', 'Include %s\nHost *\n    ServerAliveInterval 60\n' % spelling.format(u=hostile.pw_name))
    result, why, snapshot = _decide_here(dict(users=[dict(name=hostile.pw_name, hosts=HOSTS)]))
    assert result is None, why
    assert not [p for p in snapshot.files if p != os.path.normpath(p) or p.startswith('//')]  # never read


def test_a_path_with_a_double_slash_does_not_hang_the_controller(tmp_path):
    """M1: os.path.dirname('//') is '//': the walk up from `path: //x/ssh_config` never ended."""
    import multiprocessing
    why = multiprocessing.get_context('fork').Queue()
    child = multiprocessing.get_context('fork').Process(
        target=lambda: why.put(_decide_here(dict(path='/' + str(tmp_path / 'ssh_config'), hosts=HOSTS))[1]))
    child.start()
    child.join(60)
    if child.is_alive():
        child.kill()
        pytest.fail('the controller was still deciding after 60 s')
    assert 'plain' in why.get(timeout=5)


def test_roots_file_including_a_users_file_goes_to_the_module(people, tmp_path):
    """L1: a root-owned file given without user, in root's directory, including a file a user owns there:
    root's shell does not decide from the user's file (the module reads it as its owner)."""
    hostile, _bystander = people
    os.chmod(str(tmp_path), 0o755)
    (tmp_path / 'u.conf').write_text('Host u\n    User x\n')
    os.chown(str(tmp_path / 'u.conf'), hostile.pw_uid, hostile.pw_gid)
    main = tmp_path / 'ssh_config'
    main.write_text('Include %s/*.conf\nHost *\n    ServerAliveInterval 60\n' % tmp_path)
    for _attempt in range(2):
        run_full('client_keepalive', dict(path=str(main), hosts=HOSTS))
    result, why, _snapshot = _decide_here(dict(path=str(main), hosts=HOSTS))
    assert result is None and 'belongs to uid %d' % hostile.pw_uid in why, why


def test_a_relative_path_goes_to_the_module(tmp_path, monkeypatch):
    """L2: `path: ssh_config` names a file in a working directory the probe does not check."""
    monkeypatch.chdir(str(tmp_path))
    (tmp_path / 'ssh_config').write_text('Host *\n    ServerAliveInterval 60\n')
    for _attempt in range(2):
        converged = run_full('client_keepalive', dict(path='ssh_config', hosts=HOSTS))[0]
    assert converged['changed'] is False, converged
    result, why, _snapshot = _decide_here(dict(path='ssh_config', hosts=HOSTS))
    assert result is None, why


def test_roots_own_config_as_a_user_goes_to_the_module(tmp_path):
    """L4: `users: [{name: root, path: …}]` would make a 'user' shell of uid 0 read with root's rights
    wherever the path points; root's files are read only through directories only root controls."""
    config = tmp_path / 'config'
    config.write_text('Host *\n    ServerAliveInterval 60\n')
    args = dict(users=[dict(name='root', path=str(config), hosts=HOSTS)])
    for _attempt in range(2):
        converged = run_full('client_keepalive', args)[0]
    assert converged['changed'] is False, converged
    result, why, _snapshot = _decide_here(args)
    assert result is None, why
