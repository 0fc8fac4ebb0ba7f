# -*- coding: utf-8 -*-
# Copyright: keepalive.ssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One reader, one contract: what root may read of a local user's files, how, as whom and within which limits.

Every local user is untrusted.  Their ssh_config and everything it Includes is
read, and evaluated by ``ssh -G``, **as that user**: a forked child with the
user's uid, gid and supplementary groups, PR_SET_NO_NEW_PRIVS, a clean
environment, no inherited descriptors, stdin from /dev/null, in a process group
of its own that is killed whole when the time limit passes.  ``Match exec``
then runs as the user (their own ssh would run it anyway) and ``Include
/etc/shadow`` gets "Permission denied", as the user's own ssh does.

Each file is opened with :data:`OPEN_FLAGS` (no symlink, no blocking on a FIFO,
no controlling tty) and accepted only when ``fstat`` on that descriptor says:
regular file, one link, at most ``max_bytes``; at most ``max_bytes + 1`` bytes
are read.  Include globs match regular files only; ``~`` is the user's home.

What leaves the child is data (the files' bytes, for the engine) or a
:class:`UserFileError` whose text names a file and a reason, never file content.
Root keeps only the write, through safefile.SafeDir.  The controller-side probe
(plugins/plugin_utils/snapshot.py) builds its shell reader from the constants
and :func:`setpriv_prefix` / :data:`CLEAN_ENV` here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import ctypes
import errno
import glob
import json
import os
import pwd
import re
import select
import shutil
import signal
import stat
import subprocess
import tempfile
import time

from ansible_collections.keepalive.ssh.plugins.module_utils.lifeline import die_with, lifeline, preexec, watch_group
from ansible_collections.keepalive.ssh.plugins.module_utils.sshconf import ConfigError, Document, Tree

MAX_BYTES = 1024 * 1024          # per file; parameter max_file_size
TIMEOUT = 30                     # seconds: one user's whole budget (support.Limits); parameter command_timeout
MAX_FILES = 64                   # files one user's tree may have (Include globs included)
OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY
SAFE_PATH = '/usr/bin:/bin'
PR_SET_NO_NEW_PRIVS = 38


def printable(text, keep=''):
    """``text`` with every non-printable character escaped (\\x1b, \\n …), but those in ``keep``: users'
    file names and lines reach the admin's terminal and CI logs through results, diffs, reasons and
    warnings, never as raw control characters (a title change, a cleared screen, a line overwritten)."""
    return ''.join(c if c.isprintable() or c in keep else ascii(c)[1:-1] for c in str(text))


def shown(value):
    """A module result (dicts, lists, strings) with every string printable; a diff's ``before`` and
    ``after`` keep their line breaks and tabs (every other control character is escaped there too)."""
    if isinstance(value, dict):
        return dict((printable(k), printable(v, '\n\t') if k in ('before', 'after') and isinstance(v, str)
                     else shown(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [shown(v) for v in value]
    if isinstance(value, str):
        return printable(value)
    return value


class UserFileError(Exception):
    """A user's file that cannot be used; the text names the file and a reason, never its content."""


class Identity:
    """Whom a read runs as: the user's uid, gid, supplementary groups and home."""

    def __init__(self, name, uid, gid, home, groups=None):
        self.name, self.uid, self.gid, self.home = name, uid, gid, home.rstrip('/') or '/'
        self.groups = list(groups) if groups is not None else os.getgrouplist(name, gid)

    @classmethod
    def of(cls, name):
        pw = pwd.getpwnam(name)
        return cls(pw.pw_name, pw.pw_uid, pw.pw_gid, pw.pw_dir)

    def env(self):
        return {'PATH': SAFE_PATH, 'LC_ALL': 'C', 'HOME': self.home, 'USER': self.name, 'LOGNAME': self.name}

    def expanduser(self, path):
        """'~' and '~/x' are this user's home; '~other' is refused (OpenSSH's tilde_expand_filename)."""
        if path == '~' or path.startswith('~/'):
            return self.home + path[1:]
        raise UserFileError('Include %s: only ~/ (the user\'s own home) is supported' % path.split('/')[0])


# The environment of a reading child; for shells (the probe) the argv that starts one.
CLEAN_ENV = ['env', '-i', 'PATH=' + SAFE_PATH, 'LC_ALL=C']


def setpriv_prefix(uid, gid):
    """argv that runs the rest as uid:gid, for shells (the controller-side probe).  setpriv passes its
    environment on: start it from CLEAN_ENV (the probe starts one for all users of a round).  The time
    and output limits go outside it, where they stay root's (snapshot.probe_script)."""
    return ['setpriv', '--reuid=%s' % uid, '--regid=%s' % gid, '--init-groups', '--no-new-privs',
            '--inh-caps=-all', '--']


def _no_new_privs():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), 'prctl(PR_SET_NO_NEW_PRIVS)')


def become(identity):
    """Drop to ``identity`` for good: groups, then gid, then uid (the order that cannot be undone)."""
    if os.geteuid() == 0:
        os.setgroups(identity.groups)
        os.setresgid(identity.gid, identity.gid, identity.gid)
        os.setresuid(identity.uid, identity.uid, identity.uid)
    elif os.geteuid() != identity.uid:
        raise OSError(errno.EPERM, 'only root or the user can read as %s' % identity.name)
    _no_new_privs()


# -- bounded opens (run inside the child) -------------------------------------------------

def read_bounded(path, max_bytes=MAX_BYTES, follow=False):
    """Bytes of a regular, single-linked file of at most ``max_bytes``; None when it does not exist.

    ``follow``: a user reading their own files (not root for them, see own_rights) follows symlinks and
    hard links as their ssh does; FIFOs, devices and sizes stay bounded."""
    try:
        fd = os.open(path, OPEN_FLAGS & ~os.O_NOFOLLOW if follow else OPEN_FLAGS)
    except OSError as e:
        if e.errno == errno.ENOENT:
            return None
        if e.errno == errno.ELOOP:
            raise UserFileError('%s is a symlink; not followed' % path)
        raise UserFileError('%s: %s' % (path, os.strerror(e.errno)))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UserFileError('%s is not a regular file' % path)
        if st.st_nlink != 1 and not follow:
            raise UserFileError('%s has %d hard links' % (path, st.st_nlink))
        if st.st_size > max_bytes:
            raise UserFileError('%s is larger than %d bytes' % (path, max_bytes))
        chunks, left = [], max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, 65536))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b''.join(chunks)
        if len(data) > max_bytes:
            raise UserFileError('%s is larger than %d bytes' % (path, max_bytes))
        return data
    finally:
        os.close(fd)


