"""Your own machine, without root: the module and the client role run as an unprivileged user manage that
user's own ~/.ssh/config, follow a dotfiles manager's symlink with only the user's rights, and skip a target
the user cannot replace with that reason.  Run as root, nothing of this changes."""
import json
import os
import pwd
import re
import shutil
import subprocess

import ansible
import pytest

from docsyaml import doc_examples
from kalib import ROOT, reachable_by_users, run, run_module, ssh_G
from fleet import ensure_users

OWNER = 'kaself'  # this file's own user: nobody else's tests touch its home
SITE = os.path.dirname(os.path.dirname(ansible.__file__))  # below /work: readable by every user
PYTHON = '/usr/bin/python3'  # the venv's interpreter lives below /root, which no user can reach
BLOCK = {'pattern': '*', 'server_alive_interval': 60}


@pytest.fixture
def me():
    """The unprivileged user, with an empty home (no ~/.ssh, no dotfiles) before and after the test."""
    ensure_users((OWNER,))
    pw = pwd.getpwnam(OWNER)
    empty_home(pw)
    yield pw
    empty_home(pw)


def empty_home(pw):
    for name in os.listdir(pw.pw_dir):
        path = os.path.join(pw.pw_dir, name)
        if os.path.isdir(path) and not os.path.islink(path):
            subprocess.run(['chmod', '-R', 'u+w', path], check=False)
            shutil.rmtree(path)
        else:
            os.unlink(path)


def as_user(pw, argv, **kw):
    """``argv`` run as ``pw`` the way they would run it: their uid and groups, their HOME, no root anywhere."""
    env = ['env', '-i', 'HOME=%s' % pw.pw_dir, 'USER=%s' % pw.pw_name, 'PATH=/usr/bin:/bin', 'LC_ALL=C.UTF-8',
           'PYTHONPATH=%s:%s' % (os.path.join(ROOT, '.build'), SITE)]
    return run(['runuser', '-u', pw.pw_name, '--'] + env + argv, cwd=pw.pw_dir, **kw)


def module_as(pw, args, check=False, prefix=()):
    """client_keepalive run as ``pw`` (``prefix``: a wrapper such as unshare, itself run as root)."""
    argfile = os.path.join(pw.pw_dir, 'args.json')
    with open(argfile, 'w') as f:
        json.dump({'ANSIBLE_MODULE_ARGS': dict(args, _ansible_check_mode=check, _ansible_diff=True)}, f)
    os.chmod(argfile, 0o644)
    module = os.path.join(ROOT, 'plugins', 'modules', 'client_keepalive.py')
    argv = ['runuser', '-u', pw.pw_name, '--', 'env', '-i', 'HOME=%s' % pw.pw_dir, 'PATH=/usr/bin:/bin',
            'PYTHONPATH=%s:%s' % (os.path.join(ROOT, '.build'), SITE), PYTHON, module, argfile]
    proc = run(list(prefix) + argv, cwd='/')
    os.unlink(argfile)
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError('module printed no JSON: %s %s' % (proc.stdout, proc.stderr))
    result['warnings'] = [w['event']['msg'] if isinstance(w, dict) else w for w in result.get('warnings', [])]
    return result


def write_as(pw, path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)
    os.chmod(path, mode)
    top = path
    while os.path.dirname(top) != pw.pw_dir:
        top = os.path.dirname(top)
    subprocess.run(['chown', '-R', '%d:%d' % (pw.pw_uid, pw.pw_gid), top], check=True)


def stow(pw, link, target):
    """``link`` → ``target`` (relative, as GNU stow makes it), owned by the user."""
    os.symlink(os.path.relpath(target, os.path.dirname(link)), link)
    os.lchown(link, pw.pw_uid, pw.pw_gid)


def test_without_a_target_the_user_manages_their_own_config(me):
    result = module_as(me, {'hosts': [BLOCK]})
    config = os.path.join(me.pw_dir, '.ssh', 'config')
    assert result['changed'] and result['path'] == config and result['skipped_users'] == [], result
    st, ssh_dir = os.lstat(config), os.lstat(os.path.dirname(config))
    assert (st.st_uid, st.st_mode & 0o7777, ssh_dir.st_uid, ssh_dir.st_mode & 0o7777) == (
        me.pw_uid, 0o600, me.pw_uid, 0o700)
    assert ssh_G(config, 'anything')['serveraliveinterval'] == '60'
    again = module_as(me, {'hosts': [BLOCK]})
    assert not again['changed'] and not again.get('failed'), again


def test_without_a_target_root_still_fails_unless_told_to_do_nothing():
    result = run_module('client_keepalive', {'hosts': [BLOCK]})
    assert result.get('failed') and 'one of user, path, system_config or users is required' in result['msg']
    assert 'run as root' in result['msg'], result
    nothing = run_module('client_keepalive', {'hosts': [BLOCK], 'as_root': 'nothing'})
    assert not nothing.get('failed') and not nothing['changed'] and nothing['files'] == [], nothing
    assert 'no file to manage' in nothing['messages'][0]


