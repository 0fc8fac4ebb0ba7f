"""Measure, on the wire, how often one OpenSSH version sends keepalives and how long it keeps a dead peer.

``measure(suite, work_dir, port)`` runs that suite's sshd and ssh (tests/lib/openssh_rootfs.py) in a private
network namespace (tests/lib/conntrack.py) and returns the periods in the engine's units
(plugins/module_utils/timing.py) and the dead-peer times in seconds, from sessions that run at the same time:

- server period: sshd with ClientAliveInterval I, a client that sends nothing; the time between two
  ``keepalive@openssh.com`` channel requests ssh -v logs, in units of I;
- client period: ssh with ServerAliveInterval I, sshd sending nothing; the time between two keepalive global
  requests sshd logs, in units of I;
- dead peer: every packet of the connection dropped right after an echo (the last thing both sides heard), the
  time until sshd logs "Timeout, client not responding" (ClientAliveCountMax C) or ssh "Timeout, server ... not
  responding" (ServerAliveCountMax C), for C = 1 and 3.
"""
import collections
import os
import re
import statistics
import threading
import time

from conntrack import IdleFirewall, Session, enter_namespace
from openssh_rootfs import Chroot

from ansible_collections.keepalive.ssh.plugins.module_utils.timing import DEAD_PEER_EXTRA, Timing

# timing: the periods in whole intervals; dead: {'server'|'client': {count-max: seconds until the peer was
# dropped}}; raw: every measurement in seconds (for failure messages).
Measured = collections.namedtuple('Measured', 'suite timing dead raw')

INTERVAL = 2     # seconds: short enough for a quick test, long enough for whole-second clocks to show
SILENCE = 16     # seconds a session stays silent while keepalives are counted
COUNTS = (1, 3)  # count-max values the dead-peer time is measured at
DEAD_WAIT = 60   # seconds a dead-peer measurement may take at most
SERVER_KEEPALIVE = 'client_input_channel_req: channel 0 rtype keepalive@openssh.com reply 1'
CLIENT_KEEPALIVE = 'rtype keepalive@openssh.com want_reply 1'
SERVER_GAVE_UP = 'Timeout, client not responding'
CLIENT_GAVE_UP = 'not responding'


def _median_gap(times):
    """The median time between consecutive keepalives, in seconds."""
    if len(times) < 3:
        raise AssertionError('only %d keepalives in %d s' % (len(times), SILENCE))
    return statistics.median(b - a for a, b in zip(times, times[1:]))


class _Parallel:
    """Run measurements in threads; each thread stays in the caller's network namespace (set up before)."""

    def __init__(self):
        self.threads, self.results, self.errors = [], {}, []

    def start(self, name, fn, *args):
        def body():
            try:
                self.results[name] = fn(*args)
            except BaseException as e:  # reported by join()
                self.errors.append('%s: %r' % (name, e))
        thread = threading.Thread(target=body, daemon=True)
        thread.start()
        self.threads.append(thread)

    def join(self, timeout):
        for thread in self.threads:
            thread.join(timeout)
        if self.errors or any(t.is_alive() for t in self.threads):
            raise AssertionError('measurement failed: %s' % (self.errors or 'timed out'))
        return self.results


class _Namespaced(_Parallel):
    """As _Parallel, but each thread first joins the namespace of ``ns_fd`` (threads do not inherit it)."""

    def __init__(self, ns_fd):
        super().__init__()
        self.ns_fd = ns_fd

    def start(self, name, fn, *args):
        def entered(*a):
            enter_namespace(self.ns_fd)
            return fn(*a)
        super().start(name, entered, *args)


def _server_period(box, port):
    box.sshd(port, ClientAliveInterval=INTERVAL, ClientAliveCountMax=100)
    session = Session(box.ssh_argv(port, ServerAliveInterval=0))
    time.sleep(SILENCE)
    session.close()
    return _median_gap([t for t, line in session.stamped if SERVER_KEEPALIVE in line])


def _client_period(box, port):
    daemon = box.sshd(port, ClientAliveInterval=0)
    session = Session(box.ssh_argv(port, ServerAliveInterval=INTERVAL, ServerAliveCountMax=100))
    time.sleep(SILENCE)
    session.close()
    return _median_gap(daemon.times(CLIENT_KEEPALIVE))


