"""Root writing into users' homes: planted links are refused, nothing outside the home is touched."""
import os

import pytest

from kalib import owner, refusal, run_module

HOSTS = [dict(pattern='*', server_alive_interval=60)]


def ssh_dir_of(pw):
    path = os.path.join(pw.pw_dir, '.ssh')
    os.makedirs(path, exist_ok=True)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    return path


def read(path):
    with open(path, 'rb') as f:
        return f.read()


@pytest.mark.parametrize('strict', [False, True])
@pytest.mark.parametrize('target', ['/etc/shadow', '/etc/gshadow', 'other-user'])
def test_config_symlink_planted_by_the_user_is_refused(user, users, target, strict):
    if target == 'other-user':
        other = ssh_dir_of(users['kabob'])
        target = os.path.join(other, 'config')
        with open(target, 'w') as f:
            f.write('Host mine\n    User kabob\n')
    if not os.path.exists(target):
        pytest.fail('%s must exist on this machine for the test to mean something' % target)
    before = read(target)
    link = os.path.join(ssh_dir_of(user), 'config')
    os.symlink(target, link)
    result = run_module('client_keepalive', dict(user=user.pw_name, hosts=HOSTS, strict=strict))
    reason = refusal(result, user.pw_name, strict)
    assert '%s is a symlink' % link in reason and 'refusing' in reason
    assert read(target) == before and os.path.islink(link)


@pytest.mark.parametrize('victim', ['other-user', 'root-file'])
def test_config_hard_link_is_refused(user, users, victim):
    if victim == 'other-user':
        path = os.path.join(ssh_dir_of(users['kabob']), 'config')
        with open(path, 'w') as f:
            f.write('Host mine\n    User kabob\n')
    else:
        # a root-only file on the same filesystem as the home (hard links cannot cross filesystems)
        path = os.path.join(os.path.dirname(user.pw_dir), '.keepalive-root-only')
        with open(path, 'w') as f:
            f.write('root secret\n')
        os.chmod(path, 0o600)
    before = read(path)
    try:
        os.link(path, os.path.join(ssh_dir_of(user), 'config'))
        result = run_module('client_keepalive', dict(user=user.pw_name, hosts=HOSTS))
        assert 'hard links' in refusal(result, user.pw_name)
        assert read(path) == before
    finally:
        if victim == 'root-file':
            os.unlink(path)


def test_ssh_dir_symlink_to_a_system_directory_is_refused(user):
    before = sorted(os.listdir('/etc/ssh'))
    os.symlink('/etc/ssh', os.path.join(user.pw_dir, '.ssh'))
    result = run_module('client_keepalive', dict(user=user.pw_name, hosts=HOSTS))
    # named as the user sees it: ~/.ssh is the symlink
    assert '%s is a symlink or not a directory' % os.path.join(user.pw_dir, '.ssh') in refusal(result, user.pw_name)
    assert sorted(os.listdir('/etc/ssh')) == before


def test_created_files_belong_to_the_user(user):
    run_module('client_keepalive', dict(user=user.pw_name, hosts=HOSTS))
    assert owner(os.path.join(user.pw_dir, '.ssh')) == (user.pw_name, user.pw_name, '0o700')
    assert owner(os.path.join(user.pw_dir, '.ssh', 'config')) == (user.pw_name, user.pw_name, '0o600')


def test_existing_mode_is_never_loosened(user):
    path = os.path.join(ssh_dir_of(user), 'config')
    with open(path, 'w') as f:
        f.write('Host a\n    User b\n')
    os.chown(path, user.pw_uid, user.pw_gid)
    os.chmod(path, 0o600)
    result = run_module('client_keepalive', dict(user=user.pw_name, hosts=HOSTS, mode='0644'))
    assert 'mode=0644 would loosen' in refusal(result, user.pw_name)
    assert owner(path)[2] == '0o600' and read(path) == b'Host a\n    User b\n'
    result = run_module('client_keepalive', dict(user=user.pw_name, hosts=HOSTS, mode='0400'))
    assert not result.get('failed') and owner(path)[2] == '0o400'


@pytest.mark.parametrize('planted', ['directory', 'symlink'])
def test_a_home_another_user_planted_is_refused(user, users, tmp_path, planted):
    """A user's directory root opens as trusted (here the one their .ssh is in) that another user created
    in a world-writable directory, as a directory of theirs or a symlink: refused, nothing written."""
    public = tmp_path / 'public'
    public.mkdir()
    os.chmod(str(public), 0o1777)
    os.chmod(str(tmp_path), 0o755)
    other = users['kabob']
    home = public / 'home'
    if planted == 'directory':
        home.mkdir()
    else:
        (tmp_path / 'elsewhere').mkdir()
        os.symlink(str(tmp_path / 'elsewhere'), str(home))
    os.lchown(str(home), other.pw_uid, other.pw_gid)
    result = run_module('client_keepalive', dict(users=[dict(name=user.pw_name, path=str(home / '.ssh' / 'config'),
                                                             hosts=HOSTS)]))
    reason = refusal(result, user.pw_name)
    said = '%s belongs to uid %d' % (home, other.pw_uid) if planted == 'directory' else '%s is a symlink' % home
    assert said in reason, reason
    assert not os.path.lexists(str(home / '.ssh')) and not os.path.lexists(str(tmp_path / 'elsewhere' / '.ssh'))


