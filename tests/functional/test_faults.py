"""Fault matrix: every failure ends with the original file intact (or fully replaced), never partial."""
import os
import random
import signal
import subprocess
import threading
import time

import pytest

from kalib import SSHD, materialize, run_module, sshd_T, start_module

PROFILE = [dict(pattern='bastion', server_alive_interval=30, server_alive_count_max=20),
           dict(pattern='*', server_alive_interval=60, server_alive_count_max=10)]


@pytest.fixture
def tiny_fs(tmp_path):
    """A 64 KiB tmpfs of our own (the machine's filesystems stay untouched); unmounted afterwards."""
    mnt = tmp_path / 'mnt'
    mnt.mkdir()
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'tmpfs', str(mnt)], check=True)
    yield mnt
    subprocess.run(['umount', '-l', str(mnt)], check=True)


def snapshot(top):
    """{relative path: bytes} of every file below top."""
    out = {}
    for dirpath, _dirs, files in os.walk(str(top)):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, 'rb') as f:
                out[os.path.relpath(path, str(top))] = f.read()
    return out


def fill(mnt, leave=0):
    """Fill a filesystem, leaving about `leave` bytes free."""
    st = os.statvfs(str(mnt))
    size = max(st.f_bavail * st.f_frsize - leave, 0)
    with open(os.path.join(str(mnt), 'filler'), 'wb') as f:
        f.write(b'\0' * size)
    os.sync()


def sshd_args(config, hostkey, **kw):
    return dict(dict(path=str(config), include_base=str(config.parent), client_alive_interval=60,
                     client_alive_count_max=10, validate='%s -t -f %%s -h %s' % (SSHD, hostkey)), **kw)


# -- sshd -t rejects the candidate ------------------------------------------------------------

def test_candidate_rejected_by_sshd_t(sshd_tree, hostkey):
    config = sshd_tree('match-blocks')
    before = snapshot(config.parent)
    result = run_module('sshd_keepalive', sshd_args(config, hostkey, options={'LoginGraceTime': 'banana'}))
    assert result['failed'] and 'validation failed, nothing was changed' in result['msg']
    assert 'banana' in result['msg'] or 'invalid time value' in result['msg']
    assert snapshot(config.parent) == before  # no temp files either


def test_match_criteria_sshd_rejects(sshd_tree, hostkey):
    config = sshd_tree('debian12')
    before = snapshot(config.parent)
    result = run_module('sshd_keepalive', sshd_args(config, hostkey, match='Colour blue'))
    assert result['failed'] and 'Colour' in result['msg'] and 'nothing was changed' in result['msg']
    assert snapshot(config.parent) == before


# -- read-only filesystem, disk full ------------------------------------------------------------

def test_read_only_filesystem_sshd(tiny_fs, hostkey):
    config = materialize('sshd', 'debian12', tiny_fs / 'etc') / 'sshd_config'
    subprocess.run(['mount', '-o', 'remount,ro', str(tiny_fs)], check=True)
    before = snapshot(tiny_fs)
    result = run_module('sshd_keepalive', sshd_args(config, hostkey))
    assert result['failed'] and 'Read-only file system' in result['msg'] and 'nothing was changed' in result['msg']
    assert snapshot(tiny_fs) == before


def test_read_only_filesystem_client(tiny_fs):
    (tiny_fs / 'config').write_text('Host x\n    User y\n')
    subprocess.run(['mount', '-o', 'remount,ro', str(tiny_fs)], check=True)
    before = snapshot(tiny_fs)
    result = run_module('client_keepalive', dict(path=str(tiny_fs / 'config'), hosts=PROFILE))
    assert result['failed'] and 'Read-only file system' in result['msg'] and 'unchanged' in result['msg']
    assert snapshot(tiny_fs) == before


def test_disk_full_sshd(tiny_fs, hostkey):
    config = materialize('sshd', 'debian12', tiny_fs / 'etc') / 'sshd_config'
    fill(tiny_fs)
    before = snapshot(tiny_fs)
    result = run_module('sshd_keepalive', sshd_args(config, hostkey))
    assert result['failed'] and 'No space left on device' in result['msg'] and 'nothing was changed' in result['msg']
    assert snapshot(tiny_fs) == before


def test_disk_full_while_backing_up(tiny_fs, hostkey):
    config = materialize('sshd', 'debian12', tiny_fs / 'etc') / 'sshd_config'
    fill(tiny_fs, leave=4096)  # room for the new file's temp copy, not for the backup as well
    before = snapshot(tiny_fs)
    result = run_module('sshd_keepalive', sshd_args(config, hostkey, backup=True))
    assert result['failed'] and 'Could not make backup' in result['msg'] and 'nothing was changed' in result['msg']
    assert snapshot(tiny_fs) == before


