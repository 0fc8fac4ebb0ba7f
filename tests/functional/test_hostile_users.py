"""A hostile local user against every root-run reader of their files (issue 10).

The user controls only their own home.  For each attack class and each read path (client_keepalive,
keepalive_info, the controller-side no-op probe) the run must: not run the user's commands as root,
not put one byte of a root-only secret in its output, finish within the limit, and converge the
other user.  The hostile user is kamallory, the bystander katrent (made like the fleet's users; users of
their own, so other suites that reset kaalice's home never race this one).
"""
import glob
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

from kalib import huge_config, start_module
from fleet import ensure_users  # noqa: E402  pylint: disable=wrong-import-order

HOSTS = [dict(pattern='bastion', server_alive_interval=30, server_alive_count_max=20),
         dict(pattern='*', server_alive_interval=60, server_alive_count_max=10)]
LIMIT = 4          # command_timeout given to the modules in these tests
MARGIN = 20        # seconds a loaded 2-core box may add to a run that respects the limit
SECRET = 'KEEPALIVE-SECRET-%s' % uuid.uuid4().hex
ARTIFACT = '/tmp/keepalive-hostile-artifact'


def as_user(pw, *argv):
    """A command as the hostile user (what they can do on the host)."""
    return ['setpriv', '--reuid=%d' % pw.pw_uid, '--regid=%d' % pw.pw_gid, '--init-groups', '--'] + list(argv)


@pytest.fixture
def secret():
    """A root-only file beside the homes (the user can reach the directory, not the file)."""
    path = '/home/.keepalive-root-secret-%d' % os.getpid()  # one per run: parallel runs share /home
    with open(path, 'w') as f:
        f.write('Host %s\n    User %s\n%s:$y$j9T$hash:19000:0:99999:7:::\n' % (SECRET, SECRET, SECRET))
    os.chmod(path, 0o600)
    yield path
    os.unlink(path)


def reset(pw):
    ssh = os.path.join(pw.pw_dir, '.ssh')
    subprocess.run(['rm', '-rf', ssh], check=True)
    os.mkdir(ssh, 0o700)
    os.chown(ssh, pw.pw_uid, pw.pw_gid)
    return ssh


def user_file(pw, name, text):
    path = os.path.join(pw.pw_dir, '.ssh', name)
    with open(path, 'w') as f:
        f.write(text)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    os.chmod(path, 0o600)
    return path


# -- the attack classes: each prepares the hostile user's home --------------------------------------

def match_exec(pw, secret):
    user_file(pw, 'config', 'Match exec "id -u > %s"\n    User x\nHost *\n    User y\n' % ARTIFACT)


def include_root_only(pw, secret):
    user_file(pw, 'config', 'Include %s\nHost work\n    User me\n' % secret)


def symlink_to_root_only(pw, secret):
    os.symlink(secret, os.path.join(pw.pw_dir, '.ssh', 'inc'))
    user_file(pw, 'config', 'Include ~/.ssh/inc\n')


def tilde_is_the_users_home(pw, secret):
    # as root, ~ would be /root: the user's own ~/.ssh/x must be read (a harmless file of theirs)
    user_file(pw, 'x', 'Host tilde\n    User mine\n')
    user_file(pw, 'config', 'Include ~/.ssh/x\n')


def fifo(pw, secret):
    path = os.path.join(pw.pw_dir, '.ssh', 'fifo')
    os.mkfifo(path)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    user_file(pw, 'config', 'Include ~/.ssh/fifo\n')


def fifo_glob(pw, secret):
    fifo(pw, secret)
    user_file(pw, 'config', 'Include ~/.ssh/fi*\n')


def dev_zero(pw, secret):
    user_file(pw, 'config', 'Include /dev/zero\n')


def sparse(pw, secret):
    path = user_file(pw, 'big', '')
    os.truncate(path, 10 * 1024 ** 3)
    user_file(pw, 'config', 'Include ~/.ssh/big\n')


