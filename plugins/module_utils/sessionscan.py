# -*- coding: utf-8 -*-
# Copyright: keepalive.ssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading what sessions.py classifies: the kernel's TCP sockets, /proc, tty times; ending stale clients.

Sources, best first: netlink inet_diag (every socket with its tcp_info: retransmissions, time since the
peer last sent data), then /proc/net/tcp{,6} (no per-socket times: idle without a tty is unknown), and
``ss`` is not needed.  Only this network namespace is looked at (its sockets, and processes whose network
namespace is this one): another namespace's sockets are not in these tables, and a process there could
only be misjudged.

Of a process only /proc/PID/stat (name, parent, tty, start), its owner and its socket inodes are read —
never its command line or environment.  A user's files are touched only as that user (ControlMaster
sockets: listed, tested and removed by a child running with the user's uid, see userread.call_as).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import pwd
import re
import signal
import socket
import stat
import time

from ansible_collections.keepalive.ssh.plugins.module_utils import sessions as rules
from ansible_collections.keepalive.ssh.plugins.module_utils.support import Limits
from ansible_collections.keepalive.ssh.plugins.module_utils.userread import (
    Identity,
    UserFileError,
    call_as,
    run_bounded,
)

MAX_PROCESSES = 200000    # /proc entries looked at; beyond: truncated
MAX_CONTEXTS = 32         # distinct Match contexts (sshd -T -C) or destinations (ssh -G) evaluated per run
MAX_CONTROL_ENTRIES = 1000  # directory entries looked at per user for ControlMaster sockets
ONE_WORD = re.compile(r'^[^\s,=\x00-\x1f]+$')   # what keepalive_info accepts in a connection spec


class Unavailable(Exception):
    """Neither the kernel's socket information nor /proc can be read here."""


def _read(path):
    with open(path) as f:
        return f.read()


def tcp_sockets():
    """(source, sockets) of this network namespace: netlink inet_diag, else /proc/net/tcp{,6}."""
    try:
        return 'inet_diag', _inet_diag()
    except (OSError, ValueError):
        pass
    sockets, found = [], False
    for name in ('tcp', 'tcp6'):
        try:
            sockets += rules.parse_proc_net_tcp(_read('/proc/net/' + name))
            found = True
        except (IOError, OSError):
            continue
    if not found:
        raise Unavailable('neither netlink inet_diag nor /proc/net/tcp can be read on this host')
    return 'proc_net_tcp', sockets


def _inet_diag():
    out = []
    for family in (socket.AF_INET, socket.AF_INET6):
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 4)  # NETLINK_SOCK_DIAG
        try:
            sock.settimeout(5)
            sock.sendto(rules.inet_diag_request(family), (0, 0))
            done = False
            while not done:
                chunk, done = rules.decode_inet_diag(sock.recv(1 << 20))
                out += chunk
        finally:
            sock.close()
    return out


def boot_time():
    for line in _read('/proc/stat').splitlines():
        if line.startswith('btime '):
            return int(line.split()[1])
    raise Unavailable('/proc/stat has no btime')


def processes(deadline, wanted=rules.SERVER_NAMES + rules.CLIENT_NAMES):
    """(procs, truncated): every process of this network namespace (name, parent, tty, start), with the
    socket inodes of those named in ``wanted``."""
    netns = os.stat('/proc/self/ns/net').st_ino
    ticks = float(os.sysconf('SC_CLK_TCK'))
    btime = boot_time()
    procs, truncated = [], False
    for n, entry in enumerate(os.listdir('/proc')):
        if not entry.isdigit():
            continue
        if n >= MAX_PROCESSES or time.time() > deadline:
            truncated = True
            break
        base = '/proc/' + entry
        try:
            comm, ppid, tty_nr, start = rules.parse_stat(_read(base + '/stat'))
            if os.stat(base + '/ns/net').st_ino != netns:
                continue
            uid = os.stat(base).st_uid
            inodes = _socket_inodes(base) if comm in wanted else ()
        except (IOError, OSError, ValueError, IndexError):
            continue  # gone meanwhile, or a kernel thread
        procs.append(rules.Proc(int(entry), comm, ppid, rules.tty_name(tty_nr), uid, btime + start / ticks,
                                inodes))
    return procs, truncated


def _socket_inodes(base):
    inodes = []
    for fd in os.listdir(base + '/fd'):
        try:
            target = os.readlink('%s/fd/%s' % (base, fd))
        except OSError:
            continue
        if target.startswith('socket:['):
            inodes.append(int(target[8:-1]))
    return inodes


def user_names(procs):
    names = {}
    for uid in set(p.uid for p in procs):
        try:
            names[uid] = pwd.getpwuid(uid).pw_name
        except KeyError:
            names[uid] = str(uid)
    return names