@pytest.mark.parametrize('linked', ['config', 'ssh_dir'])
def test_a_stow_symlinked_config_is_edited_at_its_target_and_stays_a_link(me, linked):
    package = os.path.join(me.pw_dir, 'dotfiles', 'ssh', '.ssh')
    target = os.path.join(package, 'config')
    write_as(me, target, 'Host work\n    User me\n\nHost *\n    ServerAliveInterval 30\n', 0o600)
    ssh_dir = os.path.join(me.pw_dir, '.ssh')
    if linked == 'config':
        os.mkdir(ssh_dir, 0o700)
        os.chown(ssh_dir, me.pw_uid, me.pw_gid)
        stow(me, os.path.join(ssh_dir, 'config'), target)
    else:
        stow(me, ssh_dir, package)
    before = os.readlink(os.path.join(me.pw_dir, '.ssh') if linked == 'ssh_dir' else os.path.join(ssh_dir, 'config'))
    result = module_as(me, {'hosts': [BLOCK]})
    assert result['changed'] and result['skipped_users'] == [] and not result['warnings'], result
    assert any('links to %s' % target in m for m in result['messages']), result
    link = os.path.join(me.pw_dir, '.ssh') if linked == 'ssh_dir' else os.path.join(ssh_dir, 'config')
    assert os.path.islink(link) and os.readlink(link) == before
    with open(target) as f:
        assert f.read() == 'Host work\n    User me\n\nHost *\n    ServerAliveInterval 60\n'
    st = os.lstat(target)
    assert (st.st_uid, st.st_mode & 0o7777) == (me.pw_uid, 0o600)
    assert ssh_G(os.path.join(ssh_dir, 'config'), 'work')['serveraliveinterval'] == '60'
    assert not module_as(me, {'hosts': [BLOCK]})['changed']


READ_ONLY = {
    # home-manager's files live in /nix/store: root's, not writable, on a read-only mount
    'store_dir': ([], 'may not write its directory'),
    'ro_mount': (['unshare', '--mount', '--propagation', 'private', 'sh', '-c',
                  'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'],
                 'is on a read-only file system'),
}


@pytest.mark.parametrize('check', [False, True], ids=['run', 'check_mode'])
@pytest.mark.parametrize('store', sorted(READ_ONLY))
def test_a_read_only_target_is_a_clear_skip(me, tmp_path, store, check):
    store_dir = tmp_path / 'nix' / 'store' / 'abc-home-manager-files'
    store_dir.mkdir(parents=True)
    target = store_dir / 'ssh_config'
    target.write_text('Host *\n  ServerAliveInterval 30\n')
    target.chmod(0o444)
    for path in (store_dir, store_dir.parent, store_dir.parent.parent, tmp_path):
        path.chmod(0o755)  # root's, readable by all, writable by none but root (/nix/store's shape)
    if store == 'ro_mount':  # the user's own directory: only the mount stops the write
        os.chown(str(store_dir), me.pw_uid, me.pw_gid)
        os.chown(str(target), me.pw_uid, me.pw_gid)
    reachable_by_users(tmp_path)
    ssh_dir = os.path.join(me.pw_dir, '.ssh')
    os.mkdir(ssh_dir, 0o700)
    os.chown(ssh_dir, me.pw_uid, me.pw_gid)
    stow(me, os.path.join(ssh_dir, 'config'), str(target))
    prefix, reason = READ_ONLY[store]
    if prefix:
        prefix = prefix + [str(store_dir)]
    result = module_as(me, {'hosts': [BLOCK]}, check=check, prefix=prefix)
    assert not result.get('failed') and not result['changed'], result
    [skip] = result['skipped_users']
    assert skip['user'] == me.pw_name and skip['path'] == os.path.join(ssh_dir, 'config')
    assert reason in skip['reason'] and str(target) in skip['reason'] and 'nothing was changed' in skip['reason']
    # nothing ran as root: the message must not say so (the test's own paths may name root: pytest-of-root)
    assert 'root' not in skip['reason'].replace(str(tmp_path), ''), skip
    if store == 'store_dir':
        assert 'user %s (uid %d)' % (me.pw_name, me.pw_uid) in skip['reason']
    assert any('%s: skipped' % me.pw_name in w for w in result['warnings']), result
    assert target.read_text() == 'Host *\n  ServerAliveInterval 30\n'
    assert os.path.islink(os.path.join(ssh_dir, 'config'))
    # a target that already has the values is simply ok: only a change needs writing
    target.chmod(0o644)
    target.write_text('Host *\n  ServerAliveInterval 60\n')
    target.chmod(0o444)
    ok = module_as(me, {'hosts': [BLOCK]}, check=check, prefix=prefix)
    assert not ok['changed'] and ok['skipped_users'] == [], ok