def sleeper(pw, secret):
    user_file(pw, 'config', 'Match exec "sleep 100000"\n    User x\n')


def star_pattern(pw, secret):
    user_file(pw, 'config', 'Host %sx\n    User y\nHost %s\n    User z\n' % ('*' * 300, '*?' * 3000))


def unparsable(pw, secret):
    user_file(pw, 'config', 'Host a\n"%s\n' % secret)


def root_only_file_in_home(pw, secret):
    # a file the user cannot read, inside their home (hard-linked there by root, or left by an admin):
    # a reader with root's rights would read it; the user's own ssh cannot
    inc = os.path.join(pw.pw_dir, '.ssh', 'inc')
    with open(secret) as f, open(inc, 'w') as g:
        g.write(f.read())
    os.chmod(inc, 0o600)
    user_file(pw, 'config', 'Include ~/.ssh/inc\n')


def config_is_symlink(pw, secret):
    os.symlink(secret, os.path.join(pw.pw_dir, '.ssh', 'config'))


CLASSES = [match_exec, include_root_only, symlink_to_root_only, tilde_is_the_users_home, fifo, fifo_glob,
           dev_zero, sparse, sleeper, star_pattern, unparsable, root_only_file_in_home, config_is_symlink]
# classes after which the hostile user's file is still usable (the others are skipped with a reason)
USABLE = {match_exec, tilde_is_the_users_home, fifo_glob, star_pattern}


# -- the read paths ---------------------------------------------------------------------------------