def tty_atimes(procs):
    """'pts/N' → access time of /dev/pts/N (what ``w`` shows as idle): a stat of the device, not a read."""
    out = {}
    for tty in set(p.tty for p in procs if p.tty):
        try:
            out[tty] = os.stat('/dev/' + tty).st_atime
        except OSError:
            pass
    return out


class Bounded:
    """``func(key)`` memoised for at most MAX_CONTEXTS distinct keys; the rest get None (counted)."""

    def __init__(self, func, limit=MAX_CONTEXTS):
        self.func, self.limit, self.cache, self.skipped = func, limit, {}, 0

    def __call__(self, key):
        if key not in self.cache:
            if len(self.cache) >= self.limit:
                self.skipped += 1
                return None
            self.cache[key] = self.func(key)
        return self.cache[key]


def sshd_interval(sshd, path, timeout):
    """The ClientAliveInterval sshd applies to a Match context (user, addr, laddr, lport), via sshd -T -C."""
    def evaluate(context):
        user, addr, laddr, lport = context
        if not ONE_WORD.match(user):
            return None   # never a name that could add a key to -C's list
        spec = 'user=%s,host=%s,addr=%s,laddr=%s,lport=%d' % (
            user if user and not user.startswith('(') else 'nobody', addr, addr, laddr, lport)
        rc, out, _err = run_bounded([sshd, '-T', '-f', path, '-C', spec], timeout)
        if rc != 0:
            return None
        for line in out.splitlines():
            if line.startswith('clientaliveinterval '):
                return int(line.split()[1])
        return None
    return evaluate


def ssh_alive_limit(ssh, timeout):
    """ServerAliveInterval × ServerAliveCountMax of a user's ssh for a destination address: ``ssh -G`` run
    as the user (their own files, read with their rights); Host patterns are matched against the address.
    All of one user's ``ssh -G`` share one budget of ``timeout`` seconds (their Match exec cannot multiply it)."""
    budgets = {}

    def evaluate(context):
        user, addr = context
        try:
            limits = budgets.setdefault(user, Limits(Identity.of(user), timeout))
        except KeyError:
            return None
        left = limits.left()
        if left <= 0:
            return None
        rc, out, _err = run_bounded([ssh, '-G', '--', addr], left, limits.identity)
        if rc != 0:
            return None
        values = dict(line.split(None, 1) for line in out.splitlines() if len(line.split(None, 1)) == 2)
        try:
            return int(values['serveraliveinterval']) * int(values['serveralivecountmax'])
        except (KeyError, ValueError):
            return None
    return evaluate


# -- ControlMaster sockets (run as the user, in userread.call_as's child) -------------------------------

def _control_sockets(dirs, max_entries, remove):
    """Unix sockets in ``dirs`` (and their direct subdirectories), as the user; a socket nobody accepts on
    (ECONNREFUSED) is dead, and removed when ``remove``.  Links are never followed."""
    found, seen = [], 0
    pending = [(d, 1) for d in dirs]
    while pending and seen < max_entries:
        top, depth = pending.pop(0)
        try:
            names = sorted(os.listdir(top))
        except OSError:
            continue
        for name in names:
            seen += 1
            if seen > max_entries:
                break
            path = os.path.join(top, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode) and depth > 0:
                pending.append((path, depth - 1))
            if not stat.S_ISSOCK(st.st_mode):
                continue
            dead = _refuses(path)
            removed = False
            if dead and remove:
                again = os.lstat(path)
                if (again.st_dev, again.st_ino) == (st.st_dev, st.st_ino):
                    os.unlink(path)
                    removed = True
            found.append({'path': path, 'dead': dead, 'removed': removed})
    return {'sockets': found, 'truncated': seen > max_entries or bool(pending)}


def _refuses(path):
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(2)
    try:
        client.connect(path)
        return False
    except socket.timeout:
        return False   # a master too busy to accept is still a master
    except OSError as e:
        return e.errno in (errno.ECONNREFUSED, errno.ENOENT)
    finally:
        client.close()


def control_sockets(user, dirs, timeout, remove=False):
    """ControlMaster sockets of ``user`` in ``dirs`` ('~/' is the user's home): {'sockets', 'truncated'}."""
    identity = Identity.of(user)
    paths = [identity.home + d[1:] if d == '~' or d.startswith('~/') else d for d in dirs]
    result = call_as(identity, _control_sockets, (paths, MAX_CONTROL_ENTRIES, remove), timeout=timeout)
    for row in result['sockets']:
        row['user'] = user
    return result


# -- ending a stale client ------------------------------------------------------------------------------

