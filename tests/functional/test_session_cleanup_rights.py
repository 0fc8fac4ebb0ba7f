"""The cleanup touches a user's ControlMaster sockets with that user's rights only: a link in their ~/.ssh
to a place only root can enter leads nowhere, their own dead socket is removed, their live one is not."""
import os

from kalib import run_module, unix_socket


def test_a_users_link_to_a_root_only_directory_is_not_followed(user, tmp_path):
    secret = tmp_path / 'root-only'
    secret.mkdir(mode=0o700)
    unix_socket(secret / 'cm-root@db1:22')                # root's dead socket, in a directory only root enters
    ssh_dir = os.path.join(user.pw_dir, '.ssh')
    os.mkdir(ssh_dir, 0o700)
    os.symlink(str(secret), os.path.join(ssh_dir, 'sockets'))                # the user's link to it
    os.symlink(str(secret / 'cm-root@db1:22'), os.path.join(ssh_dir, 'cm-link'))
    own = os.path.join(ssh_dir, 'cm-kaalice@web1:22')
    unix_socket(own)
    live = unix_socket(os.path.join(ssh_dir, 'cm-kaalice@web2:22'), listening=True)
    for path in (ssh_dir, own, os.path.join(ssh_dir, 'cm-kaalice@web2:22')):
        os.lchown(path, user.pw_uid, user.pw_gid)
    try:
        result = run_module('stale_sessions', dict(terminate=True, session_options=dict(users=['kaalice'])))
    finally:
        live.close()
    assert not result.get('failed'), result
    assert result['dead_control_sockets'] == [dict(user='kaalice', path=own, removed=True)], result
    assert not os.path.exists(own) and os.path.exists(os.path.join(ssh_dir, 'cm-kaalice@web2:22'))
    assert os.path.exists(str(secret / 'cm-root@db1:22'))


def test_sockets_are_looked_for_with_the_users_rights(user, tmp_path):
    secret = tmp_path / 'root-only'
    secret.mkdir(mode=0o700)
    unix_socket(secret / 'cm-root@db1:22')
    # an admin's control_dirs naming a directory the user cannot enter: root could, the user's look cannot
    result = run_module('stale_sessions', dict(terminate=True, session_options=dict(
        users=['kaalice'], control_dirs=[str(secret)])))
    assert not result.get('failed'), result
    assert result['dead_control_sockets'] == [] and os.path.exists(str(secret / 'cm-root@db1:22'))


def test_a_socket_name_with_terminal_control_characters_is_reported_escaped(user):
    """A user names a dead ControlMaster socket with ESC, an OSC title change and a C1 CSI: the result
    carries them escaped (\\x1b, \\x9b), never raw, as every text of a user's files."""
    ssh_dir = os.path.join(user.pw_dir, '.ssh')
    os.mkdir(ssh_dir, 0o700)
    name = 'cm-\x1b]0;OWNED\x07\x1b[2J\x9b31m'
    unix_socket(os.path.join(ssh_dir, name))
    for path in (ssh_dir, os.path.join(ssh_dir, name)):
        os.lchown(path, user.pw_uid, user.pw_gid)
    result = run_module('stale_sessions', dict(session_options=dict(users=['kaalice'])))
    assert not result.get('failed'), result
    paths = [row['path'] for row in result['dead_control_sockets']]
    assert paths == [os.path.join(ssh_dir, 'cm-\\x1b]0;OWNED\\x07\\x1b[2J\\x9b31m')], paths
