"""A real idle-killing firewall for tests: netfilter conntrack in a private network namespace.

``with IdleFirewall(timeout=4):`` moves the calling thread (and so every process it starts from then on:
sshd, ssh, ansible-playbook, modules) into a fresh network namespace with its own loopback, where

- an nftables rule drops (or answers with a TCP reset) every packet conntrack calls ``invalid``,
- ``nf_conntrack_tcp_timeout_established`` is ``timeout`` seconds, and
- ``nf_conntrack_tcp_loose`` is 0, so a packet of a forgotten connection is not adopted again.

A TCP connection silent for longer than ``timeout`` is forgotten; its next packet is invalid and never
arrives — what a NAT gateway or stateful firewall does to an idle SSH session (see
/work/shared/design/conntrack-idle-firewall.md).  ``timeout=None`` gives the same namespace without the
rule (no firewall).  On exit every process still in the namespace is ended and the thread goes back.
"""
import collections
import contextlib
import ctypes
import json
import os
import re
import selectors
import signal
import subprocess
import threading
import time

CLONE_NEWNET = 0x40000000
_LIBC = ctypes.CDLL(None, use_errno=True)
RULESET = '''table inet idlefw {
    chain input {
        type filter hook input priority 0; policy accept;
%s    }
}
'''
ACTIONS = {
    'drop': '        ct state invalid counter drop\n',
    # The reset the rule sends is itself a packet conntrack does not know: let resets through.
    'reset': '        ct state invalid tcp flags & rst == rst accept\n'
             '        ct state invalid counter reject with tcp reset\n',
}


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, '%s: %s' % (what, os.strerror(err)))


def _run(argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)


def enter_namespace(fd):
    """Move the calling thread into the network namespace open at ``fd`` (threads start in the process's)."""
    _check(_LIBC.setns(fd, CLONE_NEWNET), 'setns into a test namespace')