def end_process(pid, start, uid, sig=signal.SIGTERM):
    """Send ``sig`` to ``pid`` only if it is still the process that was judged (same start time and
    owner): a pid the kernel gave to another process meanwhile is left alone.  True when signalled."""
    base = '/proc/%d' % pid
    ticks = float(os.sysconf('SC_CLK_TCK'))
    pidfd = None
    if hasattr(os, 'pidfd_open'):
        try:
            pidfd = os.pidfd_open(pid)   # from here on the pid cannot be reused under us
        except OSError:
            return False
    try:
        try:
            text = _read(base + '/stat')
            now_start = boot_time() + rules.parse_stat(text)[3] / ticks
            owner = os.stat(base).st_uid
        except (IOError, OSError, ValueError, IndexError):
            return False
        if abs(now_start - start) > 1 or owner != uid or text.rpartition(')')[2].split()[0] == 'Z':
            return False   # another process now, or one that has ended (a zombie waits for its parent)
        try:
            if pidfd is not None:
                signal.pidfd_send_signal(pidfd, sig)
            else:
                os.kill(pid, sig)
        except OSError:
            return False
        return True
    finally:
        if pidfd is not None:
            os.close(pidfd)


# -- the whole view -------------------------------------------------------------------------------------

def report(policy, listen, interval_of, alive_limit_of, users, control_dirs, max_rows, timeout, remove=False):
    """Sessions (server side), ssh clients and ControlMaster sockets of this host, counted and bounded.

    ``listen`` None leaves the server side out; ``users`` None reports every user's clients, a list only
    theirs (and only their ControlMaster sockets are looked at).  Lists hold at most ``max_rows`` rows each;
    ``counts`` cover everything, ``truncated`` says when a list or the scan itself was cut.
    """
    deadline = time.time() + timeout
    try:
        source, sockets = tcp_sockets()
        procs, truncated = processes(deadline)
    except (Unavailable, IOError, OSError) as e:
        return {'available': False, 'source': None,
                'reason': str(e) if isinstance(e, Unavailable) else 'cannot read /proc: %s' % e}
    now = time.time()
    names = user_names(procs)
    interval_of, alive_limit_of = Bounded(interval_of), Bounded(alive_limit_of)
    server = rules.server_sessions(sockets, procs, listen, names, tty_atimes(procs), now, policy,
                                   interval_of) if listen is not None else []
    clients = rules.client_processes(sockets, procs, names, now, policy, alive_limit_of, users)
    control, skipped = [], []
    for user in users or ():
        try:
            found = control_sockets(user, control_dirs, timeout, remove)   # each user their own budget
        except (KeyError, UserFileError) as e:
            skipped.append({'user': user, 'reason': 'no such user' if isinstance(e, KeyError) else str(e)})
            continue
        control += found['sockets']
        truncated = truncated or found['truncated']
    out = {'available': True, 'source': source, 'counts': rules.counts(server, clients, control),
           'not_evaluated': interval_of.skipped + alive_limit_of.skipped, 'skipped_users': skipped}
    for key, rows in (('server', server), ('clients', clients), ('control_sockets', control)):
        out[key], cut = rules.bounded(rows, max_rows)
        truncated = truncated or cut
    out['truncated'] = truncated
    return out


# The options both modules take (documented once: doc_fragments/sessions.py).
SESSION_OPTIONS = dict(type='dict', default={}, options=dict(
    path_timeout=dict(type='int', default=300),
    active_within=dict(type='int', default=60),
    unanswered_after=dict(type='int', default=30),
    users=dict(type='list', elements='str'),
    control_dirs=dict(type='list', elements='str', default=['~/.ssh']),
    max_rows=dict(type='int', default=200),
))


def policy_of(options, server_period=None):
    """The thresholds of ``options``; ``server_period`` the host sshd's (None: the conservative one)."""
    extra = {} if server_period is None else {'server_period': server_period}
    return rules.Policy(options['path_timeout'], options['active_within'], options['unanswered_after'], **extra)


def check_options(options):
    """An admin's input error, as a sentence (None when fine)."""
    for key in ('path_timeout', 'active_within', 'unanswered_after', 'max_rows'):
        if options[key] < 0:
            return 'session_options.%s must be 0 or more, got %d' % (key, options[key])
    for d in options['control_dirs']:
        if not (d == '~' or d.startswith('~/') or os.path.isabs(d)):
            return 'session_options.control_dirs: %s must be absolute or start with ~/' % d
    return None


def sshd_listen(sshd, path, timeout):
    """The addresses sshd listens on (sshd -T's listenaddress lines), or None when sshd -T fails."""
    rc, out, _err = run_bounded([sshd, '-T', '-f', path], timeout)
    if rc != 0:
        return None
    return rules.parse_listen([line.split(None, 1)[1] for line in out.splitlines()
                               if line.startswith('listenaddress ')])


def user_ids(users):
    """name → uid of the users that exist."""
    out = {}
    for name in users:
        try:
            out[name] = pwd.getpwnam(name).pw_uid
        except KeyError:
            pass
    return out
