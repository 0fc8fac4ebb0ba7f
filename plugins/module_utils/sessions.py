# -*- coding: utf-8 -*-
# Copyright: keepalive.ssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live SSH sessions, the ones at risk and the stale ones: parsing and classification, no I/O.

The readers (module_utils/sessionscan.py) hand this file what the kernel says: TCP sockets (netlink
inet_diag, or /proc/net/tcp), processes (/proc/PID/stat, their socket inodes), tty access times.
Everything here is a pure function of that input and of ``now``, so the rules are unit-tested on
synthetic input, 10,000 sessions included.

What leaves this file: user names, pids, addresses, ports, times and classes.  Never a command line,
an environment or a file's content (they are never read).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import struct

from ansible_collections.keepalive.ssh.plugins.module_utils.timing import CONSERVATIVE

# /proc/net/tcp's and inet_diag's state numbers (include/net/tcp_states.h)
TCP_STATES = {1: 'ESTABLISHED', 2: 'SYN_SENT', 3: 'SYN_RECV', 4: 'FIN_WAIT1', 5: 'FIN_WAIT2', 6: 'TIME_WAIT',
              7: 'CLOSE', 8: 'CLOSE_WAIT', 9: 'LAST_ACK', 10: 'LISTEN', 11: 'CLOSING', 12: 'NEW_SYN_RECV'}
# A connection in one of these states is over: the peer or we closed it, the process just did not exit.
CLOSED_STATES = ('FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', 'CLOSE', 'CLOSE_WAIT', 'LAST_ACK', 'CLOSING')
# Consecutive unanswered retransmissions before a peer counts as gone (200 ms + 400 ms + 800 ms at least):
# one or two lost segments on a live path are not "stopped answering".
MIN_RETRANSMITS = 3
CONNECT_GRACE = 60   # seconds an ssh may stay in SYN_SENT before it counts as stale (ConnectTimeout's scale)

SERVER_NAMES = ('sshd', 'sshd-session', 'sshd-auth')   # sshd's per-connection processes (9.8+: sshd-session, 10.0+: sshd-auth)
CLIENT_NAMES = ('ssh',)

SERVER_CLASSES = ('active', 'idle_kept_alive', 'at_risk', 'unresponsive', 'unknown')


class Policy:
    """The admin's thresholds, in seconds.

    ``path_timeout``: after how long the path (NAT, firewall) forgets a silent connection;
    ``active_within``: a session whose user did something this recently is active;
    ``unanswered_after``: data the peer has not acknowledged for this long (with MIN_RETRANSMITS
    retransmissions, or unanswered TCP keepalive probes) means the peer stopped answering;
    ``server_period``: sshd sends its keepalive every ``server_period`` × ClientAliveInterval (the host's
    version, module_utils/timing.py; unknown: the conservative, longest measured period).
    """

    def __init__(self, path_timeout=300, active_within=60, unanswered_after=30,
                 server_period=CONSERVATIVE.server_period):
        self.path_timeout, self.active_within, self.unanswered_after = path_timeout, active_within, unanswered_after
        self.server_period = server_period


# -- parsing ---------------------------------------------------------------------------------------------

def _hex_address(text):
    """'0100007F:0016' (or 32 hex digits for IPv6) → ('127.0.0.1', 22): /proc/net/tcp{,6} stores each
    32-bit word in host (little-endian on every platform we support) order."""
    addr, port = text.split(':')
    raw = b''.join(struct.pack('<I', int(addr[i:i + 8], 16)) for i in range(0, len(addr), 8))
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
    return _unmap(socket.inet_ntop(family, raw)), int(port, 16)


def _unmap(ip):
    """'::ffff:10.0.0.1' → '10.0.0.1': a dual-stack listener reports IPv4 peers as mapped addresses."""
    return ip[7:] if ip.startswith('::ffff:') and '.' in ip else ip


def socket_entry(local, remote, state, inode, uid, unacked_bytes=0, retransmits=0, probes=0,
                 last_recv=None, last_ack=None):
    """One TCP socket as the rules below read it (times in seconds; None when the source lacks them)."""
    return {'local': local, 'remote': remote, 'state': TCP_STATES.get(state, str(state)), 'inode': inode,
            'uid': uid, 'unacked_bytes': unacked_bytes, 'retransmits': retransmits, 'probes': probes,
            'last_recv': last_recv, 'last_ack': last_ack}


