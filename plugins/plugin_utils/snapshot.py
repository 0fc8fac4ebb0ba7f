# -*- coding: utf-8 -*-
# Copyright: keepalive.ssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A read-only snapshot of a managed host's ssh config files, fetched with one POSIX shell command per round.

The action plugins feed it to the engine (module_utils/plans.py) to find out,
on the controller, whether the module would change anything.  Reading files
with ``cat``-class tools costs a shell over the open connection; a module run
costs a Python start and the compile of ansible.module_utils.basic, which on a
fleet is most of a no-op run.

Only what can be answered exactly is answered: a symlink, a hard-linked file,
a glob outside the last path component, a tool that is missing (stat, base64,
getent) or any output we do not recognise raises :class:`Unsupported`, and the
caller runs the module, which decides as always.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import fnmatch
import glob
import os
import shlex

from ansible_collections.keepalive.ssh.plugins.module_utils.plans import plain, root_alone
from ansible_collections.keepalive.ssh.plugins.module_utils.sshconf import Document
from ansible_collections.keepalive.ssh.plugins.module_utils.userread import (
    CLEAN_ENV,
    MAX_BYTES,
    MAX_FILES,
    TIMEOUT,
    setpriv_prefix,
)

MAX_ROUNDS = 6
BEGIN, END = 'keepalive.ssh-probe-begin', 'keepalive.ssh-probe-end'

# Files below a user's home are read by a shell running as that user (userread.setpriv_prefix: the
# user's uid, gid and groups, no new privileges), at most CAP bytes each: what a racer swapping paths
# can make it read is what the user can read anyway.  The limits on those shells are root's, outside
# them, where the user cannot stop or fool them (probe_script): one `timeout` running as root starts a
# clean environment (userread.CLEAN_ENV) from which every user's shell of the round is started, and
# kills all of them with the root processes that frame them; per user, `head -c` caps what the shell
# may print and root base64-frames its output, so the controller takes from it answers to that user's
# own requests only.
# One function per request kind, called with the request's index and path (or user name); every
# record ends with a line holding a single dot.  No command substitution but m's one stat: on a fleet
# each fork counts.  R is set in root's own shell only.
# k: what a path is, without following a final symlink.  s: mode, links, owner.  m: a regular file's s,
# and its content when it has one link (root caps its own reads at CAP bytes; a user's shell is cut
# by root's head, outside it), '!r' instead when whom it runs as may not read it.  f: one path.  o: one path, a directory with its s: only root's shell
# answers that, nothing trusts a user's shell with owners and modes.  d: a directory's entries, then
# the content of at most MAXF regular entries matching one of the Include patterns given after the
# path.  u: a passwd line.  Names that are not plain are base64 after a '='.
_FUNCTIONS = r'''
k() { if [ -L "$1" ]; then t=link; elif [ -f "$1" ]; then t=file; elif [ -d "$1" ]; then t=dir;
      elif [ -e "$1" ]; then t=other; else t=missing; fi; }
n() { case $1 in *[!A-Za-z0-9._+,@%-]*|'') printf '=%s\n' "$(printf '%s' "$1" | base64 | tr -d '\n')";;
      *) printf '%s\n' "$1";; esac; }
s() { stat -c '%a %h %u %g' -- "$1" 2>/dev/null || stat -f '%Lp %l %u %g' "$1" 2>/dev/null || echo '? ? ? ?'; }
m() { set -f; set -- "$1" $(s "$1"); set +f; echo "$2 $3 $4 $5"
      if [ "$3" = 1 ]; then if [ ! -r "$1" ]; then echo '!r'; elif [ -n "$R" ]; then { head -c "$CAP" | base64; } < "$1"; else base64 < "$1"; fi 2>/dev/null ||
      echo '!'; fi; echo .; }
f() { k "$2"; printf 'F %s %s\n' "$1" "$t"; if [ "$t" = file ]; then m "$2"; else echo .; fi; }
o() { k "$2"; printf 'O %s %s\n' "$1" "$t"; if [ "$t" = dir ] && [ -n "$R" ]; then s "$2"; fi; echo .; }
d() { i=$1 p=$2; shift 2; k "$p"; printf 'D %s %s\n' "$i" "$t"
      if [ "$t" != dir ]; then echo .; return; fi
      for e in "$p"/* "$p"/.[!.]* "$p"/..?*; do
        [ -e "$e" ] || [ -L "$e" ] || continue
        k "$e"; printf '%s ' "$t"; n "${e##*/}"
      done; echo .
      c=0
      for e in "$p"/* "$p"/.[!.]* "$p"/..?*; do
        k "$e"; [ "$t" = file ] || continue
        w=; for g in "$@"; do case ${e##*/} in $g) w=1;; esac; done
        [ -n "$w" ] || continue
        c=$((c+1)); [ "$c" -le "$MAXF" ] || break
        printf 'N %s ' "$i"; n "${e##*/}"; m "$e"
      done; }
u() { printf 'U %s\n' "$1"; getent passwd "$2"; echo .; }
'''
# Root's, around the users' shells, which inherit neither its working directory nor its descriptors
# above 2.  P: the passwd lines of every user named in the round (one getent).
# w: one user's line from P, printed as u prints it when an index is given, and their ids in uid and
# gid (uid empty when there is no such user, the user is root, or an id is not a number below
# (uid_t) -1: then no shell runs and the module decides).
_ROOTS = r'''
cd / && exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
w() { l=; o=$IFS; IFS='
'; set -f; for x in $P; do case $x in "$1":*) l=$x;; esac; done
      if [ -n "$2" ]; then printf 'U %s\n' "$2"; [ -z "$l" ] || printf '%s\n' "$l"; echo .; fi
      IFS=:; set -- $l; IFS=$o; set +f; uid=$3 gid=$4
      case $uid in ''|*[!0-9]*|???????????*) uid=;; esac; case $gid in ''|*[!0-9]*|???????????*) uid=;; esac
      [ -z "$uid" ] || { [ "$uid" -gt 0 ] && [ "$uid" -le MAXID ] && [ "$gid" -le MAXID ]; } || uid=; }
'''