@pytest.mark.parametrize('where', ['symlink', 'users_directory'])
def test_a_home_the_user_can_swap_is_refused(user, tmp_path, where):
    """The user's own home must be the directory root writes in: a home that is the user's symlink (here to
    a directory only root may write), or one in a directory the user may write (where they could rename a
    symlink or another directory in between root's check and its write), is refused; nothing is written."""
    os.chmod(str(tmp_path), 0o755)
    roots = tmp_path / 'roots'
    roots.mkdir(mode=0o755)
    if where == 'symlink':
        home = tmp_path / 'home'
        os.symlink(str(roots), str(home))
        os.lchown(str(home), user.pw_uid, user.pw_gid)
        said = '%s is a symlink' % home
    else:
        parent = tmp_path / 'parent'
        parent.mkdir(mode=0o755)
        os.chown(str(parent), user.pw_uid, user.pw_gid)
        home = parent / 'home'
        home.mkdir(mode=0o755)
        os.chown(str(home), user.pw_uid, user.pw_gid)
        said = '%s belongs to uid %d' % (parent, user.pw_uid)
    result = run_module('client_keepalive', dict(users=[dict(name=user.pw_name, path=str(home / '.ssh' / 'config'),
                                                             hosts=HOSTS)]))
    reason = refusal(result, user.pw_name)
    assert said in reason and 'become_user' in reason, reason
    assert not os.path.lexists(str(roots / '.ssh')) and not os.path.lexists(str(home / '.ssh'))


def test_a_home_or_path_spelled_with_dot_dot_is_refused(user, tmp_path):
    """'sub/..' is the home by spelling but, with 'sub' a symlink the user swaps, any directory to the
    kernel: a home or users[].path that is not plainly spelled is refused before anything is opened."""
    os.chmod(str(tmp_path), 0o755)
    victim = tmp_path / 'victim'
    victim.mkdir(mode=0o700)
    sub = os.path.join(user.pw_dir, 'sub')
    if os.path.lexists(sub):
        os.remove(sub)
    os.symlink(str(victim / 'x'), sub)
    os.lchown(sub, user.pw_uid, user.pw_gid)
    path = os.path.join(user.pw_dir, 'sub', '..', '.ssh', 'config')
    try:
        result = run_module('client_keepalive', dict(users=[dict(name=user.pw_name, path=path, hosts=HOSTS)]))
    finally:
        os.remove(sub)
    # users[].path is the admin's input: the task fails, naming it
    assert result.get('failed') and 'not a plainly spelled absolute path' in result['msg'], result
    assert os.listdir(str(victim)) == []


def test_a_missing_home_is_refused_not_created_through_a_link(user, users, tmp_path):
    """A home missing when root looks could be planted (or a link on its way) before root writes: root
    refuses it and writes nothing, whatever appears there later."""
    os.chmod(str(tmp_path), 0o755)
    home = tmp_path / 'gone' / 'home'
    result = run_module('client_keepalive', dict(users=[dict(name=user.pw_name, path=str(home / '.ssh' / 'config'),
                                                             hosts=HOSTS)]))
    reason = refusal(result, user.pw_name)
    assert '%s does not exist' % home in reason, reason
    assert not os.path.lexists(str(tmp_path / 'gone'))


def test_the_result_says_nothing_of_what_a_users_link_points_at(user, tmp_path):
    """~/.ssh a link to a root-only directory: the user is skipped, and the result carries no owner, mode,
    size or type of the file behind it (root never stats through a user's links for the result)."""
    secret = tmp_path / 'secret'
    secret.mkdir(mode=0o700)
    (secret / 'config').write_bytes(b'x' * 1234)
    os.chmod(str(secret / 'config'), 0o600)
    ssh = os.path.join(user.pw_dir, '.ssh')
    os.symlink(str(secret), ssh)
    os.lchown(ssh, user.pw_uid, user.pw_gid)
    result = run_module('client_keepalive', dict(user=user.pw_name, hosts=HOSTS))
    assert refusal(result, user.pw_name)
    leaked = set(result) & {'size', 'owner', 'uid', 'mode', 'state', 'group', 'gid'}
    assert not leaked, result