def test_disk_full_client(tiny_fs):
    (tiny_fs / 'config').write_text('Host x\n    User y\n')
    fill(tiny_fs)
    before = snapshot(tiny_fs)
    result = run_module('client_keepalive', dict(path=str(tiny_fs / 'config'), hosts=PROFILE))
    assert result['failed'] and 'No space left on device' in result['msg'] and 'unchanged' in result['msg']
    assert snapshot(tiny_fs) == before


# -- missing or broken sshd -------------------------------------------------------------------

def test_sshd_binary_not_executable(sshd_tree, tmp_path):
    config = sshd_tree('debian12')
    fake = tmp_path / 'sshd'
    fake.write_text('#!/bin/sh\n')
    fake.chmod(0o644)
    before = config.read_text()
    result = run_module('sshd_keepalive', dict(path=str(config), client_alive_interval=60, sshd_binary=str(fake)))
    assert result['failed'] and 'sshd_binary=%s is not an executable file' % fake in result['msg']
    assert config.read_text() == before


# -- interrupted runs -----------------------------------------------------------------------------

def big_config(path, interval):
    lines = ['# generated: %d lines of unrelated settings' % 10000]
    lines += ['#Setting%d value' % i for i in range(10000)]
    lines += ['ClientAliveInterval %d' % interval, 'ClientAliveCountMax 3']
    path.write_text('\n'.join(lines) + '\n')


def module_process(name, args, argfile):
    """The module in its own process, so it can be killed mid-run."""
    return start_module(name, args, argfile, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def current_interval(config):
    return int(config.read_text().split('ClientAliveInterval ')[1].split('\n')[0])


def test_killed_runs_leave_old_or_new_never_a_mix(tmp_path):
    config = tmp_path / 'sshd_config'
    big_config(config, 100)
    argfile = str(tmp_path / 'args.json')
    # How long one full run takes here, so the kills land before, during and after the write.
    start = time.monotonic()
    module_process('sshd_keepalive', dict(path=str(config), client_alive_interval=99, validate=False),
                   argfile).wait()
    full = time.monotonic() - start
    assert current_interval(config) == 99
    rng = random.Random(1234)
    outcomes = set()
    for attempt in range(30):
        before = config.read_text()
        old = current_interval(config)
        args = dict(path=str(config), client_alive_interval=old + 1, validate=False)
        proc = module_process('sshd_keepalive', args, argfile)
        time.sleep(rng.uniform(0.3, 1.3) * full)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        after = config.read_text()
        expected_new = before.replace('ClientAliveInterval %d\n' % old, 'ClientAliveInterval %d\n' % (old + 1))
        assert after in (before, expected_new), 'a mixed file after kill #%d' % attempt
        outcomes.add('new' if after == expected_new else 'old')
    assert outcomes == {'old', 'new'}, 'the kills never landed on both sides of the rename: %s' % outcomes


def test_concurrent_edits_of_one_user_file_lose_nothing(tmp_path):
    config = tmp_path / 'config'
    config.write_text('Host keep\n    User me\n')
    outcomes = {}

    def edit(prefix):
        for n in range(8):
            pattern = '%s%d' % (prefix, n)
            result = run_module('client_keepalive', dict(path=str(config), hosts=[
                dict(pattern=pattern, server_alive_interval=30)]))
            outcomes[pattern] = result.get('msg') if result.get('failed') else None

    threads = [threading.Thread(target=edit, args=(p,)) for p in ('alpha', 'beta')]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    text = config.read_text()
    for pattern, error in outcomes.items():
        if error is None:
            assert 'Host %s\n    ServerAliveInterval 30\n' % pattern in text, 'lost update: %s' % pattern
        else:
            assert 'locked by another run' in error
    assert len(outcomes) == 16 and 'Host keep\n    User me\n' in text


# -- security ------------------------------------------------------------------------------------

def test_backups_keep_owner_and_mode(sshd_tree, hostkey):
    config = sshd_tree('debian12')
    os.chmod(str(config), 0o600)
    result = run_module('sshd_keepalive', sshd_args(config, hostkey, backup=True))
    st = os.stat(result['backup_file'])
    assert oct(st.st_mode & 0o777) == '0o600' and st.st_uid == os.stat(str(config)).st_uid
    assert sshd_T(config, hostkey)['clientaliveinterval'] == '60'


def test_results_carry_no_file_contents_without_diff(sshd_tree, hostkey, tmp_path):
    config = sshd_tree('debian12')
    config.write_text(config.read_text() + '# SECRET-SENTINEL-1234\n')
    result = run_module('sshd_keepalive', sshd_args(config, hostkey), diff=False)
    assert 'SECRET-SENTINEL-1234' not in str(result) and 'diff' not in result
    user_cfg = tmp_path / 'config'
    user_cfg.write_text('Host x\n    # SECRET-SENTINEL-5678\n')
    result = run_module('client_keepalive', dict(path=str(user_cfg), hosts=PROFILE), diff=False)
    assert 'SECRET-SENTINEL-5678' not in str(result) and 'diff' not in result
