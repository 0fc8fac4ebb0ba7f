# -*- coding: utf-8 -*-
"""The probe's snapshot reads what the engine reads on the host: run the real shell script here with sh."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import subprocess
import sys

import pytest

from ansible_collections.keepalive.ssh.plugins.module_utils.sshconf import SSH, SSHD, Document, Tree, local_matches
from ansible_collections.keepalive.ssh.plugins.plugin_utils.snapshot import (
    BEGIN,
    END,
    Missing,
    Snapshot,
    Unsupported,
    decide,
    probe_script,
)

HERE = os.path.dirname(__file__)
FIXTURES = os.path.join(HERE, '..', '..', '..', 'fixtures')
sys.path.insert(0, os.path.join(HERE, '..', '..', '..', '..', 'tools'))

from fleet import copy_fixture  # noqa: E402  pylint: disable=wrong-import-position


def local_sh(env=None):
    def run(script):
        proc = subprocess.run(['/bin/sh', '-c', script], capture_output=True, env=env, check=False)
        return proc.returncode, proc.stdout.decode('utf-8', 'surrogateescape')
    return run


def read_tree(path, dialect, base_dir, snapshot=None):
    """(path, text) of every file of the tree in reading order, read locally or from a snapshot."""
    def plan(snap):
        reader = {} if snap is None else snap.reader(dialect)
        tree = Tree(path, dialect, base_dir=base_dir, **reader)
        return [(p, tree.docs[p].original) for p in tree.files()]
    if snapshot is None:
        return plan(None)
    return decide(snapshot, plan, [('f', path)])


CORPUS = [('sshd', n, SSHD, 'sshd_config') for n in sorted(os.listdir(os.path.join(FIXTURES, 'sshd')))] + \
    [('ssh', n, SSH, 'config') for n in sorted(os.listdir(os.path.join(FIXTURES, 'ssh')))]


@pytest.mark.parametrize('kind,name,dialect,main', CORPUS, ids=['%s-%s' % c[:2] for c in CORPUS])
def test_corpus_trees_read_alike(tmp_path, kind, name, dialect, main):
    dest = str(tmp_path / kind)
    copy_fixture(os.path.join(FIXTURES, kind, name), dest)
    path = os.path.join(dest, main)
    assert read_tree(path, dialect, dest, Snapshot(local_sh())) == read_tree(path, dialect, dest)


AWKWARD = ['a b.conf', u'\u00fc.conf', '.hidden.conf', 'x\ny.conf', '-n.conf', '=e.conf', "q'uote.conf", 'z.txt']


@pytest.mark.parametrize('pattern', ['*.conf', '.*', '?.conf', '[a-z]*', '*', 'a b.conf', 'missing.conf', '-n.conf'])
def test_globs_match_like_glob(tmp_path, pattern):
    d = tmp_path / 'd'
    d.mkdir()
    (d / 'sub.conf').mkdir()  # a directory that matches: never a target
    for n in AWKWARD:
        (d / n).write_bytes(b'Port 22\n')
    snap = Snapshot(local_sh())
    full = os.path.join(str(d), pattern)
    got = decide(snap, lambda s: s.matcher(full))
    assert got == local_matches(full)
    # the listing round sends what the shell's own pattern matching matched; the rest is one more round
    assert decide(snap, lambda s: [s.loader(SSHD)(p).original for p in got]) == ['Port 22\n'] * len(got)


def test_bytes_survive(tmp_path):
    data = b'# caf\xe9 latin-1\r\nPort 22\tx\r\n\xff\xfe no newline'
    (tmp_path / 'c').write_bytes(data)
    snap = Snapshot(local_sh())
    doc = decide(snap, lambda s: s.loader(SSHD)(str(tmp_path / 'c')), [('f', str(tmp_path / 'c'))])
    assert doc.to_bytes() == data == Document.load(str(tmp_path / 'c'), SSHD).to_bytes()


def test_metadata_and_users(tmp_path):
    f = tmp_path / 'config'
    f.write_text('Host x\n')
    os.chmod(str(f), 0o640)
    snap = Snapshot(local_sh())
    snap.fetch([('f', str(f)), ('f', str(tmp_path)), ('u', 'root'), ('u', 'no-such-user-here')])
    entry = snap.regular_file(str(f))
    st = os.stat(str(f))
    assert (entry.mode, entry.nlink, entry.uid, entry.gid) == (0o640, 1, st.st_uid, st.st_gid)
    snap.real_dir(str(tmp_path))
    assert snap.getpwnam('root').pw_uid == 0 and snap.getpwnam('root').pw_dir == '/root'
    with pytest.raises(KeyError):
        snap.getpwnam('no-such-user-here')


def test_directory_owners_come_from_roots_shell_only(tmp_path, nobodys):
    """'o' answers a directory's owner and mode from root's own shell; a user's shell, which the user may
    ptrace, is never trusted with them: its O records carry the kind only."""
    os.chmod(str(tmp_path), 0o751)
    snap = Snapshot(local_sh())
    snap.fetch([('o', str(tmp_path)), ('f', str(tmp_path))])
    st = os.stat(str(tmp_path))
    owned = snap.owned(str(tmp_path))
    assert (owned.kind, owned.mode, owned.uid, owned.gid) == ('dir', 0o751, st.st_uid, st.st_gid)
    assert snap.entry(str(tmp_path)).kind == 'dir' and snap.entry(str(tmp_path)).uid is None  # 'f': no stat
    home, ids, give = nobodys
    give()
    as_user = _fetch_as_user([('o', home)], {home: ids}, 1024)
    assert as_user.owned(home).kind == 'dir' and as_user.owned(home).uid is None
    forged = homes()
    forged.parse(_frame([0], 'O 0 dir\n755 2 0 0\n.\n'), [('o', '/home/a/d')])
    assert forged.owned('/home/a/d').uid is None


def test_links_and_specials_are_for_the_module(tmp_path):
    real = tmp_path / 'real'
    real.write_text('Port 22\n')
    os.symlink(str(real), str(tmp_path / 'link'))
    os.link(str(real), str(tmp_path / 'hard'))
    os.mkdir(str(tmp_path / 'inc'))
    os.symlink(str(real), str(tmp_path / 'inc' / 'a.conf'))
    snap = Snapshot(local_sh())
    snap.fetch([('f', str(tmp_path / 'link')), ('f', str(tmp_path / 'hard')), ('d', str(tmp_path / 'inc'))])
    for path in ('link', 'hard'):
        with pytest.raises(Unsupported):
            snap.regular_file(str(tmp_path / path))
    with pytest.raises(Unsupported):
        snap.real_dir(str(tmp_path / 'link'))
    with pytest.raises(Unsupported):
        snap.matcher(str(tmp_path / 'inc' / '*.conf'))
    with pytest.raises(Unsupported):
        snap.matcher(str(tmp_path / '*' / 'a.conf'))
    with pytest.raises(Unsupported):
        snap.expanduser('~/x')


def test_missing_tools_mean_the_module_runs(tmp_path):
    (tmp_path / 'c').write_text('Port 22\n')
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    for tool in ('stat', 'tr', 'getent'):  # no base64
        os.symlink(shutil.which(tool), str(bin_dir / tool))
    snap = Snapshot(local_sh(env={'PATH': str(bin_dir)}))
    with pytest.raises(Unsupported):
        snap.fetch([('f', str(tmp_path / 'c'))])


def test_output_outside_the_markers_is_ignored_and_truncation_detected():
    script = probe_script([('f', '/nonexistent')])
    snap = Snapshot(lambda s: (0, 'motd noise\nF 0 link\n.\n' + '\n'.join([BEGIN, 'F 0 missing', '.', END])))
    snap.fetch([('f', '/nonexistent')])
    assert snap.entry('/nonexistent').kind == 'missing'
    assert script.count(BEGIN) == 1
    for out in ('', BEGIN + '\nF 0 file\n', BEGIN + '\nF 0 missing\n.\n'):
        with pytest.raises(Unsupported):
            Snapshot(lambda s, o=out: (0, o)).fetch([('f', '/nonexistent')])


def test_decide_asks_round_by_round_and_gives_up():
    calls = []
    snap = Snapshot(lambda s: (calls.append(s), (0, '%s\n%s\n' % (BEGIN, END)))[1])
    with pytest.raises(Unsupported):  # the probe never answers: no endless rounds
        decide(snap, lambda s: s.entry('/x'))
    assert len(calls) == 1

    def never(_snap):
        raise Missing([('f', '/y')])
    with pytest.raises(Unsupported):
        decide(Snapshot(local_sh()), never)


@pytest.mark.parametrize('include', ['/etc/*', '../../outside/*', 'linked/*', 'linked/a.conf', '/etc/passwd'])
def test_a_users_includes_are_read_only_below_their_home(tmp_path, include):
    home = tmp_path / 'home'
    (home / '.ssh').mkdir(parents=True)
    (tmp_path / 'outside').mkdir()
    (tmp_path / 'outside' / 'a.conf').write_text('Host secret\n')
    os.symlink(str(tmp_path / 'outside'), str(home / '.ssh' / 'linked'))
    (home / '.ssh' / 'config').write_text('Include %s\nHost x\n' % include)
    main = str(home / '.ssh' / 'config')
    snap = Snapshot(local_sh())
    with pytest.raises(Unsupported):
        decide(snap, lambda s: Tree(main, SSH, **s.reader(SSH, str(home))).files(), [('f', main)])
    assert not [p for p in snap.files if not p.startswith(str(home))]  # nothing outside was even read
    assert not snap.dirs


def test_a_users_includes_below_their_home_are_read(nobodys):
    top, ids, give = nobodys
    import pathlib
    home = pathlib.Path(top)
    (home / '.ssh' / 'config.d').mkdir(parents=True)
    (home / '.ssh' / 'config.d' / 'a.conf').write_text('Host a\n')
    (home / '.ssh' / 'config').write_text('Include config.d/*.conf\nHost x\n')
    give()
    main = str(home / '.ssh' / 'config')
    snap = Snapshot(local_sh())
    snap.read_as(top, *ids)
    files = decide(snap, lambda s: Tree(main, SSH, **s.reader(SSH, str(home))).files(), [('f', main)])
    assert files == Tree(main, SSH).files()


@pytest.fixture
def nobodys(tmp_path):
    """A directory nobody owns and can reach (a user's home for the probe's users' shells), and their ids."""
    import pwd
    import tempfile
    pw = pwd.getpwnam('nobody')
    top = tempfile.mkdtemp(prefix='keepalive-snapshot-', dir='/tmp')
    os.chmod(top, 0o755)
    home = os.path.join(top, 'home')
    os.mkdir(home)
    owner = '%d:%d' % (pw.pw_uid, pw.pw_gid)
    yield home, (pw.pw_uid, pw.pw_gid), lambda: subprocess.run(['chown', '-R', owner, home], check=True)
    shutil.rmtree(top)


def homes(**kw):
    """A snapshot that reads /home/a as uid 1 and /home/b as uid 2 (users' frames answer for those)."""
    snap = Snapshot(run=None, **kw)
    snap.read_as('/home/a', 1, 1)
    snap.read_as('/home/b', 2, 2)
    return snap


def _frame(indexes, text):
    import base64
    return ['S ' + ','.join(str(i) for i in indexes)] + \
        base64.encodebytes(text.encode()).decode().splitlines() + ['E']


def test_a_users_frame_answers_only_their_requests():
    """What a user makes their own probe shell print (they may ptrace it) can answer only their requests."""
    requests = [('f', '/home/a/.ssh/config'), ('f', '/home/b/.ssh/config')]
    forged = 'F 1 file\n600 1 1 1\nSG9zdCAq\n.\n'  # user a answers b's request
    with pytest.raises(Unsupported):
        homes().parse(_frame([0], forged), requests)
    snap = homes()
    snap.parse(_frame([1], forged), requests)  # b's own answer is b's
    assert snap.files['/home/b/.ssh/config'].data == b'Host *'
    for name in ('..', '.', '../b/.ssh/config'):
        with pytest.raises(Unsupported):
            homes().parse(_frame([0], 'D 0 dir\n.\nN 0 %s\n600 1 1 1\n\n.\n' % name), [('d', '/home/a/.ssh/d')])


def test_a_users_frame_is_capped(nobodys):
    """Root cuts a user's output at the cap; a cut answer sends the host to the module."""
    snap = homes(max_bytes=16)
    with pytest.raises(Unsupported, match='larger than'):
        snap.parse(_frame([0], 'x' * (4 * 16 + 65536 + 1)), [('f', '/home/a/.ssh/config')])
    # a listing of ~90 kB from the user's shell: cut by root at 65,600 bytes, whole at a larger cap
    top, ids, give = nobodys
    for i in range(1500):
        with open(os.path.join(top, '%055d.conf' % i), 'w'):
            pass
    give()
    home = {top: ids}
    request = [('d', top)]
    with pytest.raises(Unsupported, match='larger than'):
        _fetch_as_user(request, home, 16)
    assert len(_fetch_as_user(request, home, 1024 * 1024).dirs[top][1]) == 1500


def _fetch_as_user(requests, homes, max_bytes):
    snap = Snapshot(local_sh(), max_bytes=max_bytes)
    for home, (uid, gid) in homes.items():
        snap.read_as(home, uid, gid)
    snap.fetch(requests)
    return snap
