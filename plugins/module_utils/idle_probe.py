# -*- coding: utf-8 -*-
# Copyright: keepalive.ssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measure after how many seconds of silence a network path forgets an SSH connection.

Several authenticated sessions (the system ``ssh`` running a remote ``cat``) are opened in parallel;
each echoes one line, stays silent for its own planned duration, then sends a line and waits a short
time for it to come back.  Round 1 is a geometric ladder up to ``max_idle``; later rounds bisect
between the longest silence that survived and the shortest that killed, until they are at most
``resolution`` apart.  A path forgets monotonically (a longer silence never survives where a shorter
one died), so a session that dies cancels every longer one of its round.

Every ssh runs in its own process group, killed whole when this process dies however it dies
(module_utils/lifeline.py), so no session outlives the probe: not on success, failure, a signal or an
async timeout.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import os
import re
import selectors
import signal
import subprocess
import time
import uuid

from ansible_collections.keepalive.ssh.plugins.module_utils.timing import assumed, derive_interval, openssh_version
from ansible_collections.keepalive.ssh.plugins.module_utils.lifeline import preexec

# Options the probe sets itself: a user's value would falsify the measurement or hang the probe.
MANAGED_OPTIONS = ('batchmode', 'controlmaster', 'controlpath', 'controlpersist', 'serveraliveinterval',
                   'serveralivecountmax', 'tcpkeepalive', 'loglevel', 'requesttty', 'sessiontype',
                   'remotecommand', 'forkafterauthentication', 'stdinnull')
SERVER_KEEPALIVE = b'rtype keepalive@openssh.com'
LATE = 0.5           # a silence longer than planned by more than this counts with its measured length
RECOMMENDED_COUNT_MAX = 3   # OpenSSH's default, what the modules assume when only the interval is derived


class ProbeError(Exception):
    """The probe could not measure anything (no session logged in, bad input)."""


class Interrupted(Exception):
    """A signal asked the probe to stop."""


# -- planning ----------------------------------------------------------------------------

def ladder(start, max_idle, rungs):
    """Whole-second silences from ``start`` to ``max_idle``, geometric, at most ``rungs`` of them."""
    start = max(1, min(start, max_idle))
    if rungs <= 1 or start == max_idle:
        return [max_idle]
    ratio = (max_idle / start) ** (1.0 / (rungs - 1))
    return sorted(set(int(round(start * ratio ** i)) for i in range(rungs)) | {max_idle})


def bisection(lower, upper, resolution, sessions):
    """Whole-second silences strictly between lower and upper, evenly spaced, enough for ``resolution``."""
    wanted = int(math.ceil((upper - lower) / float(resolution))) - 1
    count = min(sessions, wanted)
    if count < 1:
        return []
    step = (upper - lower) / float(count + 1)
    return sorted(set(p for p in (int(round(lower + step * i)) for i in range(1, count + 1))
                      if lower < p < upper))


def max_rounds(max_idle, resolution, sessions):
    """Ladder plus the bisection rounds a ``max_idle`` wide gap can need."""
    return 1 + max(1, int(math.ceil(math.log(max(max_idle / float(resolution), 2)) / math.log(sessions + 1))))


def time_limit(max_idle, resolution, sessions, connect_timeout, reply_timeout):
    """Hard wall-clock limit: every round at most max_idle of silence plus login and reply time."""
    return max_rounds(max_idle, resolution, sessions) * (max_idle + connect_timeout + reply_timeout)


def recommended(lower, server_version=None):
    """Keepalive settings for a path that forgets after ``lower`` seconds: the modules' margin rule, the server's
    interval for the period of the probed sshd's version (``server_version``, from its banner; None: unknown)."""
    lower = int(lower)
    if lower < 2:
        return None
    server = assumed(server_version)
    return {'nat_idle_timeout': lower, 'server_alive_interval': derive_interval(lower),
            'server_alive_count_max': RECOMMENDED_COUNT_MAX,
            'client_alive_interval': derive_interval(lower, server.period), 'server_timing': server.as_result()}


def banner_version(stderr):
    """The server's OpenSSH version from ``ssh -v``'s 'remote software version OpenSSH_9.2p1 …' line."""
    found = re.search(r'remote software version (\S+)', stderr)
    return openssh_version(found.group(1)) if found else None


# -- ssh -------------------------------------------------------------------------------------

