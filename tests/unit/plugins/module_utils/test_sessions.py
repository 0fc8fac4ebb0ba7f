# -*- coding: utf-8 -*-
"""The live-sessions rules (module_utils/sessions.py) on synthetic kernel input, 10,000 sessions included."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import socket
import struct
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.keepalive.ssh.plugins.module_utils import sessions as rules
from ansible_collections.keepalive.ssh.plugins.module_utils.sessions import (
    Policy,
    Proc,
    bounded,
    client_processes,
    client_stale,
    counts,
    decode_inet_diag,
    human,
    listens_on,
    parse_listen,
    parse_proc_net_tcp,
    parse_stat,
    server_class,
    server_sessions,
    socket_entry,
    tty_name,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HEADER = ('  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n')
POLICY = Policy(path_timeout=300, active_within=60, unanswered_after=30)
SERVER_KEYS = {'user', 'pid', 'addr', 'port', 'start', 'tty', 'idle', 'idle_human', 'client_alive_interval', 'class'}
CLIENT_KEYS = {'user', 'pid', 'start', 'destination', 'state', 'silent', 'stale', 'reason'}


def hex4(ip):
    return '%08X' % struct.unpack('<I', socket.inet_aton(ip))[0]


def proc_line(n, local, remote, state=1, tx=0, retrans=0, uid=0, probes=0, inode=1000):
    return ('%4d: %s:%04X %s:%04X %02X %08X:00000000 00:00000000 %08X %5d %8d %d 1 0000000000000000 20 4 30 10 -1\n'
            % (n, hex4(local[0]), local[1], hex4(remote[0]), remote[1], state, tx, retrans, uid, probes, inode))


def test_proc_net_tcp_gives_addresses_state_queue_retransmissions_and_inode():
    text = HEADER + proc_line(0, ('10.0.0.5', 22), ('203.0.113.7', 50022), tx=36, retrans=4, uid=0, inode=4242)
    [sock] = parse_proc_net_tcp(text)
    assert sock['local'] == ('10.0.0.5', 22) and sock['remote'] == ('203.0.113.7', 50022)
    assert (sock['state'], sock['unacked_bytes'], sock['retransmits'], sock['inode']) == ('ESTABLISHED', 36, 4, 4242)
    assert sock['last_recv'] is None  # /proc/net/tcp has no per-socket times


def test_proc_net_tcp6_unmaps_ipv4_peers_of_a_dual_stack_listener():
    mapped = '0000000000000000FFFF0000' + hex4('192.0.2.9')
    line = ('   0: 00000000000000000000000001000000:0016 %s:C350 01 00000000:00000000 00:00000000 00000000     0'
            '        0 77 1 0000000000000000 20 4 30 10 -1\n' % mapped)
    [sock] = parse_proc_net_tcp(HEADER + line)
    assert sock['local'] == ('::1', 22) and sock['remote'] == ('192.0.2.9', 50000)


def test_proc_net_tcp_skips_broken_lines():
    assert parse_proc_net_tcp(HEADER + 'garbage\n   1: zz:zz zz:zz 01 a b c d e f g\n') == []


@given(st.lists(st.tuples(st.integers(1, 65535), st.integers(1, 65535), st.sampled_from(sorted(rules.TCP_STATES)),
                          st.integers(0, 2 ** 31), st.integers(0, 255), st.integers(0, 2 ** 31)), max_size=20))
@SETTINGS
def test_proc_net_tcp_reads_back_what_the_kernel_wrote(entries):
    text = HEADER + ''.join(proc_line(n, ('127.0.0.1', lp), ('10.1.2.3', rp), state=s, tx=tx, retrans=r, inode=i)
                            for n, (lp, rp, s, tx, r, i) in enumerate(entries))
    got = [(s['local'][1], s['remote'][1], s['state'], s['unacked_bytes'], s['retransmits'], s['inode'])
           for s in parse_proc_net_tcp(text)]
    assert got == [(lp, rp, rules.TCP_STATES[s], tx, r, i) for lp, rp, s, tx, r, i in entries]


def diag_message(local, remote, state=1, inode=99, uid=1000, wqueue=0, retransmits=0, probes=0,
                 last_recv_ms=0, last_ack_ms=0):
    body = rules.INET_DIAG_MSG.pack(socket.AF_INET, state, 0, 0, struct.pack('>H', local[1]),
                                    struct.pack('>H', remote[1]), socket.inet_aton(local[0]) + b'\0' * 12,
                                    socket.inet_aton(remote[0]) + b'\0' * 12, 0, b'\0' * 8, 0, 0, wqueue, uid,
                                    inode)
    info = [0] * 23
    info[2], info[3], info[19], info[20] = retransmits, probes, last_recv_ms, last_ack_ms
    payload = rules.TCP_INFO.pack(*info) + b'\0' * 100   # newer kernels' tcp_info is longer
    attr = struct.pack('=HH', 4 + len(payload), rules.INET_DIAG_INFO) + payload
    body += attr
    return rules.NLMSG_HEADER.pack(16 + len(body), 20, 2, 1, 0) + body


def test_inet_diag_gives_the_seconds_since_the_peer_last_sent_data():
    data = diag_message(('10.0.0.5', 22), ('203.0.113.7', 50022), wqueue=48, retransmits=5, last_recv_ms=12500,
                        last_ack_ms=40000)
    done = rules.NLMSG_HEADER.pack(20, rules.NLMSG_DONE, 2, 1, 0) + b'\0' * 4
    sockets, finished = decode_inet_diag(data + done)
    assert finished
    [sock] = sockets
    assert sock['remote'] == ('203.0.113.7', 50022) and sock['local'] == ('10.0.0.5', 22)
    assert (sock['last_recv'], sock['last_ack'], sock['retransmits'], sock['unacked_bytes']) == (12.5, 40.0, 5, 48)
    assert sock['uid'] == 1000 and sock['inode'] == 99


def test_inet_diag_error_is_raised():
    error = rules.NLMSG_HEADER.pack(20, rules.NLMSG_ERROR, 0, 1, 0) + struct.pack('=i', -13)
    with pytest.raises(OSError):
        decode_inet_diag(error)


def test_inet_diag_request_asks_for_every_tcp_state_with_tcp_info():
    msg = rules.inet_diag_request(socket.AF_INET6)
    length, kind, flags, _seq, _pid = rules.NLMSG_HEADER.unpack_from(msg)
    family, proto, ext, _pad, states = struct.unpack_from('=BBBBI', msg, 16)
    assert (length, kind, flags & 0x300) == (len(msg), 20, 0x300)
    assert (family, proto, ext, states) == (socket.AF_INET6, socket.IPPROTO_TCP, 2, 0xfff)


def test_stat_reads_a_comm_with_spaces_and_parentheses():
    text = '4242 (ss) (h) x) S 17 4242 4242 34816 4242 4194560 1 0 0 0 0 0 0 0 20 0 1 0 98765 1 2 3\n'
    assert parse_stat(text) == ('ss) (h) x', 17, 34816, 98765)


def test_tty_numbers_name_pseudo_terminals_and_consoles():
    assert tty_name(34816) == 'pts/0' and tty_name((136 << 8) | 7) == 'pts/7'
    assert tty_name((137 << 8) | 2) == 'pts/258' and tty_name((4 << 8) | 1) == 'tty1'
    assert tty_name((136 << 8) | (1 << 20)) == 'pts/256'   # the minor's high bits (kdev_t new_encode_dev)
    assert tty_name(0) is None


def test_listen_addresses_and_wildcards():
    listen = parse_listen(['0.0.0.0:22', '[::]:22', '127.45.0.1:2522', 'garbage'])
    assert listen == [('0.0.0.0', 22), ('::', 22), ('127.45.0.1', 2522)]
    assert listens_on(listen, ('10.0.0.5', 22)) and listens_on(listen, ('127.45.0.1', 2522))
    assert not listens_on(listen, ('127.45.0.2', 2522)) and not listens_on(listen, ('10.0.0.5', 2222))


def sock(**kw):
    base = dict(local=('10.0.0.5', 22), remote=('203.0.113.7', 50022), state=1, inode=1, uid=0)
    base.update(kw)
    return socket_entry(**base)


@pytest.mark.parametrize('idle,last_recv,interval,tty,expected', [
    (5, 5, 0, True, 'active'),
    (5, 5, 0, False, 'active'),
    (900, 900, 60, True, 'idle_kept_alive'),     # the server's keepalives come often enough
    (900, 2, 0, True, 'idle_kept_alive'),       # the client sends keepalives while the user is idle
    (900, 900, 0, True, 'at_risk'),
    (120, 120, 0, False, 'at_risk'),            # before the path timeout: at risk already
    (900, 900, 600, True, 'at_risk'),           # keepalives slower than the path forgets
    (900, 900, 149, True, 'idle_kept_alive'),   # unknown version: sshd's keepalive every 2 intervals...
    (900, 900, 150, True, 'at_risk'),           # ...so 150 s is too slow for a 300 s path
    (900, 900, None, False, 'at_risk'),         # interval not evaluated: no keepalive is known
    (None, None, 60, False, 'unknown'),         # no tty, no per-socket times (/proc/net/tcp)
])
def test_server_classes(idle, last_recv, interval, tty, expected):
    assert server_class(idle, last_recv, interval, sock(last_recv=last_recv, last_ack=last_recv), POLICY,
                        tty) == expected


@pytest.mark.parametrize('period, expected', [(1, 'idle_kept_alive'), (2, 'at_risk')])
def test_the_host_sshds_keepalive_period_decides_whether_its_keepalives_beat_the_path(period, expected):
    """200 s beats a 300 s path on an sshd that sends every interval (8.4, 10.x), not on 9.2's (every 2)."""
    policy = Policy(path_timeout=300, active_within=60, unanswered_after=30, server_period=period)
    assert server_class(900, 900, 200, sock(last_recv=900, last_ack=900), policy, True) == expected


