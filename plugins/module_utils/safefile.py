# -*- coding: utf-8 -*-
# Copyright: keepalive.ssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Root-safe reads and atomic writes inside directories a user controls.

Root editing ``~alice/.ssh/config`` must never follow a symlink or hard link
that alice planted (to /etc/shadow, another user's file …).  Every step below
the trusted directory (the home) goes through an open directory descriptor
with O_NOFOLLOW, so nothing can be swapped between check and use.  The new
content is written to a temp file in the same directory and renamed over the
old one: readers see the old file or the new one, never a mix.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import os
import pwd
import re
import stat
import time

BACKUP_KEEP = 5  # backups kept per file by default: a week of nightly drift corrections, never a pile


def stale_backups(name, entries, keep):
    """The backups of ``name`` among directory ``entries`` beyond the newest ``keep`` (0 keeps all), oldest
    first.  Backups are named NAME.PID.YYYY-MM-DD@HH:MM:SS~, as ansible-core's backup_local and
    SafeDir.backup name them; nothing else is ever chosen."""
    if keep <= 0:
        return []
    pattern = re.compile(re.escape(name) + r'\.(\d+)\.(\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d)~\Z')
    found = sorted((m.group(2), int(m.group(1)), entry) for entry in entries for m in [pattern.match(entry)] if m)
    return [entry for _stamp, _pid, entry in found[:-keep]]


def prune_backups(directory, name, keep):
    """Remove the backups of ``name`` in ``directory`` (a path root alone controls) beyond the newest ``keep``."""
    for entry in stale_backups(name, os.listdir(directory), keep):
        try:
            os.unlink(os.path.join(directory, entry))
        except OSError:
            pass  # gone meanwhile, or a directory with that name: not ours to remove


def running_as():
    """Who this process reads and writes as, for messages that must say it truthfully: 'root' or
    'user NAME (uid N)'."""
    uid = os.geteuid()
    if uid == 0:
        return 'root'
    try:
        return 'user %s (uid %d)' % (pwd.getpwuid(uid).pw_name, uid)
    except KeyError:
        return 'uid %d' % uid


class UnsafePath(Exception):
    """A path that root must not write through; the message says why and what to do."""


class SafeDir:
    """An open directory reached without following links below ``trusted``.

    ``SafeDir('/home/alice', '.ssh', create=(uid, gid, 0o700))`` opens (or
    creates) /home/alice/.ssh.  The trusted part is opened normally: it is
    root's or the admin's choice (e.g. /home on another disk).  With ``owners`` (a user's home, opened by
    root for that user) the trusted directory itself is not followed either and must be owned by one of
    ``owners`` and writable by its owner alone: what was checked by name is the directory written in.
    """

    def __init__(self, trusted, relative='', create=None, owners=None):
        self.path = os.path.join(trusted, relative) if relative else trusted
        self.fd = os.open(trusted, os.O_RDONLY | os.O_DIRECTORY | (os.O_NOFOLLOW if owners else 0))
        self.created = []
        try:
            if owners:
                st = os.fstat(self.fd)
                if st.st_uid not in owners or st.st_mode & 0o022:
                    raise UnsafePath('%s changed owner or mode while it was opened; refusing to write below it'
                                     % trusted)
            here = trusted
            for part in [p for p in relative.split('/') if p]:
                here = os.path.join(here, part)
                self._descend(part, create, here)
        except BaseException:
            os.close(self.fd)
            raise

    def _descend(self, part, create, here):
        """Open ``part`` (the directory ``here``) below the current one, without following a link."""
        try:
            fd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=self.fd)
        except OSError as e:
            if e.errno == errno.ENOENT and create:
                uid, gid, mode = create
                os.mkdir(part, mode, dir_fd=self.fd)
                fd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=self.fd)
                os.fchown(fd, uid, gid)
                os.fchmod(fd, mode)
                self.created.append(part)
            elif e.errno in (errno.ELOOP, errno.ENOTDIR):
                raise UnsafePath('%s is a symlink or not a directory; refusing to write through it '
                                 '(replace it with a real directory)' % here)
            else:
                raise
        os.close(self.fd)
        self.fd = fd

    def lock(self, timeout=30):
        """Serialise writers of this directory (two plays on one user file never lose an update)."""
        deadline = time.time() + timeout
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES) or time.time() > deadline:
                    raise UnsafePath('%s is locked by another process for more than %d s; try again later'
                                     % (self.path, timeout))
                time.sleep(0.05)

    def stat(self, name):
        """lstat of ``name`` (None if missing), refusing anything but a single-linked regular file."""
        try:
            st = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        full = os.path.join(self.path, name)
        if stat.S_ISLNK(st.st_mode):
            raise UnsafePath('%s is a symlink; refusing to follow it as %s (it could point at any file). '
                             'Run the task as the user whose file it is (become_user: NAME; it is then followed '
                             'with only their rights), replace it with a regular file, or manage the file it '
                             'points to by its path' % (full, running_as()))
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePath('%s is not a regular file' % full)
        if st.st_nlink > 1:
            raise UnsafePath('%s has %d hard links; refusing to write it as %s (a link may be another '
                             'file, e.g. /etc/shadow). Replace it with a file of its own'
                             % (full, st.st_nlink, running_as()))
        return st

    def read(self, name, max_bytes):
        """Bytes of ``name`` (None when it does not exist), opened without following a link or blocking on a
        FIFO and checked on the descriptor (regular, one link, at most ``max_bytes``): for root's own files."""
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY, dir_fd=self.fd)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise UnsafePath('%s: %s; not read' % (os.path.join(self.path, name), os.strerror(e.errno)))
        with os.fdopen(fd, 'rb') as f:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1 or st.st_size > max_bytes:
                raise UnsafePath('%s is not a regular file of one link and at most %d bytes; not read'
                                 % (os.path.join(self.path, name), max_bytes))
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise UnsafePath('%s is larger than %d bytes; not read' % (os.path.join(self.path, name), max_bytes))
        return data

    def unchanged(self, name, st):
        """Refuse to replace ``name`` when it is no longer the file ``st`` (taken under the lock) described:
        someone changed it while we read and validated, and our edit was made from the old bytes."""
        now = self.stat(name)
        if now is None or st is None:
            if now is not st:
                raise UnsafePath('%s appeared or disappeared during the run; nothing was written, run again'
                                 % os.path.join(self.path, name))
            return
        fields = ('st_ino', 'st_dev', 'st_size', 'st_mtime_ns')
        if [getattr(now, f) for f in fields] != [getattr(st, f) for f in fields]:
            raise UnsafePath('%s changed during the run; nothing was written, run again'
                             % os.path.join(self.path, name))

    def write(self, name, data, uid, gid, mode):
        """Atomically replace ``name`` with ``data``, owned uid:gid with ``mode``."""
        tmp = '.%s.keepalive-%d.tmp' % (name, os.getpid())
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=self.fd)
        try:
            with os.fdopen(fd, 'wb', closefd=False) as f:
                f.write(data)
                f.flush()
                os.fsync(fd)
            st = os.fstat(fd)
            if (st.st_uid, st.st_gid) != (uid, gid):  # a user writing their own file may not chown (EPERM)
                os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)
            os.close(fd)
            fd = None
            os.rename(tmp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
            os.fsync(self.fd)
        except BaseException:
            if fd is not None:
                os.close(fd)
            try:
                os.unlink(tmp, dir_fd=self.fd)
            except OSError:
                pass
            raise

    def backup(self, name, st, data):
        """Write ``data`` (the bytes the edit was made from, never a re-read of the user's file as root) next
        to ``name``, with the owner and mode of ``st``; returns the backup's path."""
        stamp = time.strftime('%Y-%m-%d@%H:%M:%S~')
        backup = '%s.%d.%s' % (name, os.getpid(), stamp)
        self.write(backup, data, st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))
        return os.path.join(self.path, backup)

    def prune(self, name, keep):
        """Remove the backups of ``name`` beyond the newest ``keep``, through the directory's descriptor (a
        user's directory: never through a path they could swap)."""
        for entry in stale_backups(name, os.listdir(self.fd), keep):
            try:
                os.unlink(entry, dir_fd=self.fd)
            except OSError:
                pass  # gone meanwhile, or a directory with that name: not ours to remove

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