def parse_proc_net_tcp(text):
    """Sockets of /proc/net/tcp or /proc/net/tcp6 (no per-socket times there: last_recv is None)."""
    sockets = []
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) < 10:
            continue
        try:
            tx_queue = int(f[4].split(':')[0], 16)
            sockets.append(socket_entry(_hex_address(f[1]), _hex_address(f[2]), int(f[3], 16), int(f[9]),
                                        int(f[7]), unacked_bytes=tx_queue, retransmits=int(f[6], 16),
                                        probes=int(f[8])))
        except (ValueError, struct.error):
            continue
    return sockets


# netlink inet_diag (linux/inet_diag.h, linux/tcp.h)
NLMSG_HEADER = struct.Struct('=IHHII')
INET_DIAG_MSG = struct.Struct('=BBBB2s2s16s16sI8sIIIII')
INET_DIAG_INFO = 2
TCP_INFO = struct.Struct('=BBBBBBBB15I')   # up to rcv_ssthresh: the fields read below
NLMSG_DONE, NLMSG_ERROR = 3, 2


def inet_diag_request(family, seq=1):
    """A SOCK_DIAG_BY_FAMILY dump request for every TCP socket of ``family``, with tcp_info."""
    body = struct.pack('=BBBBI', family, socket.IPPROTO_TCP, 1 << (INET_DIAG_INFO - 1), 0, 0xfff) + b'\0' * 48
    return NLMSG_HEADER.pack(NLMSG_HEADER.size + len(body), 20, 0x301, seq, 0) + body


def decode_inet_diag(data):
    """(sockets, done) from a chunk of netlink replies; raises OSError on an NLMSG_ERROR."""
    sockets, done, offset = [], False, 0
    while offset + NLMSG_HEADER.size <= len(data):
        length, kind, _flags, _seq, _pid = NLMSG_HEADER.unpack_from(data, offset)
        if length < NLMSG_HEADER.size:
            break
        body = data[offset + NLMSG_HEADER.size:offset + length]
        offset += (length + 3) & ~3
        if kind == NLMSG_DONE:
            done = True
            break
        if kind == NLMSG_ERROR:
            errno_ = -struct.unpack_from('=i', body)[0] if len(body) >= 4 else 0
            raise OSError(errno_, 'inet_diag')
        if len(body) < INET_DIAG_MSG.size:
            continue
        (family, state, _timer, _retrans, sport, dport, src, dst, _if, _cookie, _expires, _rqueue, wqueue,
         uid, inode) = INET_DIAG_MSG.unpack_from(body)
        size = 4 if family == socket.AF_INET else 16
        fam = socket.AF_INET if size == 4 else socket.AF_INET6
        local = (_unmap(socket.inet_ntop(fam, src[:size])), struct.unpack('>H', sport)[0])
        remote = (_unmap(socket.inet_ntop(fam, dst[:size])), struct.unpack('>H', dport)[0])
        info = _tcp_info(body[INET_DIAG_MSG.size:])
        if info is None:
            sockets.append(socket_entry(local, remote, state, inode, uid, unacked_bytes=wqueue))
            continue
        sockets.append(socket_entry(local, remote, state, inode, uid, unacked_bytes=wqueue,
                                    retransmits=info[2], probes=info[3], last_recv=info[19] / 1000.0,
                                    last_ack=info[20] / 1000.0))
    return sockets, done


def _tcp_info(attrs):
    """The tcp_info tuple of a reply's INET_DIAG_INFO attribute, or None."""
    offset = 0
    while offset + 4 <= len(attrs):
        length, kind = struct.unpack_from('=HH', attrs, offset)
        if length < 4:
            return None
        if kind == INET_DIAG_INFO and length - 4 >= TCP_INFO.size:
            return TCP_INFO.unpack_from(attrs, offset + 4)
        offset += (length + 3) & ~3
    return None


def parse_stat(text):
    """(comm, ppid, tty_nr, starttime in clock ticks) from /proc/PID/stat; comm may hold spaces and ')'."""
    head, _sep, rest = text.rpartition(')')
    f = rest.split()
    return head.partition('(')[2], int(f[1]), int(f[4]), int(f[19])


def tty_name(tty_nr):
    """/proc/PID/stat's tty_nr → 'pts/3', 'tty2', or None without a terminal (linux/kdev_t.h)."""
    major, minor = (tty_nr >> 8) & 0xfff, (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00)
    if 136 <= major <= 143:
        return 'pts/%d' % ((major - 136) * 256 + minor)
    if major == 4 and minor < 64:
        return 'tty%d' % minor
    return None