def test_a_peer_that_stopped_answering_is_told_apart_from_a_lost_segment():
    gone = sock(unacked_bytes=36, retransmits=5, last_recv=120, last_ack=45)
    assert server_class(1, 120, 60, gone, POLICY, False) == 'unresponsive'
    one_loss = sock(unacked_bytes=36, retransmits=1, last_recv=120, last_ack=45)
    just_sent = sock(unacked_bytes=36, retransmits=5, last_recv=1, last_ack=2)
    assert server_class(1, 1, 60, one_loss, POLICY, False) == 'active'
    assert server_class(1, 1, 60, just_sent, POLICY, False) == 'active'
    keepalive_probes = sock(probes=2, last_ack=90)
    assert server_class(900, 900, 60, keepalive_probes, POLICY, True) == 'unresponsive'


@pytest.mark.parametrize('state,age,limit,kw,stale', [
    ('ESTABLISHED', 500, 30, dict(last_recv=5, last_ack=5), None),
    ('ESTABLISHED', 500, 30, dict(last_recv=45, last_ack=5), 'silent for 45 s'),
    ('ESTABLISHED', 500, 0, dict(last_recv=4500, last_ack=5), None),      # no keepalives: silence says nothing
    ('ESTABLISHED', 500, None, dict(last_recv=4500, last_ack=5), None),
    ('ESTABLISHED', 500, 0, dict(unacked_bytes=1, retransmits=6, last_recv=80, last_ack=80), 'server stopped'),
    ('CLOSE_WAIT', 500, 0, {}, 'connection closed (CLOSE_WAIT)'),
    ('SYN_SENT', 5, 0, {}, None),
    ('SYN_SENT', 500, 0, {}, 'not established after 500 s'),
])
def test_client_staleness(state, age, limit, kw, stale):
    number = dict((v, k) for k, v in rules.TCP_STATES.items())[state]
    reason = client_stale(sock(state=number, **kw), age, limit, POLICY)
    assert (reason is None) == (stale is None) and (stale is None or reason.startswith(stale)), reason