class Unsupported(Exception):
    """The snapshot cannot answer this exactly: run the module instead."""


class Missing(Exception):
    """Not fetched yet: ``requests`` are (kind, name) pairs, kind one of 'f', 'o', 'd', 'u'."""

    def __init__(self, requests):
        super(Missing, self).__init__(' '.join('%s %s' % r for r in requests))
        self.requests = requests


class Entry:
    """What one path is: kind ('file', 'dir', 'link', 'other', 'missing'), and for files mode, links, owner, data."""

    def __init__(self, kind, mode=None, nlink=None, uid=None, gid=None, data=None):
        self.kind, self.mode, self.nlink, self.uid, self.gid, self.data = kind, mode, nlink, uid, gid, data


RECORDS = {'F': 'f', 'O': 'o', 'D': 'd', 'N': 'd', 'U': 'u'}  # record → the request kind it answers
MAX_ID = 2 ** 32 - 2  # (uid_t) -1 means "unchanged" to setresuid: never an id to read as


class Passwd:
    """The fields of a passwd line that target() reads (pwd.struct_passwd's names), for user ``name``."""

    def __init__(self, line, name):
        fields = line.split(':')
        if len(fields) < 7 or fields[0] != name:
            raise Unsupported('unexpected passwd line for %s' % name)
        self.pw_name, self.pw_dir = fields[0], fields[5]
        self.pw_uid, self.pw_gid = check_id(fields[2]), check_id(fields[3])