def check_options(options):
    """ssh_options as ('Key', 'value') pairs; the probe's own options cannot be overridden."""
    pairs = []
    for text in options:
        key, sep, value = str(text).partition('=')
        key, value = key.strip(), value.strip()
        if not sep or not key.isalnum() or not value or '\n' in value or '\0' in value:
            raise ProbeError('ssh_options entries must look like "Key=value", got %r' % text)
        if key.lower() in MANAGED_OPTIONS:
            raise ProbeError('ssh_options must not set %s: the probe sets it (sessions must be silent, '
                             'separate and non-interactive)' % key)
        pairs.append((key, value))
    return pairs


def ssh_argv(ssh, host, port=None, user=None, identity_file=None, options=(), connect_timeout=30):
    """One silent, separate, non-interactive session running ``cat``; -v shows the server's keepalives."""
    if not host or host.startswith('-') or any(c.isspace() for c in host):
        raise ProbeError('host must be a host name or address, got %r' % host)
    argv = [ssh, '-v', '-T', '-o', 'BatchMode=yes', '-o', 'ControlMaster=no', '-o', 'ControlPath=none',
            '-o', 'ServerAliveInterval=0', '-o', 'TCPKeepAlive=no', '-o', 'ConnectTimeout=%d' % connect_timeout,
            '-o', 'ClearAllForwardings=yes']
    if port:
        argv += ['-p', str(port)]
    if user:
        argv += ['-l', user]
    if identity_file:
        argv += ['-i', identity_file, '-o', 'IdentitiesOnly=yes']
    for key, value in check_options(options):
        argv += ['-o', '%s=%s' % (key, value)]
    return argv + ['--', host, 'cat']


def classify_exit(stderr):
    """How a dead session ended: 'reset' (RST), 'closed' (FIN or ssh gave up) from ssh's last words."""
    text = stderr.lower()
    if b'reset by peer' in text or b'broken pipe' in text:
        return 'reset'
    return 'closed'


def last_error(stderr):
    """ssh's last line that is not debug output (e.g. 'Permission denied (publickey).')."""
    lines = [line for line in stderr.decode('utf-8', 'replace').splitlines()
             if line.strip() and not line.startswith('debug') and not line.startswith('OpenSSH_')]
    return lines[-1].strip() if lines else ''


class Session:
    """One probe session: login → greeting echoed → silent for ``planned`` s → probe echoed or not."""

    def __init__(self, number, round_no, planned, argv, connect_timeout, reply_timeout):
        self.number = number
        self.round = round_no
        self.planned = planned
        self.connect_timeout = connect_timeout
        self.reply_timeout = reply_timeout
        self.token = uuid.uuid4().hex.encode()
        self.out = b''
        self.err = b''
        self.state = 'login'
        self.outcome = None
        self.detail = ''
        self.drop = None
        self.idle = None
        self.keepalives = 0
        self.first_keepalive = None
        self.started = time.monotonic()
        self.idle_start = None
        self.probe_sent = None
        self.selector = None
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True, preexec_fn=preexec())
        for stream in (self.proc.stdout, self.proc.stderr):
            os.set_blocking(stream.fileno(), False)
        self._send(b'greeting')

    def _line(self, what):
        return b'keepalive-probe ' + self.token + b' ' + what + b'\n'

    def _send(self, what):
        try:
            self.proc.stdin.write(self._line(what))
            self.proc.stdin.flush()
            return True
        except OSError:
            return False

    @property
    def done(self):
        return self.state == 'done'

    def deadline(self):
        """When this session next needs attention."""
        if self.state == 'login':
            return self.started + self.connect_timeout
        if self.state == 'idle':
            return self.idle_start + self.planned
        if self.state == 'probe':
            return self.probe_sent + self.reply_timeout
        return None

    def on_stdout(self, data, now):
        self.out += data
        if self.state == 'login' and self._line(b'greeting') in self.out:
            self.state, self.idle_start = 'idle', now
        elif self.state == 'probe' and self._line(b'probe') in self.out:
            self.finish('alive', 'echoed after %.2f s' % (now - self.probe_sent))

    def on_stderr(self, data, now):
        self.err += data
        if self.state in ('idle', 'probe'):
            seen = data.count(SERVER_KEEPALIVE)
            if seen and self.first_keepalive is None:
                self.first_keepalive = round(now - self.idle_start, 2)
            self.keepalives += seen

    def on_eof(self, now):
        """ssh ended by itself: a login failure, or the path (or server) ended the connection."""
        if self.state == 'login':
            self.finish('login_failed', last_error(self.err) or 'ssh exited before the session opened')
            return
        if self.state == 'idle':
            self.idle = now - self.idle_start
        self.drop = classify_exit(self.err)
        how = 'reset' if self.drop == 'reset' else 'closed'
        self.finish('dead', 'connection %s: %s' % (how, last_error(self.err) or 'ssh exited'))

    def on_deadline(self, now):
        if self.state == 'login':
            self.finish('login_failed', 'no session within connect_timeout=%d s' % self.connect_timeout)
        elif self.state == 'idle':
            self.idle = now - self.idle_start
            self.state, self.probe_sent = 'probe', now
            if not self._send(b'probe'):
                self.on_eof(now)
        elif self.state == 'probe':
            self.drop = 'silent'
            self.finish('dead', 'no echo within reply_timeout=%d s (packets silently dropped)' % self.reply_timeout)

    def finish(self, outcome, detail):
        self.outcome, self.detail, self.state = outcome, detail, 'done'
        self.kill()

    def kill(self):
        if self.selector is not None:
            for stream in (self.proc.stdout, self.proc.stderr):
                try:
                    self.selector.unregister(stream)
                except (KeyError, ValueError):
                    pass
        try:  # also when ssh has ended: its group's watcher (lifeline) goes with it
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except OSError:
                pass

    def upper_bound(self):
        """The silence this dead session proves deadly: the planned one, or the measured one when it ran
        late (a loaded machine) or the connection ended during the silence."""
        if self.idle is None or abs(self.idle - self.planned) <= LATE:
            return self.planned
        return int(math.ceil(self.idle))

    def result(self):
        return {'number': self.number, 'round': self.round, 'planned': self.planned,
                'idle': None if self.idle is None else round(self.idle, 2), 'outcome': self.outcome,
                'detail': self.detail, 'drop': self.drop, 'server_keepalives': self.keepalives}