def test_a_client_without_a_tcp_connection_here_is_never_stale():
    assert client_stale(None, 10 ** 6, 30, POLICY) is None


@given(st.integers(0, 10 ** 8))
@SETTINGS
def test_human_idle_is_short_and_exact_to_its_last_unit(seconds):
    text = human(seconds)
    parts = re.findall(r'(\d+)([dhms])', text)
    assert ''.join(n + u for n, u in parts) == text and len(parts) <= 2 and len(text) <= 10
    unit = dict(d=86400, h=3600, m=60, s=1)
    value = sum(int(n) * unit[u] for n, u in parts)
    assert value <= seconds < value + unit[parts[-1][1]]
    assert human(None) == '?'


def fleet_of_sessions(n, now):
    """/proc-like input of a host with ``n`` sessions: the socket table, sshd's two processes per session and
    the user's shell on a pts, and one ssh client per session."""
    lines, procs = [HEADER], []
    for i in range(n):
        peer = '10.%d.%d.%d' % (i // 65536, i // 256 % 256, i % 256)
        lines.append(proc_line(i, ('10.0.0.5', 22), (peer, 40000 + i % 20000), inode=100000 + i))
        lines.append(proc_line(n + i, ('10.0.0.5', 30000 + i % 30000), (peer, 22), inode=300000 + i,
                               tx=10 if i % 7 == 0 else 0, retrans=9 if i % 7 == 0 else 0))
        base = 1000000 + 4 * i
        procs += [Proc(base, 'sshd', 1, None, 0, now - 3600, [100000 + i]),
                  Proc(base + 1, 'sshd', base, None, 1000 + i % 50, now - 3600, [100000 + i]),
                  Proc(base + 2, 'bash', base + 1, 'pts/%d' % i, 1000 + i % 50, now - 3599),
                  Proc(base + 3, 'ssh', 1, None, 1000 + i % 50, now - 100, [300000 + i])]
    names = dict((1000 + u, 'user%02d' % u) for u in range(50))
    names[0] = 'root'
    atimes = dict(('pts/%d' % i, now - (i % 600)) for i in range(n))
    return ''.join(lines), procs, names, atimes


def test_ten_thousand_sessions_stay_within_time_and_output_limits_and_say_so():
    now = time.time()
    text, procs, names, atimes = fleet_of_sessions(10000, now)
    evaluated = []

    def interval_of(context):
        evaluated.append(context)
        return 60 if context[0] < 'user25' else 0

    started = time.time()
    sockets = parse_proc_net_tcp(text)
    server = server_sessions(sockets, procs, [('0.0.0.0', 22)], names, atimes, now, POLICY, interval_of)
    clients = client_processes(sockets, procs, names, now, POLICY, lambda key: None)
    total = counts(server, clients, [])
    rows, cut = bounded(server, 200)
    client_rows, client_cut = bounded(clients, 200)
    elapsed = time.time() - started
    assert elapsed < 20, elapsed
    assert total['sessions'] == 10000 and total['clients'] == 10000 and cut and client_cut
    assert total['active'] + total['idle_kept_alive'] + total['at_risk'] + total['unresponsive'] == 10000
    # idle i % 600 s; the client of every 7th session waits on unanswered data (like the server's side)
    unanswered = set(range(0, 10000, 7))
    assert total['unresponsive'] == 0   # the server's sockets are fine: only the clients' wait
    assert total['active'] == sum(1 for i in range(10000) if i % 600 < 60)
    assert total['idle_kept_alive'] == sum(1 for i in range(10000) if i % 600 >= 60 and 1000 + i % 50 < 1025)
    assert total['stale_clients'] == len(unanswered) and total['at_risk'] > 0
    assert len(rows) == 200 and len(client_rows) == 200
    assert len(json.dumps({'server': rows, 'clients': client_rows, 'counts': total})) < 200 * 1024
    # privacy: names, pids, addresses and times only
    assert all(set(r) == SERVER_KEYS for r in rows) and all(set(r) == CLIENT_KEYS for r in client_rows)
    assert rows[0]['user'].startswith('user') and rows[0]['tty'] == 'pts/0'


def test_only_the_sessions_of_this_sshd_are_its_sessions():
    now = time.time()
    text, procs, names, atimes = fleet_of_sessions(3, now)
    sockets = parse_proc_net_tcp(text)
    assert server_sessions(sockets, procs, [('10.0.0.6', 22)], names, atimes, now, POLICY, lambda c: 0) == []
    assert len(server_sessions(sockets, procs, [('10.0.0.5', 22)], names, atimes, now, POLICY, lambda c: 0)) == 3


def test_client_rows_of_named_users_only_and_destination_from_the_socket():
    now = time.time()
    text, procs, names, atimes = fleet_of_sessions(60, now)
    rows = client_processes(parse_proc_net_tcp(text), procs, names, now, POLICY, lambda key: None, users=['user07'])
    assert rows and {r['user'] for r in rows} == {'user07'}
    assert all(r['destination'].endswith(':22') for r in rows)


ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: '%d.%d.%d.%d' % t)