def run_full(name, args):
    """Module result, its raw stdout+stderr and the elapsed time."""
    fd, argfile = tempfile.mkstemp(prefix='keepalive-args-', suffix='.json')
    os.close(fd)
    start = time.time()
    try:
        proc = start_module(name, args, argfile, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = proc.communicate(timeout=LIMIT * 6 + MARGIN * 3)
        except subprocess.TimeoutExpired:
            proc.kill()  # a run past every limit fails the test; it must not go on as root after it
            proc.communicate()
            raise
    finally:
        os.unlink(argfile)
    return json.loads(out), out + err, time.time() - start


def client_path(hostile, bystander):
    args = dict(users=[dict(name=hostile.pw_name, hosts=HOSTS), dict(name=bystander.pw_name, hosts=HOSTS)],
                command_timeout=LIMIT)
    result, raw, elapsed = run_full('client_keepalive', args)
    assert not result.get('failed'), result
    with open(os.path.join(bystander.pw_dir, '.ssh', 'config')) as f:
        assert 'ServerAliveInterval 60' in f.read()  # the other user converged
    skipped = [s['user'] for s in result['skipped_users']]
    return skipped, raw, elapsed


def info_path(hostile, bystander):
    expect = [dict(pattern='bastion', server_alive_interval=30)]
    args = dict(path=None, system_config=None, command_timeout=LIMIT,
                users=[dict(name=hostile.pw_name, expect=expect), dict(name=bystander.pw_name, expect=expect)])
    user_file(bystander, 'config', 'Host bastion\n    ServerAliveInterval 30\n')
    result, raw, elapsed = run_full('keepalive_info', args)
    assert not result.get('failed'), result
    assert 'reason' not in result['clients'][bystander.pw_name]
    assert result['clients'][bystander.pw_name]['hosts']['bastion']['ServerAliveInterval']['value'] == '30'
    skipped = [s['user'] for s in result['skipped_users']]
    for name in skipped:  # shown not compliant, with the reason
        assert result['clients'][name]['compliant'] is False and result['clients'][name]['reason']
        assert any(d.startswith('%s: not compliant' % name) for d in result['drift'])
    return skipped, raw, elapsed


def local_sh(script):
    proc = subprocess.run(['/bin/sh', '-c', script], capture_output=True, check=False, timeout=LIMIT * 3 + MARGIN)
    return proc.returncode, proc.stdout.decode('utf-8', 'surrogateescape')


def probe_path(hostile, bystander):
    """The controller-side no-op probe, run here with sh as root (as become would): it reads users' files
    as them; whatever it cannot judge goes to the module.  Nothing of the secret may reach the controller."""
    from ansible_collections.keepalive.ssh.plugins.action.client_keepalive import ActionModule
    args = dict(users=[dict(name=hostile.pw_name, hosts=HOSTS), dict(name=bystander.pw_name, hosts=HOSTS)],
                command_timeout=LIMIT)
    action = ActionModule.__new__(ActionModule)
    start = time.time()
    result, why, snapshot = action.decision(action.validated(args), local_sh, False)
    elapsed = time.time() - start
    seen = repr(result) + why + ''.join(repr(e.data) for e in snapshot.files.values())
    skipped = [] if result is not None else [hostile.pw_name]  # the module decides for this host
    # the bystander alone is still decided on the controller (their converged file is read as them)
    alone = dict(users=[dict(name=bystander.pw_name, hosts=HOSTS)], command_timeout=LIMIT)
    client_path(hostile, bystander)
    assert action.decision(action.validated(alone), local_sh, False)[0] is not None
    return skipped, seen, elapsed


PATHS = {'client_keepalive': client_path, 'keepalive_info': info_path, 'probe': probe_path}


HOSTILE, BYSTANDER = 'kamallory', 'katrent'


@pytest.fixture
def people():
    ensure_users((HOSTILE, BYSTANDER))
    hostile, bystander = pwd.getpwnam(HOSTILE), pwd.getpwnam(BYSTANDER)
    reset(hostile)
    reset(bystander)
    if os.path.lexists(ARTIFACT):
        os.unlink(ARTIFACT)
    yield hostile, bystander
    reset(hostile)
    reset(bystander)
    if os.path.lexists(ARTIFACT):
        os.unlink(ARTIFACT)


@pytest.mark.parametrize('path', sorted(PATHS))
@pytest.mark.parametrize('attack', CLASSES, ids=lambda c: c.__name__)
def test_hostile_user_gets_nothing(people, secret, attack, path):
    hostile, bystander = people
    attack(hostile, secret)
    skipped, raw, elapsed = PATHS[path](hostile, bystander)
    assert SECRET not in raw, 'a byte of the root-only file reached the output'
    assert elapsed < LIMIT * 2 + MARGIN, 'the run took %.1f s' % elapsed
    if os.path.lexists(ARTIFACT):  # the user's command may run, as the user, never as root
        st = os.lstat(ARTIFACT)
        assert st.st_uid == hostile.pw_uid
        with open(ARTIFACT) as f:
            assert f.read().strip() == str(hostile.pw_uid)
    assert bystander.pw_name not in skipped
    if path != 'probe' and attack is not star_pattern:  # the probe hands a host to the module for many reasons
        assert (hostile.pw_name in skipped) is (attack not in USABLE), skipped
    # thousands of patterns mean thousands of ssh -G names to compare: within the limit, or skipped for it


def test_match_exec_runs_as_the_user_when_validating(people, secret):
    """The artifact exists: ssh -G did evaluate the file, as the user (uid in the file, file owned by them)."""
    hostile, bystander = people
    match_exec(hostile, secret)
    client_path(hostile, bystander)
    assert os.lstat(ARTIFACT).st_uid == hostile.pw_uid
    os.unlink(ARTIFACT)
    info_path(hostile, bystander)
    assert os.lstat(ARTIFACT).st_uid == hostile.pw_uid


def test_lock_holder_is_skipped_and_the_host_goes_on(people):
    hostile, bystander = people
    user_file(hostile, 'config', 'Host a\n    User b\n')
    holder = subprocess.Popen(as_user(hostile, 'flock', os.path.join(hostile.pw_dir, '.ssh'), 'sleep', '60'))
    try:
        time.sleep(0.5)
        skipped, _raw, elapsed = client_path(hostile, bystander)
    finally:
        holder.kill()
        holder.wait()
    assert skipped == [hostile.pw_name] and elapsed < LIMIT * 2 + MARGIN


def test_strict_turns_a_skip_into_a_failure(people, secret):
    hostile, bystander = people
    include_root_only(hostile, secret)
    args = dict(users=[dict(name=hostile.pw_name, hosts=HOSTS)], strict=True)
    result, raw, _elapsed = run_full('client_keepalive', args)
    assert result['failed'] and 'Permission denied' in result['msg'] and SECRET not in raw
    info = dict(path=None, system_config=None, strict=True, users=[dict(name=hostile.pw_name)])
    result, raw, _elapsed = run_full('keepalive_info', info)
    assert result['failed'] and SECRET not in raw


def test_racer_swapping_the_include_for_a_symlink(people, secret):
    """A bounded racer swaps a regular Include target for a symlink to the secret while the modules read."""
    hostile, bystander = people
    inc = user_file(hostile, 'inc', 'Host raced\n    User mine\n')
    user_file(hostile, 'config', 'Include ~/.ssh/inc\n')
    racer = subprocess.Popen(as_user(hostile, sys.executable, '-c', RACER, inc, secret, '100000'))
    try:
        for path in sorted(PATHS):
            for _round in range(3):
                _skipped, raw, _elapsed = PATHS[path](hostile, bystander)
                assert SECRET not in raw
    finally:
        racer.kill()  # bounded by its iteration count; stopped early when the reads are done first
        racer.wait()


RACER = r'''
import os, sys
inc, target, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
tmp = inc + '.tmp'
for i in range(n):
    try:
        os.unlink(tmp)
    except OSError:
        pass
    if i % 2:
        os.symlink(target, tmp)
    else:
        with open(tmp, 'w') as f:
            f.write('Host raced\n    User mine\n')
    os.rename(tmp, inc)
'''


def test_linear_pattern_match_on_the_host_engine():
    """10,000 characters of * and ? against a long name: milliseconds, no backtracking."""
    from ansible_collections.keepalive.ssh.plugins.module_utils.sshconf import match_pattern
    pattern = ('*?' * 5000)
    start = time.time()
    assert match_pattern('h' * 20000, pattern)
    assert not match_pattern('bastion', '*' * 10000 + 'x')
    assert match_pattern('bastion', '*' * 9999 + 'n')
    # a backtracking regex needs minutes for 60 stars; 2 s is a margin for a loaded box, not a benchmark
    assert time.time() - start < 2


def test_huge_config_costs_its_user_at_most_their_budget(people):
    """174,000 Host names: every step is linear in the file or counted against the user's one budget
    (command_timeout); the budget is spent on the no-collateral ssh -G runs, the user is skipped for it and
    the other user converges, the whole run within the limit."""
    hostile, bystander = people
    text = huge_config()
    assert 0.9 * 1024 * 1024 < len(text) <= 1024 * 1024
    user_file(hostile, 'config', text)
    skipped, _raw, elapsed = client_path(hostile, bystander)
    assert skipped == [hostile.pw_name] and elapsed < LIMIT * 2 + MARGIN, (skipped, elapsed)


def processes_of(pw):
    """The user's live processes, '(pid) command' (a zombie is already dead: no parent reaped it yet)."""
    out = subprocess.run(['ps', '-u', str(pw.pw_uid), '-o', 'pid=,stat=,args='], capture_output=True, text=True,
                         check=False).stdout
    return [line.split(None, 2)[0] + ' ' + line.split(None, 2)[-1] for line in out.splitlines()
            if line.split()[1:2] and not line.split()[1].startswith('Z')]


def test_no_process_outlives_a_killed_module(people, secret):
    """The module dies by SIGKILL (nothing of ours can clean up) while the user's ssh -G runs their Match
    exec: the kernel and the group's watcher end ssh and the command it started."""
    hostile, bystander = people
    sleeper(hostile, secret)
    deadline = time.time() + 5
    while processes_of(hostile) and time.time() < deadline:  # what earlier runs killed is gone
        time.sleep(0.1)
    before = set(processes_of(hostile))  # not this run's (another test's leftover)
    fd, argfile = tempfile.mkstemp(prefix='keepalive-args-', suffix='.json')
    os.close(fd)
    start = time.time()
    proc = start_module('client_keepalive', dict(users=[dict(name=hostile.pw_name, hosts=HOSTS)],
                                                 command_timeout=300), argfile,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + MARGIN
        while not any('sleep 100000' in p for p in processes_of(hostile)) and time.time() < deadline:
            time.sleep(0.1)
        assert any('sleep 100000' in p for p in processes_of(hostile)), 'the user\'s Match exec never ran'
        proc.kill()
        proc.wait()
        deadline = time.time() + 5
        while set(processes_of(hostile)) - before and time.time() < deadline:
            time.sleep(0.1)
        left = sorted(set(processes_of(hostile)) - before)
    finally:
        os.unlink(argfile)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for private in glob.glob('/tmp/keepalive-%s-*' % hostile.pw_name):
            if os.lstat(private).st_mtime >= start - 1:  # the killed run's staging directory
                shutil.rmtree(private)
        for process in set(processes_of(hostile)) - before:  # what this test started as the user, by id
            try:
                os.kill(int(process.split()[0]), 9)
            except OSError:
                pass
    assert not left, 'processes of the run outlived the module: %s' % left


# an OSC title change, a screen clear, a colour, a backspace, a CR that overwrites the line, C1 controls
CONTROLS = '\x1b]0;owned\x07\x1b[2J\x1b[31m\x08\x9b1m'
COMMENT = CONTROLS + '\rfake line\x85\x1c'


def raw_controls(value, key=None):
    """Every string of a result holding a control character (a diff's before/after may break lines)."""
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in raw_controls(k) + raw_controls(v, k)]
    if isinstance(value, list):
        return [s for v in value for s in raw_controls(v)]
    if isinstance(value, str):
        allowed = '\n\t' if key in ('before', 'after') else ''
        return [value] if any(not c.isprintable() and c not in allowed for c in value) else []
    return []


@pytest.mark.parametrize('state', ['present', 'absent'])
def test_control_characters_of_a_users_files_are_escaped(people, state):
    """Lines and file names of a user's files reach the result (diff, messages, removed, effective,
    warnings) only escaped: with --diff, Ansible prints them on the admin's terminal."""
    hostile, bystander = people
    user_file(hostile, 'inc' + CONTROLS, 'Host *\n    ServerAliveInterval 5\n')
    user_file(hostile, 'config', '# %s\nInclude ~/.ssh/inc*\nHost bastion\n    ServerAliveInterval 30\n'
              '    ServerAliveCountMax 20\n' % COMMENT)
    hosts = HOSTS if state == 'present' else [dict(pattern='bastion')]
    args = dict(users=[dict(name=hostile.pw_name, hosts=hosts, state=state)])
    result, _raw, _elapsed = run_full('client_keepalive', args)
    assert not result.get('failed') and not result['skipped_users'], result
    assert raw_controls(result) == []
    # the texts did get through, escaped
    assert '\\x1b]0;owned\\x07' in result['diff'][0]['before'] and '\\rfake line' in result['diff'][0]['before']


@pytest.fixture
def admin_dir():
    """A directory only root controls, that every user can read (as /etc/ssh is)."""
    path = tempfile.mkdtemp(prefix='.keepalive-admin-', dir='/home')
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path)