def parse_listen(values):
    """sshd -T's 'listenaddress' values ('0.0.0.0:22', '[::]:2222', '127.0.0.1:22') → [(ip, port)]."""
    out = []
    for value in values:
        host, _sep, port = value.rpartition(':')
        host = host.strip('[]')
        if port.isdigit():
            out.append((_unmap(host), int(port)))
    return out


def listens_on(listen, local):
    """True when a socket's local address is one the sshd listens on (a wildcard takes any address)."""
    ip, port = local
    return any(lp == port and lip in (ip, '0.0.0.0', '::') for lip, lp in listen)


# -- rules -----------------------------------------------------------------------------------------------

def unanswered(sock, policy):
    """The peer stopped answering: data or keepalive probes unacknowledged for ``unanswered_after`` seconds,
    retransmitted MIN_RETRANSMITS times (a source without per-socket times: the retransmissions alone)."""
    waiting = (sock['unacked_bytes'] > 0 and sock['retransmits'] >= MIN_RETRANSMITS) or sock['probes'] > 0
    if not waiting:
        return False
    return sock['last_ack'] is None or sock['last_ack'] >= policy.unanswered_after


def server_class(idle, last_recv, server_interval, sock, policy, has_tty):
    """One of SERVER_CLASSES for a server-side session (``unknown``: idle time unknown).

    ``idle``: the user's idle time (tty: its access time; no tty: the client's last data, the only sign
    there is); ``last_recv``: seconds since the client last sent anything (keepalives included);
    ``server_interval``: the ClientAliveInterval sshd applies to this session (None: unknown).
    """
    if unanswered(sock, policy):
        return 'unresponsive'
    if idle is None:
        return 'unknown'   # no tty and a source without per-socket times (/proc/net/tcp)
    if idle < policy.active_within:
        return 'active'
    # sshd's keepalives come every server_period intervals (9.2's server loop: two; measured per version)
    server_keeps = bool(server_interval) and server_interval * policy.server_period < policy.path_timeout
    # the user is idle at the terminal but the client sent something within the timeout: its keepalives
    client_keeps = has_tty and last_recv is not None and last_recv < min(policy.path_timeout, idle or 0)
    return 'idle_kept_alive' if server_keeps or client_keeps else 'at_risk'


def client_stale(sock, age, alive_limit, policy):
    """Why an ssh client is stale, or None while its connection is alive.

    ``sock`` is its TCP connection (None: it has none in this network namespace, e.g. a ProxyCommand or
    a ControlMaster client: never judged stale); ``alive_limit`` is ServerAliveInterval ×
    ServerAliveCountMax for its destination (0 or None: the client sends no keepalives, so silence is no
    sign); ``age`` the process's age in seconds.
    """
    if sock is None:
        return None
    if sock['state'] in CLOSED_STATES:
        return 'connection closed (%s)' % sock['state']
    if sock['state'] != 'ESTABLISHED':
        return 'not established after %d s' % age if age >= CONNECT_GRACE else None
    if unanswered(sock, policy):
        return 'server stopped answering (unacknowledged data, %d retransmissions)' % sock['retransmits']
    if alive_limit and sock['last_recv'] is not None and sock['last_recv'] > alive_limit:
        return 'silent for %d s, longer than ServerAliveInterval x ServerAliveCountMax (%d s)' % (
            sock['last_recv'], alive_limit)
    return None