@given(st.lists(st.tuples(ipv4, st.integers(0, 65535), ipv4, st.integers(0, 65535), st.integers(1, 12),
                          st.integers(0, 2 ** 32 - 1), st.integers(0, 255), st.integers(0, 2 ** 31)), max_size=10))
@SETTINGS
def test_inet_diag_reads_back_every_socket_of_a_dump(entries):
    data = b''.join(diag_message((la, lp), (ra, rp), state=s, inode=i, retransmits=r, last_recv_ms=ms)
                    for la, lp, ra, rp, s, i, r, ms in entries)
    sockets, done = decode_inet_diag(data)
    assert not done
    assert [(x['local'], x['remote'], x['state'], x['inode'], x['retransmits'], x['last_recv']) for x in sockets] == [
        ((la, lp), (ra, rp), rules.TCP_STATES[s], i, r, ms / 1000.0) for la, lp, ra, rp, s, i, r, ms in entries]


@given(idle=st.one_of(st.none(), st.integers(0, 10 ** 6)), last_recv=st.one_of(st.none(), st.integers(0, 10 ** 6)),
       interval=st.one_of(st.none(), st.integers(0, 10 ** 4)), tty=st.booleans(),
       unacked=st.integers(0, 10), retransmits=st.integers(0, 10), last_ack=st.integers(0, 10 ** 4))