# -- running ----------------------------------------------------------------------------------

def _raise_interrupted(signum, _frame):
    raise Interrupted('stopped by signal %d' % signum)


class Probe:
    def __init__(self, argv, max_idle, resolution, max_sessions, reply_timeout, connect_timeout):
        self.argv = argv
        self.max_idle = max_idle
        self.resolution = resolution
        self.max_sessions = max_sessions
        self.reply_timeout = reply_timeout
        self.connect_timeout = connect_timeout
        self.limit = time_limit(max_idle, resolution, max_sessions, connect_timeout, reply_timeout)
        self.sessions = []
        self.warnings = []
        self.started = None

    def run(self):
        """Ladder, then bisection rounds; every ssh is gone when this returns or raises."""
        self.started = time.monotonic()
        handlers = {}
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            handlers[sig] = signal.signal(sig, _raise_interrupted)
        try:
            return self._measure()
        finally:
            for session in self.sessions:
                if not session.done:
                    session.finish('cancelled', 'the probe stopped')
            for sig, handler in handlers.items():
                signal.signal(sig, handler)

    def _measure(self):
        self._round(ladder(self.resolution, self.max_idle, self.max_sessions))
        if not any(s.outcome in ('alive', 'dead') for s in self.sessions):
            errors = sorted(set(s.detail for s in self.sessions))
            raise ProbeError('no session could log in: %s' % '; '.join(errors))
        while not self.server_keepalive():
            lower, upper = self.bounds()
            if upper is None or upper - lower <= self.resolution:
                break
            if self.elapsed() + upper + self.connect_timeout + self.reply_timeout > self.limit:
                self.warnings.append('time_limit=%d s reached: the bounds are %d s apart, wider than resolution'
                                     % (self.limit, upper - lower))
                break
            points = bisection(lower, upper, self.resolution, self.max_sessions)
            if not points:
                break
            self._round(points)
        return self.summary()

    def elapsed(self):
        return time.monotonic() - self.started

    def _round(self, durations):
        round_no = 1 + max([s.round for s in self.sessions] or [0])
        current = []
        for duration in durations:
            # listed as soon as started: a signal in between still finds every ssh to kill
            current.append(Session(len(self.sessions) + 1, round_no, duration, self.argv, self.connect_timeout,
                                   self.reply_timeout))
            self.sessions.append(current[-1])
        selector = selectors.DefaultSelector()
        for session in current:
            session.selector = selector
            selector.register(session.proc.stdout, selectors.EVENT_READ, (session, 'out'))
            selector.register(session.proc.stderr, selectors.EVENT_READ, (session, 'err'))
        try:
            while not all(s.done for s in current):
                if self.elapsed() > self.limit:
                    raise ProbeError('time_limit=%d s exceeded' % self.limit)
                now = time.monotonic()
                wake = min(s.deadline() for s in current if not s.done)
                for key, _events in selector.select(max(0.0, min(wake - now, 1.0))):
                    self._read(selector, key)
                now = time.monotonic()
                for session in current:
                    if not session.done and session.deadline() <= now:
                        session.on_deadline(now)
                self._cancel_longer(current)
                if self.server_keepalive():
                    for session in current:
                        if not session.done:
                            session.finish('cancelled', "the server's own keepalive was seen; measuring is pointless")
        finally:
            selector.close()

    def _read(self, selector, key):
        session, which = key.data
        if session.done:
            # select() reported both pipes of a session at once and handling the first one finished it:
            # finish() closed the other pipe, nothing is left to read.
            return
        now = time.monotonic()
        try:
            data = os.read(key.fileobj.fileno(), 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b''
        if data:
            (session.on_stdout if which == 'out' else session.on_stderr)(data, now)
            return
        selector.unregister(key.fileobj)
        if which == 'out' and not session.done:
            try:
                session.proc.wait(timeout=5)
                # ssh's last words arrive on stderr; read what is left before judging.
                session.on_stderr(os.read(session.proc.stderr.fileno(), 65536), now)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                pass
            session.on_eof(now)

    @staticmethod
    def _cancel_longer(current):
        dead = [s.planned for s in current if s.outcome == 'dead']
        if not dead:
            return
        shortest = min(dead)
        for session in current:
            if not session.done and session.planned > shortest:
                session.finish('cancelled', 'longer than a silence of %d s that already killed a session' % shortest)

    def server_keepalive(self):
        seen = [s for s in self.sessions if s.keepalives]
        if not seen:
            return None
        return {'sessions': len(seen), 'first_after': min(s.first_keepalive for s in seen),
                'msg': "the server sent its own keepalives (ClientAliveInterval) after about %.0f s of silence: "
                       "they keep sessions alive, so the path's idle timeout cannot be measured; turn them off "
                       "for the probe user (e.g. 'Match User probe' with 'ClientAliveInterval 0') and probe again"
                       % min(s.first_keepalive for s in seen)}

    def bounds(self):
        """(lower, upper): longest surviving silence below the shortest deadly one; upper None if none died."""
        dead = [s.upper_bound() for s in self.sessions if s.outcome == 'dead']
        upper = min(dead) if dead else None
        alive = [s.planned for s in self.sessions if s.outcome == 'alive' and (upper is None or s.planned < upper)]
        return (max(alive) if alive else 0), upper

    def summary(self):
        result = {'sessions': [s.result() for s in self.sessions], 'elapsed': round(self.elapsed(), 1),
                  'time_limit': self.limit, 'idle_timeout': None, 'no_timeout_below': None,
                  'server_keepalive': self.server_keepalive(), 'recommended': None, 'drop': None}
        failed = [s for s in self.sessions if s.outcome == 'login_failed']
        if failed:
            self.warnings.append('%d session(s) could not log in (%s): the bounds use the others'
                                 % (len(failed), failed[0].detail))
        if result['server_keepalive']:
            self.warnings.append(result['server_keepalive']['msg'])
            return result
        lower, upper = self.bounds()
        if upper is None:
            result['no_timeout_below'] = lower
            return result
        if any(s.outcome == 'alive' and s.planned >= upper for s in self.sessions):
            self.warnings.append('a longer silence survived where a shorter one died: the path forgets '
                                 'irregularly (load-dependent timeouts, several paths?); probe again')
        result['idle_timeout'] = {'lower': lower, 'upper': upper}
        versions = [banner_version(s.err.decode(errors='replace')) for s in self.sessions]
        result['recommended'] = recommended(lower, next((v for v in versions if v), None))
        if result['recommended'] is None:
            self.warnings.append('the path forgets a connection after less than 2 s of silence: no keepalive '
                                 'setting can help; check the path (or lower resolution and probe again)')
        drops = sorted(set(s.drop for s in self.sessions if s.outcome == 'dead'))
        result['drop'] = drops[0] if len(drops) == 1 else 'mixed'
        return result