def regular_matches(pattern, follow=False):
    """Files an Include pattern names: globs match regular files only (``follow``: or links to them),
    sorted as glob(3) sorts."""
    if glob.has_magic(pattern):
        return [f for f in sorted(glob.glob(pattern)) if _is_regular(f, follow)]
    return [pattern] if os.path.lexists(pattern) else []


def _is_regular(path, follow=False):
    try:
        return stat.S_ISREG((os.stat if follow else os.lstat)(path).st_mode)
    except OSError:
        return False


def own_rights():
    """True when this process is not root: all it can read or write is bounded by its own user's rights,
    so that user's symlinks (a dotfiles manager's ~/.ssh/config) are followed, as their ssh follows them."""
    return os.geteuid() != 0


def _snapshot_tree(paths, dialect, identity, max_bytes, follow=False):
    """In the child: read each main file and its Includes; {'files': {path: b64|None}, 'globs': {...}}."""
    files, globs = {}, {}

    def loader(path):
        if len(files) >= MAX_FILES:
            raise UserFileError('more than %d files in the Include tree' % MAX_FILES)
        data = read_bounded(path, max_bytes, follow)
        files[path] = None if data is None else base64.b64encode(data).decode('ascii')
        return Document.from_bytes(data or b'', dialect, path)

    def matcher(pattern):
        globs[pattern] = regular_matches(pattern, follow)
        return globs[pattern]

    for path in paths:
        try:
            Tree(path, dialect, loader=loader, matcher=matcher, expanduser=identity.expanduser).files()
        except ConfigError as e:
            raise UserFileError(str(e))
    return {'files': files, 'globs': globs}


# -- the child ------------------------------------------------------------------------------

def _child(identity, func, args, w, parent, life):
    """Runs in the forked child; never returns."""
    code = 0
    try:
        os.setsid()  # a group of its own: the parent kills it whole on time-out
        watch_group(life)  # and it dies with the module, however the module ends (lifeline)
        fd = os.open(os.devnull, os.O_RDWR)
        os.dup2(fd, 0)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        for low, high in ((3, w), (w + 1, 65536)):
            if low < high:
                os.closerange(low, high)
        os.chdir('/')
        become(identity)
        die_with(parent)
        os.environ.clear()
        os.environ.update(identity.env())
        try:
            out = {'ok': func(*args)}
        except UserFileError as e:
            out = {'error': str(e)}
        except OSError as e:
            out = {'error': os.strerror(e.errno) if e.errno else 'cannot read'}
        data = json.dumps(out).encode('ascii')
        while data:
            data = data[os.write(w, data):]
    except BaseException:  # pylint: disable=broad-except
        code = 70
    os._exit(code)  # pylint: disable=protected-access


def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def call_as(identity, func, args=(), timeout=TIMEOUT, limit=64 * MAX_BYTES):
    """``func(*args)`` in a child running as ``identity``; its JSON-able result, or UserFileError."""
    life, parent = lifeline(), os.getpid()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        os.close(r)
        _child(identity, func, args, w, parent, life)
    os.close(w)
    chunks, size, deadline = [], 0, time.time() + timeout
    try:
        while True:
            left = deadline - time.time()
            if left <= 0:
                _kill_group(pid)
                raise UserFileError('reading as %s took longer than %d s' % (identity.name, timeout))
            ready, _w, _x = select.select([r], [], [], left)
            if not ready:
                continue
            chunk = os.read(r, 65536)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                _kill_group(pid)
                raise UserFileError('reading as %s returned more than %d bytes' % (identity.name, limit))
            chunks.append(chunk)
    finally:
        os.close(r)
        _kill_group(pid)
        os.waitpid(pid, 0)
    try:
        out = json.loads(b''.join(chunks).decode('ascii'))
    except ValueError:
        raise UserFileError('reading as %s failed' % identity.name)
    if not isinstance(out, dict) or ('ok' not in out and not isinstance(out.get('error'), str)):
        raise UserFileError('reading as %s failed' % identity.name)
    if 'error' in out:
        raise UserFileError(out['error'])
    return out['ok']