def users_include_dir(pw, secret):
    """A directory the user writes, with their Match exec and a symlink to a root-only file."""
    directory = os.path.join(pw.pw_dir, '.ssh', 'conf.d')
    os.mkdir(directory, 0o755)
    os.chown(directory, pw.pw_uid, pw.pw_gid)
    with open(os.path.join(directory, 'a.conf'), 'w') as f:
        f.write('Match exec "id -u > %s"\n    User x\n' % ARTIFACT)
    os.symlink(secret, os.path.join(directory, 'b.conf'))
    return directory


@pytest.mark.parametrize('module', ['client_keepalive', 'keepalive_info'])
def test_admin_file_including_a_users_directory_is_not_evaluated_as_root(people, secret, admin_dir, module):
    """A root-owned file given by path (no user:) that Includes a directory a user writes: the user's
    Match exec never runs as root, and nothing of the root-only file the symlink names comes out."""
    hostile, _bystander = people
    directory = users_include_dir(hostile, secret)
    config = os.path.join(admin_dir, 'ssh_config')
    with open(config, 'w') as f:
        f.write('Include %s/*.conf\nHost *\n    User admin\n' % directory)
    if module == 'client_keepalive':
        args = dict(path=config, hosts=HOSTS, command_timeout=LIMIT)
    else:  # its client side reads the system file as each user; its server side is test_sshd_tree_...
        args = dict(path='', system_config=config, users=[dict(name=hostile.pw_name)], command_timeout=LIMIT)
    result, raw, _elapsed = run_full(module, args)
    assert SECRET not in raw and 'KEEPALIVE-SECRET' not in raw
    if os.path.lexists(ARTIFACT):
        with open(ARTIFACT) as f:
            assert f.read().strip() == str(hostile.pw_uid), 'the user\'s Match exec ran as root'
    if module == 'client_keepalive':  # evaluated as the owner of the directory, as their own file is
        assert result.get('failed') or os.lstat(ARTIFACT).st_uid == hostile.pw_uid, result