def human(seconds):
    """Idle time as an admin reads it: '42s', '12m05s', '3h07m', '2d04h' (None: '?')."""
    if seconds is None:
        return '?'
    s = int(seconds)
    if s < 60:
        return '%ds' % s
    if s < 3600:
        return '%dm%02ds' % (s // 60, s % 60)
    if s < 86400:
        return '%dh%02dm' % (s // 3600, s % 3600 // 60)
    return '%dd%02dh' % (s // 86400, s % 86400 // 3600)


# -- assembling the report -------------------------------------------------------------------------------

class Proc:
    """What is known of one process: never its command line or environment."""

    __slots__ = ('pid', 'comm', 'ppid', 'tty', 'uid', 'start', 'inodes')

    def __init__(self, pid, comm, ppid, tty, uid, start, inodes=()):
        self.pid, self.comm, self.ppid, self.tty, self.uid, self.start = pid, comm, ppid, tty, uid, start
        self.inodes = tuple(inodes)


def _terminal(proc, children, depth=4):
    """The tty of the session a sshd process serves: its first descendant with a terminal."""
    level = [proc.pid]
    for _n in range(depth):
        level = [c for pid in level for c in children.get(pid, ())]
        for child in level:
            if child.tty:
                return child.tty
        level = [c.pid for c in level]
    return None


def server_sessions(sockets, procs, listen, names, tty_atime, now, policy, interval_of):
    """Every session of the sshd listening on ``listen``, classified, oldest first.

    ``names`` maps uid → user name; ``tty_atime`` maps 'pts/N' → its access time (what ``w`` shows);
    ``interval_of((user, addr, laddr, lport))`` returns the ClientAliveInterval sshd applies to that
    Match context (None when unknown).
    """
    by_inode = {}
    for proc in procs:
        if proc.comm in SERVER_NAMES:
            for inode in proc.inodes:
                by_inode.setdefault(inode, []).append(proc)
    children = {}
    for proc in procs:
        children.setdefault(proc.ppid, []).append(proc)
    rows = []
    for sock in sockets:
        if sock['state'] == 'LISTEN' or not listens_on(listen, sock['local']) or sock['inode'] not in by_inode:
            continue
        holders = by_inode[sock['inode']]
        user = _session_user(holders, names)
        tty = next((t for t in (_terminal(p, children) for p in holders) if t), None)
        idle = now - tty_atime[tty] if tty in tty_atime else sock['last_recv']
        interval = interval_of((user, sock['remote'][0], sock['local'][0], sock['local'][1]))
        cls = server_class(idle, sock['last_recv'], interval, sock, policy, tty is not None)
        start = min(p.start for p in holders)
        rows.append({'user': user, 'pid': min(p.pid for p in holders), 'addr': sock['remote'][0],
                     'port': sock['remote'][1], 'start': int(start), 'tty': tty,
                     'idle': None if idle is None else int(idle), 'idle_human': human(idle),
                     'client_alive_interval': interval, 'class': cls})
    rows.sort(key=lambda r: (r['start'], r['pid']))
    return rows


def _session_user(holders, names):
    """The logged-in user: the unprivileged process of the session (sshd's privileged half is root's)."""
    uids = sorted({p.uid for p in holders}, reverse=True)
    name = names.get(uids[0], str(uids[0]))
    return '(unauthenticated)' if name == 'sshd' else name


def client_processes(sockets, procs, names, now, policy, alive_limit_of, users=None):
    """Every ssh client process (of ``users`` when given) with destination, state and staleness.

    The destination is the TCP peer of the socket it holds, never its command line.
    ``alive_limit_of((user, addr))`` gives ServerAliveInterval × ServerAliveCountMax (None: unknown).
    """
    by_inode = dict((s['inode'], s) for s in sockets if s['state'] != 'LISTEN')
    rows = []
    for proc in procs:
        if proc.comm not in CLIENT_NAMES:
            continue
        user = names.get(proc.uid, str(proc.uid))
        if users is not None and user not in users:
            continue
        sock = next((by_inode[i] for i in proc.inodes if i in by_inode), None)
        age = now - proc.start
        limit = alive_limit_of((user, sock['remote'][0])) if sock else None
        reason = client_stale(sock, age, limit, policy)
        rows.append({'user': user, 'pid': proc.pid, 'start': int(proc.start),
                     'destination': '%s:%d' % sock['remote'] if sock else None,
                     'state': sock['state'] if sock else 'no TCP connection in this network namespace',
                     'silent': None if not sock or sock['last_recv'] is None else int(sock['last_recv']),
                     'stale': reason is not None, 'reason': reason})
    rows.sort(key=lambda r: (r['user'], r['start'], r['pid']))
    return rows


def counts(server_rows, client_rows, control_rows):
    """Per-host totals: these cover every session, also when the lists are truncated."""
    out = dict((c, 0) for c in SERVER_CLASSES)
    for row in server_rows:
        out[row['class']] += 1
    out.update(sessions=len(server_rows), clients=len(client_rows),
               stale_clients=sum(1 for r in client_rows if r['stale']),
               dead_control_sockets=sum(1 for r in control_rows if r['dead']))
    return out


def bounded(rows, max_rows):
    """(the first ``max_rows`` rows, whether some were left out)."""
    return rows[:max_rows], len(rows) > max_rows