class UserFiles:
    """Files read as a user, served to sshconf.Tree as its loader/matcher/expanduser."""

    def __init__(self, identity, snapshot, dialect):
        self.identity, self.dialect = identity, dialect
        self.files, self.globs = snapshot['files'], snapshot['globs']

    @classmethod
    def read(cls, identity, paths, dialect, max_bytes=MAX_BYTES, timeout=TIMEOUT, follow=False):
        """``follow`` only for a user reading their own files (own_rights): root never follows a user's link."""
        follow = bool(follow) and own_rights()
        return cls(identity, call_as(identity, _snapshot_tree, (list(paths), dialect, identity, max_bytes, follow),
                                     timeout=timeout), dialect)

    def data(self, path):
        if path not in self.files:
            raise UserFileError('%s was not read' % path)
        encoded = self.files[path]
        return None if encoded is None else base64.b64decode(encoded)

    def loader(self, path):
        return Document.from_bytes(self.data(path) or b'', self.dialect, path)

    def matcher(self, pattern):
        if pattern not in self.globs:
            raise UserFileError('Include %s was not read' % pattern)
        return list(self.globs[pattern])

    def reader(self):
        return dict(loader=self.loader, matcher=self.matcher, expanduser=self.identity.expanduser)


def ssh_g_argv(ssh, config, host):
    """``ssh -G`` for one host name; the name after ``--`` so it is never taken for an option."""
    return [ssh, '-G', '-F', config, '--', host]


# -- commands ------------------------------------------------------------------------------

def run_bounded(argv, timeout=TIMEOUT, identity=None):
    """(rc, stdout, stderr) of ``argv``, as ``identity`` when given (else as the caller), killed whole after
    ``timeout`` seconds (rc None).  Clean environment, stdin /dev/null, no inherited descriptors."""
    env = identity.env() if identity else dict(os.environ, LC_ALL='C')
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            close_fds=True, start_new_session=True, cwd='/', env=env,
                            preexec_fn=preexec((lambda: become(identity)) if identity else None))
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            pipe.close()
        return None, '', ''
    finally:
        _kill_group(proc.pid)  # whatever the command left behind in its group
    return proc.returncode, out.decode('utf-8', 'replace'), err.decode('utf-8', 'replace')


class PrivateDir:
    """A directory only ``identity`` can read (0700, owned by it), for candidates its ssh -G evaluates.

    Root fills it while it is still root's, then gives it away; it is removed without following links.
    """

    def __init__(self, identity, tmpdir=None):
        self.identity = identity
        self.path = tempfile.mkdtemp(prefix='keepalive-%s-' % identity.name, dir=tmpdir)

    def give_away(self):
        for top, dirs, files in os.walk(self.path):
            for name in dirs + files:
                os.lchown(os.path.join(top, name), self.identity.uid, self.identity.gid)
        os.chown(self.path, self.identity.uid, self.identity.gid)

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)


# -- what of OpenSSH's words may be shown ------------------------------------------------

_LINE_ERR = re.compile(r'^(?P<file>/\S*?):? line (?P<line>\d+): (?P<reason>[^:]*)')
_OPEN_ERR = re.compile(r"^Can't open user config file (?P<file>/\S*): (?P<reason>[A-Za-z ]+)$")


def reduce_openssh_error(text, unstage=lambda s: s, showable=None):
    """OpenSSH's stderr reduced to 'file line N: reason' (no line text: a line may come from
    /etc/shadow).  ``showable(file, line)`` may return the line's text for files whose content may be
    shown (the user's own managed file); anything not recognised is dropped."""
    out = []
    for raw in text.splitlines():
        m = _LINE_ERR.match(raw)
        if m:
            path, line = unstage(m.group('file')), int(m.group('line'))
            # cut at the first quote: OpenSSH quotes words of the file, and the file may be one the user
            # substituted (they own the staged tree while ssh runs)
            reason = re.split(r'["\']', m.group('reason'), 1)[0].strip()
            msg = '%s line %d: %s' % (path, line, reason)
            shown = showable(path, line) if showable else None
            if shown is not None:
                msg += ' (%r)' % shown
            out.append(msg)
            continue
        m = _OPEN_ERR.match(raw)
        if m:
            out.append("can't open %s: %s" % (unstage(m.group('file')), m.group('reason')))
    return printable('; '.join(dict.fromkeys(out))) or 'no details shown (they could quote files the user cannot read)'
