# -*- coding: utf-8 -*-
"""Reading and acting for the live-sessions view (module_utils/sessionscan.py): bounds, pid reuse, sockets."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import re
import socket
import subprocess
import time

from ansible_collections.keepalive.ssh.plugins.module_utils import sessionscan
from ansible_collections.keepalive.ssh.plugins.module_utils.sessions import Policy, parse_stat


def test_match_contexts_are_evaluated_once_each_and_at_most_the_bound():
    calls = []
    bounded = sessionscan.Bounded(lambda key: calls.append(key) or len(calls), limit=3)
    assert [bounded(k) for k in 'aabcdda'] == [1, 1, 2, 3, None, None, 1]
    assert calls == ['a', 'b', 'c'] and bounded.skipped == 2


def start_of(pid):
    ticks = float(os.sysconf('SC_CLK_TCK'))
    with open('/proc/%d/stat' % pid) as f:
        return sessionscan.boot_time() + parse_stat(f.read())[3] / ticks


def test_a_pid_is_signalled_only_while_it_is_the_process_that_was_judged():
    proc = subprocess.Popen(['sleep', '60'])
    try:
        start = start_of(proc.pid)
        assert not sessionscan.end_process(proc.pid, start - 5, os.getuid())    # another process's start
        assert not sessionscan.end_process(proc.pid, start, os.getuid() + 1)    # another owner
        time.sleep(0.2)
        assert proc.poll() is None
        assert sessionscan.end_process(proc.pid, start, os.getuid())
        assert proc.wait(timeout=5) == -15
    finally:
        proc.kill()
        proc.wait()


def bind(path, listening):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    if listening:
        sock.listen(1)
        return sock
    sock.close()
    return None


def test_dead_control_sockets_are_found_and_removed_but_never_through_a_link(tmp_path):
    cm, other = tmp_path / 'cm', tmp_path / 'other'
    (cm / 'sub').mkdir(parents=True)
    other.mkdir()
    bind(cm / 'dead', False)
    bind(cm / 'sub' / 'dead', False)
    master = bind(cm / 'live', True)
    bind(other / 'dead', False)
    (cm / 'link').symlink_to(other / 'dead')
    os.mkfifo(str(cm / 'fifo'))   # never opened: a FIFO cannot make the look hang
    try:
        found = sessionscan._control_sockets([str(cm)], 100, False)
        assert sorted((os.path.relpath(r['path'], str(cm)), r['dead'], r['removed']) for r in found['sockets']) == [
            ('dead', True, False), ('live', False, False), ('sub/dead', True, False)]
        assert not found['truncated'] and (cm / 'dead').exists()
        found = sessionscan._control_sockets([str(cm)], 100, True)
        assert sorted(os.path.relpath(r['path'], str(cm)) for r in found['sockets'] if r['removed']) == [
            'dead', 'sub/dead']
        assert not (cm / 'dead').exists() and (cm / 'live').exists() and (other / 'dead').exists()
    finally:
        master.close()


def test_control_socket_search_is_bounded_and_says_so(tmp_path):
    for n in range(20):
        (tmp_path / ('f%02d' % n)).write_text('')
    found = sessionscan._control_sockets([str(tmp_path)], 5, False)
    assert found['truncated'] and found['sockets'] == []


def test_a_host_without_socket_information_says_so(monkeypatch):
    def unreadable(path):
        raise IOError(2, 'No such file or directory', path)

    def no_netlink():
        raise OSError(97, 'Address family not supported by protocol')

    monkeypatch.setattr(sessionscan, '_inet_diag', no_netlink)
    monkeypatch.setattr(sessionscan, '_read', unreadable)
    view = sessionscan.report(Policy(), [('0.0.0.0', 22)], lambda c: 0, lambda c: 0, None, ['~/.ssh'], 10, 5)
    assert view == {'available': False, 'source': None,
                    'reason': 'neither netlink inet_diag nor /proc/net/tcp can be read on this host'}


def test_without_netlink_the_proc_socket_table_is_used(monkeypatch):
    def no_netlink():
        raise OSError(97, 'Address family not supported by protocol')

    monkeypatch.setattr(sessionscan, '_inet_diag', no_netlink)
    source, sockets = sessionscan.tcp_sockets()
    assert source == 'proc_net_tcp' and all(s['last_recv'] is None for s in sockets)


def test_one_users_ssh_g_runs_share_one_budget(tmp_path):
    slow = tmp_path / 'ssh'
    slow.write_text('#!/bin/sh\nsleep 5\n')
    slow.chmod(0o755)
    me = pwd.getpwuid(os.getuid()).pw_name
    alive_limit_of = sessionscan.ssh_alive_limit(str(slow), 1)
    started = time.time()
    assert alive_limit_of((me, '192.0.2.1')) is None and alive_limit_of((me, '192.0.2.2')) is None
    assert time.time() - started < 2.5   # the second destination found the budget spent


def test_the_alive_limit_is_interval_times_count(tmp_path):
    fake = tmp_path / 'ssh'
    fake.write_text('#!/bin/sh\necho "serveraliveinterval 15"\necho "serveralivecountmax 4"\n')
    fake.chmod(0o755)
    me = pwd.getpwuid(os.getuid()).pw_name
    assert sessionscan.ssh_alive_limit(str(fake), 5)((me, '192.0.2.1')) == 60


def test_a_match_context_is_evaluated_with_sshd_T_C_and_odd_user_names_never(tmp_path):
    log = tmp_path / 'argv'
    fake = tmp_path / 'sshd'
    fake.write_text('#!/bin/sh\necho "$@" >> %s\necho "clientaliveinterval 45"\n' % log)
    fake.chmod(0o755)
    interval_of = sessionscan.sshd_interval(str(fake), '/etc/ssh/sshd_config', 5)
    assert interval_of(('alice', '203.0.113.7', '10.0.0.5', 22)) == 45
    assert log.read_text() == ('-T -f /etc/ssh/sshd_config -C '
                               'user=alice,host=203.0.113.7,addr=203.0.113.7,laddr=10.0.0.5,lport=22\n')
    assert interval_of(('a,user=root', '203.0.113.7', '10.0.0.5', 22)) is None
    assert interval_of(('(unauthenticated)', '203.0.113.7', '10.0.0.5', 22)) == 45
    assert log.read_text().splitlines()[-1].endswith('user=nobody,host=203.0.113.7,addr=203.0.113.7,laddr=10.0.0.5,lport=22')


def test_the_view_reads_no_command_line_environment_or_file_of_a_process(monkeypatch):
    read = []
    real = sessionscan._read

    def recording(path):
        read.append(path)
        return real(path)

    monkeypatch.setattr(sessionscan, '_read', recording)
    view = sessionscan.report(Policy(), [('0.0.0.0', 22)], lambda c: 0, lambda c: 0, None, ['~/.ssh'], 10, 30)
    assert view['available'] and read
    allowed = re.compile(r'^/proc/(stat|net/tcp6?|\d+/stat)$')
    assert [p for p in read if not allowed.match(p)] == []


def test_admin_input_errors_are_sentences():
    good = dict(path_timeout=300, active_within=60, unanswered_after=30, max_rows=10, control_dirs=['~/.ssh', '/srv/cm'],
                users=None)
    assert sessionscan.check_options(good) is None
    assert 'path_timeout must be 0 or more' in sessionscan.check_options(dict(good, path_timeout=-1))
    assert 'must be absolute or start with ~/' in sessionscan.check_options(dict(good, control_dirs=['.ssh']))


def test_an_ended_process_waiting_for_its_parent_is_not_signalled_again():
    proc = subprocess.Popen(['sleep', '60'])
    start = start_of(proc.pid)
    assert sessionscan.end_process(proc.pid, start, os.getuid())
    deadline = time.time() + 5
    while time.time() < deadline and ' Z ' not in sessionscan._read('/proc/%d/stat' % proc.pid):
        time.sleep(0.05)
    try:
        assert not sessionscan.end_process(proc.pid, start, os.getuid(), 0)   # a zombie: it has ended
    finally:
        proc.wait()