def test_a_hard_linked_own_config_is_refused_naming_the_user_not_root(me):
    ssh_dir = os.path.join(me.pw_dir, '.ssh')
    write_as(me, os.path.join(ssh_dir, 'config'), 'Host *\n  ServerAliveInterval 30\n', 0o600)
    os.link(os.path.join(ssh_dir, 'config'), os.path.join(me.pw_dir, 'second-name'))
    result = module_as(me, {'hosts': [BLOCK]})
    [skip] = result['skipped_users']
    assert 'hard links; refusing to write it as user %s (uid %d)' % (me.pw_name, me.pw_uid) in skip['reason'], skip


def test_root_for_another_user_still_refuses_their_symlink_and_says_what_to_do(me):
    package = os.path.join(me.pw_dir, 'dotfiles', 'ssh', '.ssh')
    write_as(me, os.path.join(package, 'config'), 'Host *\n  ServerAliveInterval 30\n', 0o600)
    os.mkdir(os.path.join(me.pw_dir, '.ssh'), 0o700)
    os.chown(os.path.join(me.pw_dir, '.ssh'), me.pw_uid, me.pw_gid)
    stow(me, os.path.join(me.pw_dir, '.ssh', 'config'), os.path.join(package, 'config'))
    result = run_module('client_keepalive', {'user': me.pw_name, 'hosts': [BLOCK]})
    [skip] = result['skipped_users']
    assert 'is a symlink; refusing to follow it as root' in skip['reason'] and 'become_user' in skip['reason']
    with open(os.path.join(package, 'config')) as f:
        assert f.read() == 'Host *\n  ServerAliveInterval 30\n'


# The playbooks for your own machine the docs show (README, role_client.md, client_keepalive.md): every
# example play with connection: local is one, and each is run here as the user it is meant for.
OWN_MACHINE = [e for e in doc_examples() if e.kind == 'playbook' and e.data[0].get('connection') == 'local']


def test_the_docs_show_the_own_machine_playbook_next_to_the_fleet_rollout():
    where = sorted(set(os.path.relpath(e.source, ROOT) for e in OWN_MACHINE))
    assert where == ['docs/README.md', 'docs/client_keepalive.md', 'docs/role_client.md'], where


@pytest.mark.parametrize('example', OWN_MACHINE, ids=lambda e: e.id)
def test_the_docs_own_machine_playbook_runs_as_the_user_and_follows_their_dotfiles(me, example):
    assert example.data[0]['hosts'] == 'localhost' and 'become' not in example.data[0], example.text
    package = os.path.join(me.pw_dir, 'dotfiles', 'ssh', '.ssh')
    write_as(me, os.path.join(package, 'config'), 'Host work\n    User me\n', 0o600)
    os.mkdir(os.path.join(me.pw_dir, '.ssh'), 0o700)
    os.chown(os.path.join(me.pw_dir, '.ssh'), me.pw_uid, me.pw_gid)
    stow(me, os.path.join(me.pw_dir, '.ssh', 'config'), os.path.join(package, 'config'))
    play = os.path.join(me.pw_dir, 'keepalive.yml')
    with open(play, 'w') as f:
        f.write(example.text)
    os.chmod(play, 0o644)
    env = ['ANSIBLE_COLLECTIONS_PATH=%s' % os.path.join(ROOT, '.build'), 'ANSIBLE_PYTHON_INTERPRETER=%s' % PYTHON,
           'ANSIBLE_NOCOLOR=1', 'ANSIBLE_LOCALHOST_WARNING=false', 'ANSIBLE_INVENTORY_UNPARSED_WARNING=false']
    argv = env + [PYTHON, '-m', 'ansible.cli.playbook', play]
    first = as_user(me, argv)
    assert first.returncode == 0 and re.search(r'localhost\s*: ok=\d+\s+changed=1 .*failed=0', first.stdout), (
        first.stdout + first.stderr)
    assert 'WARNING' not in first.stdout + first.stderr, first.stdout + first.stderr
    link = os.path.join(me.pw_dir, '.ssh', 'config')
    assert os.path.islink(link)
    assert ssh_G(link, 'anything')['serveraliveinterval'] == '60'
    if example.data[0].get('roles'):  # the role's default profiles: bastion first
        assert ssh_G(link, 'bastion')['serveraliveinterval'] == '30'
    with open(os.path.join(package, 'config')) as f:
        assert f.read().startswith('Host work\n    User me\n')
    second = as_user(me, argv)
    assert second.returncode == 0 and re.search(r'changed=0 .*failed=0', second.stdout), second.stdout