class IdleFirewall:
    def __init__(self, timeout, action='drop'):
        if action not in ACTIONS:
            raise ValueError('action must be one of %s' % ', '.join(ACTIONS))
        self.timeout = timeout
        self.action = action
        self._home = None
        self.inode = None

    # -- entering and leaving -----------------------------------------------------------
    def __enter__(self):
        self._home = os.open('/proc/thread-self/ns/net', os.O_RDONLY)
        _check(_LIBC.unshare(CLONE_NEWNET), 'unshare(CLONE_NEWNET)')
        try:
            self.inode = os.stat('/proc/thread-self/ns/net').st_ino
            _run(['ip', 'link', 'set', 'lo', 'up'])
            if self.timeout is not None:
                _run(['nft', '-f', '-'], input=RULESET % ACTIONS[self.action])
                self.set_timeout(self.timeout)
                _run(['sysctl', '-qw', 'net.netfilter.nf_conntrack_tcp_loose=0'])
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        try:
            self.kill_all()
        finally:
            enter_namespace(self._home)
            os.close(self._home)
        return False

    def processes(self):
        """Pids of every process whose network namespace is this one."""
        pids = []
        for entry in os.listdir('/proc'):
            if entry.isdigit() and int(entry) != os.getpid():
                try:
                    if os.stat('/proc/%s/ns/net' % entry).st_ino == self.inode:
                        pids.append(int(entry))
                except OSError:
                    pass
        return pids

    def kill_all(self, grace=5):
        """End everything left in the namespace: sshd and its per-connection children, hung clients."""
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2)):
            pids = self.processes()
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + wait
            while pids and time.monotonic() < deadline:
                pids = [p for p in pids if os.path.exists('/proc/%d' % p)]
                time.sleep(0.05)

    # -- the firewall ----------------------------------------------------------------------
    def set_timeout(self, seconds):
        """Established-TCP idle timeout; an entry takes the new value at its next packet."""
        _run(['sysctl', '-qw', 'net.netfilter.nf_conntrack_tcp_timeout_established=%d' % seconds])

    @contextlib.contextmanager
    def relaxed(self, seconds=3600):
        """A long timeout for set-up traffic (Ansible's own SSH connections must not be cut between tasks)."""
        self.set_timeout(seconds)
        try:
            yield
        finally:
            self.set_timeout(self.timeout)

    def watch(self, port):
        """Count this connection's invalid packets apart (other connections' retransmissions go on)."""
        for direction in ('sport', 'dport'):
            _run(['nft', 'insert', 'rule', 'inet', 'idlefw', 'input', 'tcp', direction, str(port),
                  'ct', 'state', 'invalid', 'counter', 'comment', '"port-%d"' % port])

    def cut(self, port):
        """Drop every packet to or from ``port`` from now on: the peers of its connections vanish, as a
        host that lost power or a path that went down (neither side gets a reset)."""
        _run(['nft', '-f', '-'], input='table inet cut%d {\n chain input {\n  type filter hook input priority -10;\n'
                                       '  tcp sport %d drop\n  tcp dport %d drop\n }\n}\n' % (port, port, port))

    def invalid_packets(self, port=None):
        """Packets the firewall dropped (or reset) because conntrack had forgotten their connection.

        With ``port`` (see watch): only that connection's packets, in both directions.
        """
        data = json.loads(_run(['nft', '-j', 'list', 'table', 'inet', 'idlefw']).stdout)
        total = 0
        for item in data['nftables']:
            rule = item.get('rule')
            if not rule or rule.get('comment') != ('port-%d' % port if port else None):
                continue
            total += sum(expr['counter']['packets'] for expr in rule['expr'] if 'counter' in expr)
        return total

    def silence(self, argv, dport, seconds, echo_timeout):
        """Start ``argv`` as a Session, leave it silent for ``seconds``, then look (in this order): its
        conntrack entry (None when forgotten), whether an echo still comes back within ``echo_timeout``,
        how many of its packets the firewall dropped, and everything ssh logged."""
        session = Session(argv)
        port = session.local_port()
        self.watch(port)
        time.sleep(seconds)
        entry = self.entry(port, dport)
        alive = session.echo(echo_timeout)
        dropped = self.invalid_packets(port)
        return Silence(entry, alive, dropped, session.close())

    @staticmethod
    def entry(sport, dport):
        """The conntrack entry of one TCP connection: {'state', 'timeout'} or None when it is forgotten."""
        out = subprocess.run(['conntrack', '-L', '-p', 'tcp', '--sport', str(sport), '--dport', str(dport)],
                             capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            fields = line.split()
            if len(fields) > 3 and fields[0] == 'tcp':
                return {'timeout': int(fields[2]), 'state': fields[3]}
        return None


Silence = collections.namedtuple('Silence', 'entry alive dropped log')


class Session:
    """An SSH session running a remote ``cat``: silent until ``echo`` sends a line and waits for it back."""

    def __init__(self, argv, login_timeout=30):
        self.proc = subprocess.Popen(argv + ['cat'], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.stamped = []  # (monotonic seconds, line): when ssh logged each line
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        self._count = 0
        if not self.echo(login_timeout):
            raise AssertionError('ssh did not log in and echo: %s' % self.close())

    def _read_log(self):
        for line in self.proc.stderr:
            self.stamped.append((time.monotonic(), line.decode(errors='replace')))

    @property
    def log(self):
        return [text for _t, text in self.stamped]

    def echo(self, timeout):
        """Send a line; True when it comes back within ``timeout`` seconds (the session is alive)."""
        self._count += 1
        token = b'keepalive-echo-%d\n' % self._count
        try:
            self.proc.stdin.write(token)
            self.proc.stdin.flush()
        except OSError:
            return False
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        data = b''
        try:
            while token not in data:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    return False
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    return False
                data += chunk
        finally:
            sel.close()
        return True

    def local_port(self):
        """The client's source port, from the kernel's socket table (ss)."""
        out = _run(['ss', '-Htnp', 'state', 'established']).stdout
        for line in out.splitlines():
            if 'pid=%d,' % self.proc.pid in line:
                return int(re.split(r'[:\s]+', line.split()[2])[-1])
        raise AssertionError('no established socket of ssh pid %d:\n%s' % (self.proc.pid, out))

    def close(self):
        """Kill the session; returns everything ssh logged."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        self._reader.join(timeout=5)
        return ''.join(self.log)
