"""The contract for reading a user's files (module_utils/userread.py), piece by piece."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

import pytest

from ansible_collections.keepalive.ssh.plugins.module_utils.sshconf import SSH, match_pattern
from ansible_collections.keepalive.ssh.plugins.module_utils.userread import (
    Identity,
    UserFileError,
    UserFiles,
    call_as,
    printable,
    read_bounded,
    reduce_openssh_error,
    regular_matches,
    run_bounded,
)


def me():
    return Identity('me', os.getuid(), os.getgid(), os.path.expanduser('~'), groups=os.getgroups())


def test_read_bounded_accepts_a_small_regular_file(tmp_path):
    path = tmp_path / 'config'
    path.write_bytes(b'Host a\n')
    assert read_bounded(str(path)) == b'Host a\n'
    assert read_bounded(str(tmp_path / 'missing')) is None


@pytest.mark.parametrize('kind, reason', [
    ('symlink', 'is a symlink'), ('fifo', 'not a regular file'), ('hardlink', 'hard links'),
    ('big', 'larger than 16 bytes'), ('device', 'not a regular file'), ('directory', 'not a regular file'),
])
def test_read_bounded_refuses(tmp_path, kind, reason):
    path = str(tmp_path / 'config')
    if kind == 'symlink':
        os.symlink('/etc/passwd', path)
    elif kind == 'fifo':
        os.mkfifo(path)  # opening it blocking would hang forever
    elif kind == 'hardlink':
        (tmp_path / 'other').write_text('x')
        os.link(str(tmp_path / 'other'), path)
    elif kind == 'big':
        with open(path, 'wb') as f:
            f.truncate(1 << 40)  # sparse: 1 TiB of nothing
    elif kind == 'device':
        path = '/dev/zero'
    else:
        os.mkdir(path)
    with pytest.raises(UserFileError, match=reason):
        read_bounded(path, max_bytes=16)


def test_a_file_growing_past_the_cap_is_refused(tmp_path):
    """fstat said small, the read finds more: at most cap + 1 bytes are read, then refused."""
    path = tmp_path / 'config'
    path.write_bytes(b'x' * 17)
    with pytest.raises(UserFileError, match='larger than 16'):
        read_bounded(str(path), max_bytes=16)


def test_globs_match_regular_files_only(tmp_path):
    (tmp_path / 'a.conf').write_text('x')
    os.mkfifo(str(tmp_path / 'b.conf'))
    os.symlink('/etc/passwd', str(tmp_path / 'c.conf'))
    os.mkdir(str(tmp_path / 'd.conf'))
    assert regular_matches(str(tmp_path / '*.conf')) == [str(tmp_path / 'a.conf')]


def test_tilde_is_the_users_home():
    user = Identity('alice', 1, 1, '/home/alice/', groups=[])
    assert user.expanduser('~/.ssh/x') == '/home/alice/.ssh/x'
    with pytest.raises(UserFileError):
        user.expanduser('~root/.ssh/x')


def test_the_child_reads_the_tree_and_the_parent_replays_it(tmp_path):
    (tmp_path / 'inc').write_text('Host b\n    User y\n')
    (tmp_path / 'config').write_text('Include %s/in*\nHost a\n    User x\n' % tmp_path)
    files = UserFiles.read(me(), [str(tmp_path / 'config')], SSH)
    assert files.data(str(tmp_path / 'inc')) == b'Host b\n    User y\n'
    assert files.matcher('%s/in*' % tmp_path) == [str(tmp_path / 'inc')]


def test_the_child_reports_a_reason_not_content(tmp_path):
    (tmp_path / 'config').write_text('"SECRET-LINE\n')
    with pytest.raises(UserFileError) as e:
        UserFiles.read(me(), [str(tmp_path / 'config')], SSH)
    assert 'line 1' in str(e.value) and 'SECRET' not in str(e.value)


def test_a_hanging_read_is_killed_at_the_limit():
    start = time.time()
    with pytest.raises(UserFileError, match='longer than 1 s'):
        call_as(me(), time.sleep, (60,), timeout=1)
    assert time.time() - start < 30  # margin for a loaded box; the child sleeps 60


def test_a_hanging_command_is_killed_with_its_group():
    start = time.time()
    rc, _out, _err = run_bounded(['sh', '-c', 'sleep 60 & sleep 60'], timeout=1)
    assert rc is None and time.time() - start < 30


@pytest.mark.parametrize('stderr, shown', [
    ('/tmp/s/etc/shadow line 1: Bad configuration option: root:$y$j9T$SECRET\n',
     '/etc/shadow line 1: Bad configuration option'),
    ("Can't open user config file /etc/shadow: Permission denied\n", "can't open /etc/shadow: Permission denied"),
    ('root:$y$SECRET: terminating, 1 bad configuration options\n', 'no details shown'),
])
def test_openssh_errors_are_reduced_to_file_line_reason(stderr, shown):
    out = reduce_openssh_error(stderr, lambda s: s.replace('/tmp/s', ''))
    assert out.startswith(shown) and 'SECRET' not in out


def test_openssh_quotes_are_cut():
    """OpenSSH quotes words of the file it read, which during an audit may be one the user substituted for
    the staged tree: the reason ends before the first quote (finding 9 of the review)."""
    out = reduce_openssh_error('/home/u/.ssh/config line 1: no argument after keyword "c2"\n')
    assert out == '/home/u/.ssh/config line 1: no argument after keyword'
    from ansible_collections.keepalive.ssh.plugins.module_utils.support import _rejection
    said = _rejection('ssh', None, None, [(['ssh'], 255, '', "Can't open user config file \"/x\": oops\n")])
    assert said.endswith(": Can't open user config file") and '/x' not in said


def test_printable_escapes_control_characters():
    assert printable('/home/u/.ssh/x\x1bc\x1b]0;owned\x07 \u00e9\n\x9b') == \
        '/home/u/.ssh/x\\x1bc\\x1b]0;owned\\x07 \u00e9\\n\\x9b'
    assert 'x1b' in reduce_openssh_error('/home/u/\x1b line 2: Bad option\n')


def test_wildcards_are_linear():
    """10,000 characters of * and ? against a long name: one pass (a backtracking regex takes minutes)."""
    start = time.time()
    assert match_pattern('h' * 20000, '*?' * 5000)
    assert not match_pattern('bastion', '*' * 10000 + 'x')
    assert match_pattern('bastion', '?' * 3 + '*' * 9990 + 'n')
    assert time.time() - start < 2  # margin for a loaded box: this is not a benchmark


@pytest.mark.parametrize('name, pattern, expected', [
    ('bastion', 'b*n', True), ('bastion', 'b?stion', True), ('bastion', '*st*', True),
    ('bastion', 'b*x', False), ('', '*', True), ('', '?', False), ('ab', 'a*b*', True), ('aab', '*ab', True),
])
def test_wildcards_agree_with_openssh(name, pattern, expected):
    assert match_pattern(name, pattern) is expected


def test_a_user_reading_their_own_files_follows_links_and_stays_bounded(tmp_path):
    """follow (a user for themselves, never root for a user): symlinks and hard links as their ssh reads them,
    FIFOs, devices and sizes still refused."""
    (tmp_path / 'target').write_bytes(b'Host a\n')
    os.symlink('target', str(tmp_path / 'link'))
    os.link(str(tmp_path / 'target'), str(tmp_path / 'second'))
    assert read_bounded(str(tmp_path / 'link'), follow=True) == b'Host a\n'
    assert read_bounded(str(tmp_path / 'second'), follow=True) == b'Host a\n'
    os.mkfifo(str(tmp_path / 'fifo'))
    os.symlink('fifo', str(tmp_path / 'to-fifo'))
    for path, reason in (('to-fifo', 'not a regular file'), ('link', 'larger than 4 bytes')):
        with pytest.raises(UserFileError, match=reason):
            read_bounded(str(tmp_path / path), max_bytes=4, follow=True)
    assert regular_matches(str(tmp_path / 'l*'), follow=True) == [str(tmp_path / 'link')]
    assert regular_matches(str(tmp_path / 'l*')) == []


def test_root_never_follows_a_users_link_even_when_asked(tmp_path):
    (tmp_path / 'target').write_bytes(b'Host a\n')
    os.symlink('target', str(tmp_path / 'config'))
    identity = me()
    if os.geteuid() == 0:
        with pytest.raises(UserFileError, match='is a symlink; not followed'):
            UserFiles.read(identity, [str(tmp_path / 'config')], SSH, follow=True)
    else:  # a user for themselves: followed
        assert UserFiles.read(identity, [str(tmp_path / 'config')], SSH, follow=True).data(
            str(tmp_path / 'config')) == b'Host a\n'