@pytest.mark.parametrize('module', ['sshd_keepalive', 'keepalive_info'])
def test_sshd_tree_including_a_users_directory_is_refused(people, secret, tmp_path, hostkey, module):
    """sshd -T can only run as root: an sshd_config whose Include reaches a directory a user writes
    is refused, with the reason, before sshd reads it."""
    hostile, _bystander = people
    directory = users_include_dir(hostile, secret)
    config = tmp_path / 'sshd_config'
    config.write_text('HostKey %s\nInclude %s/*.conf\n' % (hostkey, directory))
    if module == 'sshd_keepalive':
        args = dict(path=str(config), client_alive_interval=60, command_timeout=LIMIT)
    else:
        args = dict(path=str(config), system_config='', command_timeout=LIMIT)
    result, raw, _elapsed = run_full(module, args)
    assert SECRET not in raw and 'KEEPALIVE-SECRET' not in raw
    assert result.get('failed') and '%s belongs to uid %d' % (directory, hostile.pw_uid) in result['msg'], result
    assert not os.path.lexists(ARTIFACT)


def test_probe_says_the_user_cannot_read_their_include(people, secret):
    """The controller-side probe hands the host to the module saying what happened (the user may not read
    a file of their tree), not that a tool is missing."""
    from ansible_collections.keepalive.ssh.plugins.action.client_keepalive import ActionModule
    hostile, _bystander = people
    root_only_file_in_home(hostile, secret)
    inc = os.path.join(hostile.pw_dir, '.ssh', 'inc')
    user_file(hostile, 'config', 'Include %s\n' % inc)  # spelled out: the probe leaves ~ to the module
    action = ActionModule.__new__(ActionModule)
    args = dict(users=[dict(name=hostile.pw_name, hosts=HOSTS)], command_timeout=LIMIT)
    result, why, _snapshot = action.decision(action.validated(args), local_sh, False)
    assert result is None and why.startswith('%s: Permission denied' % inc), why