def _server_dead(box, fw, port, count):
    daemon = box.sshd(port, ClientAliveInterval=INTERVAL, ClientAliveCountMax=count)
    session = Session(box.ssh_argv(port, ServerAliveInterval=0))
    try:
        assert session.echo(5)
        start = time.monotonic()
        fw.cut(port)
        end = daemon.wait_for(SERVER_GAVE_UP, DEAD_WAIT)
        assert end, '%s: sshd kept a dead client for %d s:\n%s' % (box.suite, DEAD_WAIT, daemon.text())
        return end - start
    finally:
        session.close()


def _client_dead(box, fw, port, count):
    box.sshd(port, ClientAliveInterval=0)
    session = Session(box.ssh_argv(port, ServerAliveInterval=INTERVAL, ServerAliveCountMax=count))
    try:
        assert session.echo(5)
        start = time.monotonic()
        fw.cut(port)
        deadline = start + DEAD_WAIT
        while time.monotonic() < deadline:
            ends = [t for t, line in list(session.stamped) if CLIENT_GAVE_UP in line]
            if ends:
                return ends[0] - start
            time.sleep(0.05)
        raise AssertionError('%s: ssh kept a dead server for %d s' % (box.suite, DEAD_WAIT))
    finally:
        session.close()


def measure(suite, work_dir, port):
    """(version, Timing) of ``suite``'s OpenSSH; uses ports ``port`` … ``port`` + 5 inside its own namespace."""
    with IdleFirewall(None) as fw, Chroot(suite, work_dir) as box:
        ns_fd = os.open('/proc/thread-self/ns/net', os.O_RDONLY)
        try:
            runs = _Namespaced(ns_fd)
            runs.start('server', _server_period, box, port)
            runs.start('client', _client_period, box, port + 1)
            for n, count in enumerate(COUNTS):
                runs.start(('server_dead', count), _server_dead, box, fw, port + 2 + n, count)
                runs.start(('client_dead', count), _client_dead, box, fw, port + 2 + len(COUNTS) + n, count)
            got = runs.join(SILENCE + DEAD_WAIT + 30)
        finally:
            os.close(ns_fd)
        dead = {side: {c: got[(side + '_dead', c)] for c in COUNTS} for side in ('server', 'client')}
        periods = Timing(server_period=round(got['server'] / INTERVAL), client_period=round(got['client'] / INTERVAL))
        return box.version, Measured(suite, periods, dead, got)


def measure_all(suites, work_dir, base_port=2700):
    """{version: Measured} for every suite, measured in parallel (one namespace per suite)."""
    runs = _Parallel()
    for n, suite in enumerate(suites):
        runs.start(suite, measure, suite, os.path.join(work_dir, suite), base_port + 10 * n)
    return dict(runs.join(SILENCE + DEAD_WAIT + 240).values())


BEGIN = '<!-- timing table: written by the timing test from its measurement; do not edit -->'
END = '<!-- end of timing table -->'


def _every(period, keyword):
    return keyword if period == 1 else '%d × %s' % (period, keyword)


def _dead(period, alive):
    return '(%sCountMax + %d) × %s' % (alive, DEAD_PEER_EXTRA, _every(period, alive + 'Interval'))


def docs_table(results):
    """The markdown table of docs/timing.md for {version: Measured}, oldest version first."""
    def key(version):
        return [int(n) for n in re.findall(r'\d+', version)]
    rows = [BEGIN, '| OpenSSH | Debian suite | sshd sends a keepalive every | ssh sends a keepalive every '
            '| sshd drops a client that stopped answering after | ssh drops a server that stopped answering after |',
            '|---|---|---|---|---|---|']
    for version in sorted(results, key=key):
        m = results[version]
        rows.append('| %s | %s | %s | %s | %s | %s |' % (
            version, m.suite, _every(m.timing.server_period, 'ClientAliveInterval'),
            _every(m.timing.client_period, 'ServerAliveInterval'), _dead(m.timing.server_period, 'ClientAlive'),
            _dead(m.timing.client_period, 'ServerAlive')))
    return '\n'.join(rows + [END])