def check_id(value):
    """A uid or gid of the passwd database as a number setpriv takes for what it is."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise Unsupported('unexpected id %r' % value)
    if not 0 <= number <= MAX_ID:
        raise Unsupported('id %d out of range' % number)
    return number


def _name(field):
    """A name as the probe prints it: plain, or '=' and base64."""
    if not field.startswith('='):
        return field
    try:
        return base64.b64decode(field[1:].encode('ascii'), validate=True).decode('utf-8')
    except (ValueError, binascii.Error, UnicodeError):
        raise Unsupported('undecodable name in the probe output')


def _component(field):
    """A name inside a requested directory: one path component, never '.', '..' or a path."""
    name = _name(field)
    if not name or '/' in name or name in ('.', '..') or '\0' in name:
        raise Unsupported('the probe named a file outside the requested directory')
    return name


def whom(homes, exact):
    """name → whom it is read as: ('ids', uid, gid) below a directory of ``homes`` ({directory: (uid,
    gid)}), ('user', name) for a path of ``exact`` ({path: user name}), else None (root's own)."""
    homes = dict((top, ('ids', check_id(uid), check_id(gid))) for top, (uid, gid) in (homes or {}).items())
    exact = dict((path, ('user', user)) for path, user in (exact or {}).items())

    def of(name):
        if name in exact:
            return exact[name]
        tops = [top for top in homes if name == top or name.startswith(top.rstrip('/') + '/')]
        return homes[max(tops, key=len)] if tops else None  # the innermost directory decides
    return of


def ancestors(path):
    """The directories above a plain ``path``, its own first and '/' last (none when it is not plain)."""
    dirs = []
    while plain(path) and path != '/':
        path = os.path.dirname(path)
        dirs.append(path)
    return dirs


def _lines(text):
    """Lines split at LF only (a passwd line's GECOS may hold other line breaks), a pty's CR dropped."""
    lines = text.split('\n')
    if lines and lines[-1] == '':
        lines.pop()
    return [line[:-1] if line.endswith('\r') else line for line in lines]


def user_cap(max_bytes):
    """Bytes one user's shell may print in one round: a few files of the largest size, base64'd.  More is
    cut by root, and the answer taken as Unsupported (the module decides)."""
    return 4 * max_bytes + 65536


def user_frame(who, script, indexes, max_bytes, passwd_index=None):
    """Root's shell lines that run ``script`` with sh as ``who`` (see whom) and frame its output: ``S``
    and the ``indexes`` it may answer, its output (at most user_cap bytes) base64'd by root, ``E``.
    A user given by name is looked up first (w), printing the answer to request ``passwd_index`` too."""
    if who[0] == 'user':
        ids = 'w %s %s' % (shlex.quote(who[1]), '' if passwd_index is None else passwd_index)
    else:
        ids = 'uid=%d gid=%d' % (check_id(who[1]), check_id(who[2]))
    argv = setpriv_prefix('"$uid"', '"$gid"') + ['sh', '-c', shlex.quote(script)]
    return '%s\necho S %s\n[ -z "$uid" ] || %s </dev/null 2>/dev/null | head -c %d | base64\necho E' % (
        ids, ','.join(str(i) for i in indexes), ' '.join(argv), user_cap(max_bytes) + 1)


def probe_script(requests, homes=None, max_bytes=MAX_BYTES, timeout=TIMEOUT, patterns=None, exact=None):
    """The shell command that answers ``requests`` ((kind, name) pairs) in one round.

    ``homes`` ({directory: (uid, gid)}): paths below one are read as that user (see userread), in a
    frame of root's (user_frame).  ``exact`` ({path: user name}) the same for single paths, the user's
    ids looked up on the host in the same round.  Every user's shell of the round runs under one
    ``timeout`` of ``timeout`` seconds, root's, that kills them all.  ``patterns`` ({directory:
    [Include glob's last component]}): whose contents 'd' sends.
    """
    who_of, patterns = whom(homes, exact), patterns or {}
    functions = 'CAP=%d MAXF=%d\n%s' % (max_bytes + 1, MAX_FILES, _FUNCTIONS)
    own, as_user = [], {}
    for i, (kind, name) in enumerate(requests):
        extra = patterns.get(name, []) if kind == 'd' else []
        call = ' '.join([kind, str(i)] + [shlex.quote(a) for a in [name] + sorted(extra)])
        who = who_of(name) if kind != 'u' else None
        (as_user.setdefault(who, []) if who else own).append((i, call))
    frames = []
    passwd = dict((name, i) for i, (kind, name) in enumerate(requests) if kind == 'u')
    for who, calls in sorted(as_user.items()):
        index = passwd.get(who[1]) if who[0] == 'user' else None
        if index is not None:  # w answers it with the ids: one getent
            own = [(i, c) for i, c in own if i != index]
        frames.append(user_frame(who, functions + '\n'.join(c for _i, c in calls), [i for i, _c in calls],
                                 max_bytes, index))
    if frames:
        names = sorted(set(who[1] for who in as_user if who[0] == 'user'))
        lookup = 'P=$(getent passwd %s)\n' % ' '.join(shlex.quote(n) for n in names) if names else ''
        own.append((None, 'timeout -k 1 %d %s sh -c %s </dev/null 2>/dev/null' % (
            int(timeout), ' '.join(CLEAN_ENV),
            shlex.quote(_ROOTS.replace('MAXID', str(MAX_ID)) + lookup + '\n'.join(frames)))))
    # the markers keep out whatever the login shell's rc files print
    return 'R=1 %secho %s\n%s\necho %s\n' % (functions, BEGIN, '\n'.join(c for _i, c in own), END)


class Snapshot:
    """Files, directories and users of one host, as far as fetched; ``run(script)`` → (rc, stdout)."""

    def __init__(self, run, max_bytes=MAX_BYTES, timeout=TIMEOUT):
        self._run = run
        self.max_bytes, self.timeout = max_bytes, timeout
        self.homes = {}
        self.exact = {}
        self.files = {}
        self.owners = {}
        self.dirs = {}
        self.users = {}
        self.patterns = {}
        self._sources = {}
        self.rounds = 0

    # -- fetching ------------------------------------------------------------------------

    def fetch(self, requests):
        for kind, name in requests:  # who reads a path is decided from its spelling (whom): one spelling
            if kind != 'u' and not plain(name):
                raise Unsupported('%s is not a plain absolute path' % name)
        self.rounds += 1
        seen = set()
        requests = [r for r in requests if not (r in seen or seen.add(r))]  # one answer per question
        # the rc is the last test's; the END marker tells
        _rc, out = self._run(probe_script(requests, self.homes, self.max_bytes, self.timeout, self.patterns,
                                          self.exact))
        lines = _lines(out)
        if BEGIN not in lines or END not in lines:
            raise Unsupported('the probe did not run to its end')
        self.parse(lines[lines.index(BEGIN) + 1:lines.index(END)], requests)
        for kind, name in requests:
            if not self._has(kind, name):
                raise Unsupported('the probe did not answer %s %s' % (kind, name))

    def read_as(self, home, uid, gid):
        """Read everything below ``home`` as uid:gid from now on (never as root: root's files are read
        only through directories only root controls, see reader)."""
        uid, gid = check_id(uid), check_id(gid)
        if uid == 0:
            raise Unsupported('%s belongs to root: the module reads it' % home)
        self.homes[home] = (uid, gid)

    def read_as_named(self, paths, user):
        """Read these paths as ``user`` (a name: its ids are looked up on the host in the same round)."""
        for path in paths:
            self.exact.setdefault(path, user)  # (client_keepalive._prefetch never names one path for two users)

    def expect_include(self, pattern):
        """With the listing of ``pattern``'s directory, send the files the glob matches (only those)."""
        directory, part = os.path.split(pattern)
        if part not in self.patterns.setdefault(directory, []):
            self.patterns[directory].append(part)

    def _has(self, kind, name):
        return name in {'f': self.files, 'o': self.owners, 'd': self.dirs, 'u': self.users}[kind]

    def parse(self, lines, requests, frame=None):
        """Read the probe's records (see _FUNCTIONS) into files, owners, dirs and users.

        A user's frame (see probe_script; ``frame``: the indexes of its requests) answers only those
        requests, each with a record of the request's kind, and names only paths read as that same
        user: a file inside a requested directory is one path component below it.  What a user can
        make their shell print (they may ptrace it) is at most a lie about their own files.  A path
        answered from two sources (root's shell, two users') sends the host to the module.
        """
        who_of = whom(self.homes, self.exact)
        who = self._frame_who(frame, requests, who_of)
        i = 0
        while i < len(lines):
            if frame is None and lines[i].startswith('S '):
                i = self._frame(lines, i, requests)
                continue
            kind, _sep, rest = lines[i].partition(' ')
            index, _sep, arg = rest.partition(' ')
            try:
                if frame is not None and int(index) not in frame:
                    raise ValueError('not this user\'s request')
                asked, name = requests[int(index)]
                if RECORDS.get(kind) != asked:
                    raise ValueError('not an answer to this request')
                end = lines.index('.', i + 1)
            except (ValueError, IndexError):
                raise Unsupported('unexpected probe output %r' % lines[i])
            body = lines[i + 1:end]
            i = end + 1
            if kind == 'F':
                self._store(self.files, name, self._file(arg, body, name), who)
            elif kind == 'O':  # an owner and mode only from root's own shell
                self._store(self.owners, name, self._file(arg, body) if arg == 'dir' and frame is None else Entry(arg), who)
            elif kind == 'N':
                path = os.path.join(name, _component(arg))
                if who_of(path) != who:
                    raise Unsupported('the probe named %s, which is not read as its directory is' % path)
                self._store(self.files, path, self._file('file', body, path), who)
            elif kind == 'D':
                self._store(self.dirs, name, (arg, [(_component(e.partition(' ')[2]), e.partition(' ')[0])
                                                    for e in body]), who)
            else:  # U
                self._store(self.users, name, Passwd(body[0], name) if body else None, who)

    @staticmethod
    def _frame_who(frame, requests, who_of):
        """Whom a frame's requests are read as (one user for all of them); None for root's output."""
        if frame is None:
            return None
        try:
            owners = set(who_of(requests[i][1]) for i in frame)
        except IndexError:
            raise Unsupported('a probe frame names an unknown request')
        if len(owners) != 1 or None in owners:
            raise Unsupported('a probe frame mixes requests of several owners')
        return owners.pop()

    def _store(self, table, key, value, who):
        source = (id(table), key)
        if self._sources.get(source, who) != who:
            raise Unsupported('%s was answered from two sources' % key)
        self._sources[source] = who
        table[key] = value

    def _frame(self, lines, i, requests):
        """One user's frame starting at lines[i]; the index of the line after it."""
        try:
            frame = set(int(x) for x in lines[i][2:].split(','))
            end = lines.index('E', i + 1)
            data = base64.b64decode(''.join(lines[i + 1:end]).encode('ascii'), validate=True)
        except (ValueError, binascii.Error, UnicodeError):
            raise Unsupported('unexpected probe frame %r' % lines[i])
        if len(data) > user_cap(self.max_bytes):
            raise Unsupported('a user\'s answer is larger than %d bytes' % user_cap(self.max_bytes))
        self.parse(_lines(data.decode('utf-8', 'surrogateescape')), requests, frame)
        return end + 1

    @staticmethod
    def _file(kind, body, path=''):
        if kind == 'dir' and len(body) == 1:
            meta = body[0].split()
            if len(meta) != 4 or '?' in meta:
                raise Unsupported('stat is missing on the host')
            try:
                return Entry(kind, int(meta[0], 8), int(meta[1]), int(meta[2]), int(meta[3]))
            except ValueError:
                raise Unsupported('unexpected stat output')
        if kind != 'file':
            return Entry(kind)
        meta = body[0].split() if body else []
        if body[1:] == ['!r']:
            raise Unsupported('%s: Permission denied (for the user it is read as); the module says so' % path)
        if len(meta) != 4 or '?' in meta or body[1:] == ['!']:
            raise Unsupported('stat or base64 is missing on the host')
        try:
            data = base64.b64decode(''.join(body[1:]).encode('ascii'), validate=True)
            return Entry(kind, int(meta[0], 8), int(meta[1]), int(meta[2]), int(meta[3]), data)
        except (ValueError, binascii.Error):
            raise Unsupported('unexpected stat or base64 output')

    # -- answers (Missing when not fetched yet) --------------------------------------------

    def require(self, requests):
        """Ask for everything a step needs at once: one round instead of one per path."""
        missing = [r for r in requests if not self._has(*r)]
        if missing:
            raise Missing(missing)

    def entry(self, path):
        self.require([('f', path)])
        return self.files[path]

    def owned(self, path):
        """An Entry with a directory's owner and mode (as root read them; None from a user's shell)."""
        self.require([('o', path)])
        return self.owners[path]

    def listing(self, path):
        self.require([('d', path)])
        return self.dirs[path]

    def getpwnam(self, name):
        self.require([('u', name)])
        if self.users[name] is None:
            raise KeyError(name)
        return self.users[name]

    def regular_file(self, path):
        """The Entry of a plain file with one link within the size cap; anything else is the module's to judge."""
        entry = self.entry(path)
        if entry.kind != 'file' or entry.nlink != 1:
            raise Unsupported('%s is a %s with %s links' % (path, entry.kind, entry.nlink))
        if len(entry.data) > self.max_bytes:
            raise Unsupported('%s is larger than %d bytes' % (path, self.max_bytes))
        return entry

    def real_dir(self, path):
        """``path`` is a directory, not a symlink to one."""
        kind = self.entry(path).kind
        if kind != 'dir':
            raise Unsupported('%s is a %s, not a directory' % (path, kind))

    # -- the engine's reader ----------------------------------------------------------------

    def loader(self, dialect):
        """Document.load's semantics: a missing file is an empty document."""
        def load(path):
            entry = self.entry(path)
            if entry.kind == 'missing':
                return Document('', dialect, path)
            return Document.from_bytes(self.regular_file(path).data, dialect, path)
        return load

    def matcher(self, pattern):
        """sshconf.local_matches' answer for ``pattern``, for globs in the last path component only."""
        directory, part = os.path.split(pattern)
        if not glob.has_magic(pattern):
            kind = self.entry(pattern).kind
            if kind in ('link', 'other'):
                raise Unsupported('Include %s names a %s' % (pattern, kind))
            return [pattern] if kind == 'file' else []
        if glob.has_magic(directory):
            raise Unsupported('Include %s has a glob before its last component' % pattern)
        self.expect_include(pattern)
        kind, entries = self.listing(directory)
        if kind in ('link', 'other'):
            raise Unsupported('Include directory %s is a %s' % (directory, kind))
        hidden_ok = part.startswith('.')
        names = [n for n, _kind in entries if (hidden_ok or not n.startswith('.')) and fnmatch.fnmatchcase(n, part)]
        matches = sorted(os.path.join(directory, n) for n in names)
        kinds = dict(entries)
        if any(kinds[os.path.basename(m)] in ('link', 'other') for m in matches):
            raise Unsupported('Include %s matches a symlink or special file' % pattern)
        if len(matches) > MAX_FILES:
            raise Unsupported('Include %s matches more than %d files' % (pattern, MAX_FILES))
        return [m for m in matches if kinds[os.path.basename(m)] == 'file']

    @staticmethod
    def expanduser(path):
        raise Unsupported('Include %s is relative to a home directory' % path)

    def root_controlled(self, directory):
        """No other user can change what names below ``directory`` point to: it and every directory above
        it pass plans.root_alone (root's, not writable by group or others but for a sticky one above the
        first), as root's shell saw them."""
        if not plain(directory):
            raise Unsupported('%s is not a plain absolute path' % directory)
        chain = [directory] + ancestors(directory)
        self.require([('o', path) for path in chain])  # in one round
        for path in chain:
            if self.owned(path).kind not in ('dir', 'missing'):
                raise Unsupported('%s is not a directory' % path)
        # a missing one: the directory above decides who may create it (as plans._local_chain)
        problem = root_alone([(path, True, self.owned(path).mode, self.owned(path).uid) for path in chain
                              if self.owned(path).kind == 'dir'])
        if problem:  # the module's rule (plans.root_alone), on what root's shell saw
            raise Unsupported('%s is not a directory only root controls' % problem[0])

    def reader(self, dialect, top=None, root_only=False):
        """Tree's loader, matcher and expanduser; with ``top``, confined to real directories below it;
        with ``root_only``, to directories only root controls (root_controlled).

        A user's config is the user's to write: its Include lines must not make the probe read, and
        send to the controller, files elsewhere; a file root's shell reads must not be one a user can
        swap.  The module reads those on the host.
        """
        load = self.loader(dialect)
        if root_only:
            def root_load(path):
                self.root_controlled(os.path.dirname(path) or '.')
                entry = self.entry(path)
                if entry.kind == 'file' and entry.uid != 0:
                    raise Unsupported('%s belongs to uid %s: the module reads it as its owner' % (path, entry.uid))
                return load(path)

            def root_matcher(pattern):
                self.root_controlled(os.path.dirname(pattern) or '.')
                return self.matcher(pattern)
            return dict(loader=root_load, matcher=root_matcher, expanduser=self.expanduser)
        if top is None:
            return dict(loader=load, matcher=self.matcher, expanduser=self.expanduser)

        def inside(directory):
            if not plain(directory) or whom(self.homes, self.exact)(directory) is None:
                raise Unsupported('%s is not read as a user' % directory)  # never root's shell, for a user
            rel = os.path.relpath(directory, top)
            if rel == '..' or rel.startswith('../'):
                raise Unsupported('%s is outside %s' % (directory, top))
            here = top
            for part in [p for p in rel.split('/') if p != '.']:
                here = os.path.join(here, part)
                self.real_dir(here)

        def confined_load(path):
            inside(os.path.dirname(path))
            return load(path)

        def confined_matcher(pattern):
            inside(os.path.dirname(pattern))
            return self.matcher(pattern)
        return dict(loader=confined_load, matcher=confined_matcher, expanduser=self.expanduser)


def decide(snapshot, plan, first=()):
    """Run ``plan(snapshot)`` fetching what it asks for, round by round; Unsupported when it keeps asking."""
    pending = list(first)
    for _round in range(MAX_ROUNDS):
        if pending:
            snapshot.fetch(pending)
        try:
            return plan(snapshot)
        except Missing as e:
            pending = e.requests
    raise Unsupported('needs more than %d rounds' % MAX_ROUNDS)
