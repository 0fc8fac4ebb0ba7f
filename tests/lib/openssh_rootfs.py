"""Every OpenSSH version we measure, run for real: a Debian suite's root filesystem, its sshd and ssh in a chroot.

``rootfs(suite)`` is the suite's root filesystem as the podman hosts use it (tools/podman_image.sh --rootfs-tar:
debootstrapped once, about a minute), unpacked once under /var/tmp/keepalive-openssh-rootfs so later runs start
at once.
``Chroot(suite, work_dir)`` mounts it as an overlay (the cache is never written), gives it a host key and a
root key pair, and starts that suite's ``sshd`` and ``ssh`` inside it.  Network: whatever namespace the
calling thread is in (tests/lib/conntrack.py makes a private one), loopback only.
"""
import fcntl
import os
import re
import shutil
import subprocess
import threading
import time

SUITES = ('bullseye', 'bookworm', 'trixie', 'sid')
CACHE = os.environ.get('KEEPALIVE_ROOTFS_CACHE', '/var/tmp/keepalive-openssh-rootfs')
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGE_TOOL = os.path.join(ROOT, 'tools', 'podman_image.sh')


def _run(argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)


def rootfs(suite):
    """The root filesystem of ``suite``: the podman hosts' rootfs tarball (tools/podman_image.sh, debootstrapped
    once per suite), unpacked once into CACHE next to its name; concurrent callers wait for one unpacking."""
    tar = _run(['bash', IMAGE_TOOL, '--suite', suite, '--rootfs-tar']).stdout.strip()
    os.makedirs(CACHE, exist_ok=True)
    tree = os.path.join(CACHE, os.path.basename(tar)[:-len('.tar')])
    with open(tree + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.isfile(os.path.join(tree, 'usr', 'sbin', 'sshd')):
            partial = tree + '.partial'
            shutil.rmtree(partial, ignore_errors=True)
            os.makedirs(partial)
            _run(['tar', '-C', partial, '--numeric-owner', '-xf', tar])
            shutil.rmtree(tree, ignore_errors=True)
            os.rename(partial, tree)
    return tree


class Stamped:
    """A process whose stderr lines are kept with the monotonic time each arrived (the clock of the test)."""

    def __init__(self, argv, **popen):
        self.proc = subprocess.Popen(argv, stderr=subprocess.PIPE, start_new_session=True, **popen)
        self.lines = []  # (monotonic seconds, text)
        self.ended = None  # monotonic time the process exited (its stderr closed)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for raw in self.proc.stderr:
            self.lines.append((time.monotonic(), raw.decode(errors='replace')))
        self.ended = time.monotonic()

    def times(self, needle):
        """When each line containing ``needle`` arrived."""
        return [t for t, text in list(self.lines) if needle in text]

    def wait_for(self, needle, timeout):
        """The arrival time of the first line containing ``needle``, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.times(needle)
            if found:
                return found[0]
            time.sleep(0.05)
        return None

    def text(self):
        return ''.join(text for _t, text in list(self.lines))

    def stop(self):
        try:
            os.killpg(self.proc.pid, 9)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        self._reader.join(timeout=5)


class Chroot:
    """One suite's OpenSSH, runnable: ``with Chroot('bullseye', dir) as c: c.version, c.sshd(...), c.ssh_argv(...)``."""

    KEY = '/root/.ssh/id_ed25519'

    def __init__(self, suite, work_dir):
        self.suite = suite
        self.lower = rootfs(suite)
        self.work_dir = work_dir
        self.root = os.path.join(work_dir, 'merged')
        self.version = None
        self._daemons = []

    def __enter__(self):
        for name in ('upper', 'work', 'merged'):
            if name != 'merged':
                shutil.rmtree(os.path.join(self.work_dir, name), ignore_errors=True)  # a fresh overlay each time
            os.makedirs(os.path.join(self.work_dir, name), exist_ok=True)
        _run(['mount', '-t', 'overlay', 'overlay', '-o', 'lowerdir=%s,upperdir=%s,workdir=%s' % (
            self.lower, os.path.join(self.work_dir, 'upper'), os.path.join(self.work_dir, 'work')), self.root])
        try:
            os.makedirs(os.path.join(self.root, 'run', 'sshd'), mode=0o755, exist_ok=True)
            os.makedirs(os.path.join(self.root, 'root', '.ssh'), mode=0o700, exist_ok=True)
            self.run('ssh-keygen', '-A')
            self.run('ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', self.KEY)
            shutil.copy(os.path.join(self.root, self.KEY.lstrip('/') + '.pub'),
                        os.path.join(self.root, 'root', '.ssh', 'authorized_keys'))
            out = subprocess.run(self.argv('ssh', '-V'), capture_output=True, text=True, check=False)
            self.version = re.search(r'OpenSSH_([\w.]+)', out.stderr + out.stdout).group(1)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for daemon in self._daemons:
            daemon.stop()
        subprocess.run(['umount', '-l', self.root], check=False, capture_output=True)
        return False

    def argv(self, *command):
        return ['chroot', self.root, 'env', '-i', 'HOME=/root', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin'] + list(command)

    def run(self, *command):
        return _run(self.argv(*command))

    def config(self, port, **settings):
        """Write the sshd_config of the sshd on 127.0.0.1:``port`` (LogLevel DEBUG, no PAM); its path outside."""
        lines = ['Port %d' % port, 'ListenAddress 127.0.0.1', 'HostKey /etc/ssh/ssh_host_ed25519_key',
                 'PidFile none', 'LogLevel DEBUG', 'UsePAM no', 'TCPKeepAlive no']
        lines += ['%s %s' % kv for kv in settings.items()]
        path = os.path.join(self.root, 'etc', 'ssh', 'keepalive-test-%d.conf' % port)
        with open(path, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        return path

    def sshd_binary(self, directory):
        """An executable outside the chroot that runs this suite's sshd inside it (for a module's sshd_binary)."""
        path = os.path.join(directory, 'sshd-%s' % self.suite)
        with open(path, 'w') as f:
            f.write('#!/bin/sh\nexec chroot %s /usr/sbin/sshd "$@"\n' % self.root)
        os.chmod(path, 0o755)
        return path

    def sshd(self, port, **settings):
        """This suite's sshd on 127.0.0.1:``port`` in the foreground, logging to stderr; ``settings`` are written
        with config() first, unless there are none and the config exists already (a module edited it)."""
        path = os.path.join(self.root, 'etc', 'ssh', 'keepalive-test-%d.conf' % port)
        if settings or not os.path.exists(path):
            self.config(port, **settings)
        daemon = Stamped(self.argv('/usr/sbin/sshd', '-D', '-e', '-f', '/' + os.path.relpath(path, self.root)))
        self._daemons.append(daemon)
        deadline = time.monotonic() + 15
        while not daemon.times('Server listening on 127.0.0.1 port %d' % port):
            if daemon.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError('%s sshd did not start:\n%s' % (self.suite, daemon.text()))
            time.sleep(0.05)
        return daemon

    def ssh_argv(self, port, **options):
        """This suite's ssh, verbose, to root@127.0.0.1:``port`` with its key; ``options`` as -o K=V."""
        argv = self.argv('ssh', '-v', '-T', '-F', '/dev/null', '-i', self.KEY, '-p', str(port),
                         '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
                         '-o', 'BatchMode=yes', '-o', 'TCPKeepAlive=no')
        for key, value in options.items():
            argv += ['-o', '%s=%s' % (key, value)]
        return argv + ['root@127.0.0.1']