@SETTINGS
def test_server_class_rules_hold_for_any_input(idle, last_recv, interval, tty, unacked, retransmits, last_ack):
    s = sock(unacked_bytes=unacked, retransmits=retransmits, last_recv=last_recv, last_ack=last_ack)
    cls = server_class(idle, last_recv, interval, s, POLICY, tty)
    assert cls in rules.SERVER_CLASSES
    gone = unacked > 0 and retransmits >= rules.MIN_RETRANSMITS and last_ack >= POLICY.unanswered_after
    assert (cls == 'unresponsive') == gone
    server_keeps = interval and interval * POLICY.server_period < POLICY.path_timeout
    if not gone and idle is not None and idle >= POLICY.active_within and server_keeps:
        assert cls == 'idle_kept_alive'   # the server's keepalives come more often than the path forgets
    if cls == 'at_risk':
        assert not server_keeps


@pytest.mark.parametrize('names', [('sshd', 'sshd'), ('sshd-session', 'sshd-session'), ('sshd-session', 'sshd-auth')])
def test_a_session_is_found_by_sshds_process_names_of_every_version(names):
    """9.2: two sshd; 9.8+: sshd-session; 10.0+: sshd-auth before authentication (the privsep user 'sshd')."""
    now = time.time()
    text = HEADER + proc_line(0, ('10.0.0.5', 22), ('203.0.113.7', 50022), inode=7)
    uid = 101 if names[1] == 'sshd-auth' else 1000
    procs = [Proc(10, names[0], 1, None, 0, now - 5, [7]), Proc(11, names[1], 10, None, uid, now - 5, [7])]
    [row] = server_sessions(parse_proc_net_tcp(text), procs, [('0.0.0.0', 22)], {0: 'root', 101: 'sshd', 1000: 'alice'},
                            {}, now, POLICY, lambda c: 0)
    assert row['user'] == ('(unauthenticated)' if names[1] == 'sshd-auth' else 'alice') and row['pid'] == 10
