# -*- coding: utf-8 -*-
# Copyright: keepalive.ssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a module run decides, apart from its I/O: options → engine → result.

The modules call these with the host's own files.  The action plugins of the
same name call them with a snapshot of those files read over the connection
(plugins/plugin_utils/snapshot.py), so a run that would change nothing ends on
the controller with the result the module would have returned, without
starting Python on the host.  One decision, two readers.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import pwd
import shlex
import stat

from ansible_collections.keepalive.ssh.plugins.module_utils.keepalive import (
    CLIENT_KEYWORDS,
    HostSpec,
    InputError,
    apply_client,
    apply_server,
    check_file_name,
    check_int,
    check_keyword,
    check_patterns,
    check_text,
    client_effective,
    drop_in_shadows,
    semantic_warnings,
    server_effective,
    system_target,
)
from ansible_collections.keepalive.ssh.plugins.module_utils.platforms import Layout, matcher_with
from ansible_collections.keepalive.ssh.plugins.module_utils.safefile import BACKUP_KEEP
from ansible_collections.keepalive.ssh.plugins.module_utils.sshconf import (
    SSH,
    SSHD,
    ConfigError,
    Document,
    Tree,
    local_matches,
)
from ansible_collections.keepalive.ssh.plugins.module_utils.timing import resolve_timing, timing_names
from ansible_collections.keepalive.ssh.plugins.module_utils.userread import MAX_BYTES, TIMEOUT, printable

# -- validate (both writing modules) -------------------------------------------------------

DEFAULT_VALIDATION = 'default'
BOOLEAN_WORDS = {'true': True, 'yes': True, 'on': True, 'false': False, 'no': False, 'off': False}


def validation(params):
    """The validate option → None (off), DEFAULT_VALIDATION, or an argv template with '%s'.

    As ansible-core's lineinfile/template: a command containing %s for the file to check, split like a
    shell command line (quotes work).  %s is replaced in each word after splitting, so a staged path with
    spaces stays one argument.  Omitted: the module's own check (sshd -t / ssh -G).  false: none.
    """
    value = params['validate']
    if value is None:
        return DEFAULT_VALIDATION
    if isinstance(value, str) and value.strip().lower() in BOOLEAN_WORDS:
        value = BOOLEAN_WORDS[value.strip().lower()]
    if value is False:
        return None
    if not isinstance(value, str):
        raise InputError('validate must be a command containing %%s, or false (omit it for the default check); '
                         'got %r' % (value,))
    try:
        argv = shlex.split(value)
    except ValueError as e:
        raise InputError('validate=%r cannot be split like a shell command line: %s' % (value, e))
    if not any('%s' in word for word in argv):
        raise InputError('validate must contain %%s for the file to check, got %r' % value)
    return argv


def command_for(argv, staged):
    """The validation argv for a staged file: ~ and $VARS expanded in each word, as AnsibleModule.run_command
    does for a command string (ansible-core's validate), then %s replaced by the staged path."""
    return [os.path.expanduser(os.path.expandvars(word)).replace('%s', staged) for word in argv]


# -- sshd_keepalive ------------------------------------------------------------------------

SERVER_SPEC = dict(
    argument_spec=dict(
        path=dict(type='path', default='/etc/ssh/sshd_config'),
        client_alive_interval=dict(type='int'),
        client_alive_count_max=dict(type='int'),
        tcp_keepalive=dict(type='bool'),
        match=dict(type='str'),
        nat_idle_timeout=dict(type='int'),
        dead_peer_timeout=dict(type='int'),
        options=dict(type='dict'),  # no default: required_one_of must see it omitted
        state=dict(type='str', default='present', choices=['present', 'absent']),
        backup=dict(type='bool', default=False),
        backup_keep=dict(type='int', default=BACKUP_KEEP),
        validate=dict(type='raw'),
        sshd_binary=dict(type='str', default='sshd'),
        include_base=dict(type='path', default='/etc/ssh'),
        command_timeout=dict(type='int', default=TIMEOUT),
    ),
    required_one_of=[('client_alive_interval', 'client_alive_count_max', 'tcp_keepalive', 'nat_idle_timeout',
                      'options')],
)


def needs_sshd_version(params):
    """Do the values depend on how often this host's sshd sends keepalives (timing.assumed)?"""
    return params['nat_idle_timeout'] is not None or params['dead_peer_timeout'] is not None


def server_settings(params, timing=None):
    """Module options → {keyword: value-or-None}; None means 'leave alone'.  ``timing``: the host's sshd
    period (timing.assumed), needed when needs_sshd_version(params)."""
    if params['match'] is not None:
        check_text('match', params['match'])  # it becomes a Match line: one line, no quote tricks
    check_int('command_timeout', params['command_timeout'], minimum=1)
    check_int('backup_keep', params['backup_keep'], minimum=0)
    count = check_int('client_alive_count_max', params['client_alive_count_max'])
    interval = resolve_timing(timing_names('client_alive_interval'),
                              check_int('client_alive_interval', params['client_alive_interval']), count,
                              params['nat_idle_timeout'], params['dead_peer_timeout'], timing)
    tcp = params['tcp_keepalive']
    settings = {
        'ClientAliveInterval': interval,
        'ClientAliveCountMax': count,
        'TCPKeepAlive': None if tcp is None else ('yes' if tcp else 'no'),
    }
    managed = set(k.lower() for k in settings)
    for key, value in (params['options'] or {}).items():
        key = check_keyword('options', key)
        if key.lower() in managed:
            raise InputError('options: set %s with its own option' % key)
        settings[key] = check_text('options.%s' % key, value)
    if all(value is None for value in settings.values()):  # e.g. options: {} and nothing else
        raise InputError('nothing to %s: give client_alive_interval, client_alive_count_max, tcp_keepalive, '
                         'nat_idle_timeout or options' % ('set' if params['state'] == 'present' else 'remove'))
    return settings


def server_warnings(params, settings):
    """Warnings about the requested values themselves (given before any file is read)."""
    if params['state'] != 'present':
        return []
    return semantic_warnings(settings['ClientAliveInterval'], settings['ClientAliveCountMax'], SSHD)


def server_plan(params, settings, layout=None, **reader):
    """Read the Include tree and edit it in memory; ``reader``: Tree's loader/matcher/expanduser.
    ``layout`` (platforms.server_layout): SUSE's vendor file and the drop-in new lines go to."""
    layout = layout or Layout(params['path'], None, None)
    if layout.drop_in:  # about to be created: listed where its directory's Include glob matches it
        reader = dict(reader, matcher=matcher_with(reader.get('matcher') or local_matches, layout.drop_in))
    tree = Tree(layout.main, SSHD, base_dir=params['include_base'], **reader)
    vendor = (tree.doc(layout.drop_in), layout.vendor_dir) if layout.drop_in else None
    report = apply_server(tree, settings, match=params['match'], state=params['state'], vendor=vendor)
    return tree, report


def server_result(params, settings, tree, report, timing=None):
    """The module's result for an edited tree (backups and diff are added by the writer); ``timing``: the
    sshd period the timeouts were resolved with, reported as ``timing``."""
    changed_docs = tree.changed_docs()
    keywords = [k for k, v in settings.items() if v is not None]
    result = dict(changed=bool(changed_docs), files=[d.path for d in changed_docs],
                  effective=server_effective(tree, keywords, match=params['match']), messages=report.notes)
    if timing is not None:
        result['timing'] = timing.as_result()
    if params['state'] == 'absent':
        result['removed'] = report.removed
    return result


# -- client_keepalive ----------------------------------------------------------------------

HOST_OPTIONS = dict(
    pattern=dict(type='str', required=True),
    server_alive_interval=dict(type='int'),
    server_alive_count_max=dict(type='int'),
    nat_idle_timeout=dict(type='int'),
    dead_peer_timeout=dict(type='int'),
    options=dict(type='dict', default={}),
    state=dict(type='str', choices=['present', 'absent']),
)

CLIENT_SPEC = dict(
    argument_spec=dict(
        user=dict(type='str'),
        path=dict(type='path'),
        system_config=dict(type='path'),
        drop_in=dict(type='str', default='50-keepalive.conf'),
        hosts=dict(type='list', elements='dict', options=HOST_OPTIONS),
        users=dict(type='list', elements='dict', options=dict(
            name=dict(type='str', required=True),
            path=dict(type='path'),
            hosts=dict(type='list', elements='dict', required=True, options=HOST_OPTIONS),
            state=dict(type='str', default='present', choices=['present', 'absent']),
        )),
        nat_idle_timeout=dict(type='int'),
        dead_peer_timeout=dict(type='int'),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        mode=dict(type='raw'),
        backup=dict(type='bool', default=False),
        backup_keep=dict(type='int', default=BACKUP_KEEP),
        validate=dict(type='raw'),
        ssh_binary=dict(type='str', default='ssh'),
        command_timeout=dict(type='int', default=TIMEOUT),
        max_file_size=dict(type='int', default=MAX_BYTES),
        strict=dict(type='bool', default=False),
        as_root=dict(type='str', default='fail', choices=['fail', 'nothing']),
    ),
    mutually_exclusive=[('system_config', 'user'), ('system_config', 'path'), ('users', 'user'),
                        ('users', 'path'), ('users', 'system_config'), ('users', 'hosts')],
)


class JobError(Exception):
    """A failure of one file's job; the message is complete and actionable."""


def _own_or(item, params, key):
    return item.get(key) if item.get(key) is not None else params[key]


def host_specs(hosts, state, params, prefix=''):
    """hosts: option → HostSpec list, every value checked before anything is read."""
    specs = []
    for n, item in enumerate(hosts):
        where = '%shosts[%d]' % (prefix, n)
        patterns = check_patterns('%s.pattern' % where, item['pattern'])
        count = check_int('%s.server_alive_count_max' % where, item.get('server_alive_count_max'))
        interval = resolve_timing(timing_names('server_alive_interval', where + '.'),
                                  check_int('%s.server_alive_interval' % where, item.get('server_alive_interval')),
                                  count, _own_or(item, params, 'nat_idle_timeout'),
                                  _own_or(item, params, 'dead_peer_timeout'))
        settings = {'ServerAliveInterval': interval, 'ServerAliveCountMax': count}
        for key, value in (item.get('options') or {}).items():
            key = check_keyword('%s.options' % where, key)
            if key.lower() in (k.lower() for k in CLIENT_KEYWORDS):
                raise InputError('%s.options: set %s with its own option' % (where, key))
            settings[key] = check_text('%s.options.%s' % (where, key), value)
        specs.append(HostSpec(patterns, settings, item.get('state') or state))
    seen = set()
    for spec in specs:
        key = tuple(sorted(p.lower() for p in spec.patterns))
        if key in seen:
            raise InputError('%shosts: pattern %r is listed twice' % (prefix, spec.pattern))
        seen.add(key)
    return specs


NO_TARGET = 'one of user, path, system_config or users is required'


def caller():
    """The name of the user this process runs as, or None when it is root (root has no own file to default
    to: it manages the users it is given)."""
    uid = os.geteuid()
    if uid == 0:
        return None
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        raise JobError('%s: this run is uid %d, which has no passwd entry (no home to find ~/.ssh/config in); '
                       'give path' % (NO_TARGET, uid))


def own_file_wanted(p):
    """No user, path, system_config or users: the running user's own ~/.ssh/config (see jobs)."""
    return not (p['users'] or p['user'] or p['path'] or p['system_config'])


def jobs(p, me=caller):
    """One job per file: the single user/path/system_config form, or each entry of users.

    With none of them, the file of the user running the module (``me()``: their name, None for root):
    someone managing their own machine without root.  Run as root that is an error (``as_root: fail``)
    or, for the client role on a host whose play lists no users, no job at all (``as_root: nothing``).
    """
    if p['users']:
        return [dict(label='users[%d] (%s): ' % (n, u['name']), prefix='users[%d].' % n, user=u['name'],
                     path=u['path'], system_config=None, hosts=u['hosts'], state=u['state'], mode=p['mode'])
                for n, u in enumerate(p['users'])]
    user = p['user']
    if own_file_wanted(p):
        user = me()
        if user is None:
            if p['as_root'] == 'nothing':
                return []
            raise JobError('%s: run as root there is no own ~/.ssh/config to default to (give user: NAME '
                           'for a user\'s, or run without become to manage your own)' % NO_TARGET)
    if not p['hosts']:
        raise JobError('hosts is required unless users is given')
    return [dict(label='', prefix='', user=user, path=p['path'], system_config=p['system_config'],
                 hosts=p['hosts'], state=p['state'], mode=p['mode'])]


def nothing_as_root():
    """The result of a run as root with nothing to manage (``as_root: nothing``)."""
    return dict(changed=False, files=[], effective={}, skipped_users=[],
                messages=['run as root without user, path, system_config or users: no file to manage'])


def target(job, drop_in, getpwnam=pwd.getpwnam, ids=None):
    """(trusted dir, path below it, owner uid, gid, default mode) of the file to manage.

    Directories below the trusted one are opened without following links:
    they belong to the user (their home, their .ssh).  ``getpwnam`` and ``ids``
    (uid, gid of the run) default to this machine's.
    """
    user, path, system = job['user'], job['path'], job['system_config']
    if system:
        check_file_name('drop_in', drop_in)
        try:
            path = system_target(system, drop_in)
        except (ConfigError, InputError) as e:
            raise JobError('system_config=%s: %s' % (system, e))
        return os.path.dirname(path), os.path.basename(path), 0, 0, 0o644
    if user:
        try:
            pw = getpwnam(user)
        except KeyError:
            raise JobError('user=%s does not exist in the passwd database' % user)
        home = pw.pw_dir.rstrip('/') or '/'
        if path and not plain(path):
            # root decides who controls a user's file by its spelling: the spelling must be what is opened
            raise JobError('path=%s is not a plainly spelled absolute path (no ".", ".." or "//")' % path)
        path = path or os.path.join(home, '.ssh', 'config')
        if os.path.isabs(path) and path.startswith(home + '/') and home != '/':
            trusted = home
        elif os.path.basename(os.path.dirname(path)) == '.ssh':
            trusted = os.path.dirname(os.path.dirname(path))  # a home elsewhere: its .ssh is the user's
        else:
            trusted = os.path.dirname(path)
        return trusted, os.path.relpath(path, trusted), pw.pw_uid, pw.pw_gid, 0o600
    uid, gid = ids or (os.getuid(), os.getgid())
    return os.path.dirname(path) or '.', os.path.basename(path), uid, gid, 0o600


def owner_of(path, getpwuid=pwd.getpwuid, homes=None):
    """The local user who controls ``path`` (given without user:), or None when only root (or the caller) does.

    The nearest other owner of the file or of a directory above it (they can replace what is below), else
    the user whose home holds the path.  Root must not read or evaluate such a file with root's rights.
    """
    mine = (0, os.getuid())
    here = os.path.abspath(path)
    while True:
        try:
            uid = os.lstat(here).st_uid
        except OSError:  # not there (yet): the directory above decides
            uid = mine[0]
        if uid not in mine:
            try:
                return getpwuid(uid).pw_name
            except KeyError:
                raise JobError('path=%s: %s belongs to uid %d, which has no passwd entry; root does not read '
                               'or evaluate a file another user controls (give user:, or make it root\'s)'
                               % (path, here, uid))
        if here == '/':
            break
        here = os.path.dirname(here)
    for pw in (homes if homes is not None else pwd.getpwall()):
        home = pw.pw_dir.rstrip('/')
        if pw.pw_uid not in mine and home and os.path.abspath(path).startswith(home + '/'):
            return pw.pw_name
    return None


def adopt_owner(job, getpwuid=pwd.getpwuid, **kw):
    """A ``path`` without ``user`` that a user controls is that user's job: read and checked as them.

    So is one whose Include tree reaches a file or directory a user controls (the first one found, in
    OpenSSH's reading order); one that others may change without being its owner (group or world
    writable) is refused.  A system_config tree root evaluates only when root alone controls it."""
    if job['user'] or not (job['path'] or job['system_config']):
        return job
    owner = owner_of(job['path'], getpwuid=getpwuid, **kw) if job['path'] else None
    if owner is None and os.geteuid() == 0:  # (a user running for themselves reads with their own rights)
        top = job['path'] or job['system_config']
        try:
            Tree(top, SSH, **roots_reader(SSH)).files()
        except NotRootsAlone as e:
            if e.uid is None or not job['path']:
                raise JobError('%s: %s' % (top, e))
            try:
                owner = getpwuid(e.uid).pw_name
            except KeyError:
                raise JobError('%s: %s, and uid %d has no passwd entry' % (top, e, e.uid))
        except ConfigError:
            pass  # the module's own read says what is wrong, in its words
    return dict(job, user=owner, adopted=True) if owner else job


# -- what root evaluates with its own rights ------------------------------------------------

class NotRootsAlone(Exception):
    """A file of a tree root would read and evaluate as root, or a directory on its way, that root does
    not control alone: ``uid`` is its owner (None: root's, but others may write it)."""

    def __init__(self, path, uid):
        self.path, self.uid = path, uid
        if uid is None:
            self.why = 'group or others may write %s' % path
        else:
            self.why = '%s belongs to uid %d' % (path, uid)
        super(NotRootsAlone, self).__init__('%s; root reads and evaluates (sshd -T, ssh -G) a file only where '
                                            'root alone controls it and every directory above it' % self.why)


def root_alone(chain, owners=(0,)):
    """The first of ``chain`` root does not control alone, as (path, owner uid or None), else None.

    ``chain``: (path, is a directory, mode or None for a symlink, uid) of a file or directory, then of
    each directory above it, '/' last.  Root alone controls an entry it owns that neither group nor
    others may write, but for a sticky directory above the first (/tmp: others cannot rename or remove
    root's entries there).  The module (local files) and the controller-side probe apply this rule;
    ``owners`` (uids) widens it to root and one user (a user's home)."""
    for n, (path, is_dir, mode, uid) in enumerate(chain):
        if uid not in owners:
            return path, uid
        if mode is not None and mode & 0o022 and not (n and is_dir and mode & 0o1000):
            return path, None
    return None


def _local_chain(path):
    chain, here = [], path
    while True:
        try:
            st = os.lstat(here)
        except FileNotFoundError:
            pass  # not there: the directory above decides who may create it
        else:
            mode = None if stat.S_ISLNK(st.st_mode) else stat.S_IMODE(st.st_mode)
            chain.append((here, stat.S_ISDIR(st.st_mode), mode, st.st_uid))
        if here == '/':
            return chain
        here = os.path.dirname(here)


def check_roots_alone(path, owners=(0,)):
    """NotRootsAlone unless root alone (or ``owners``) controls ``path`` (root_alone), as spelled and,
    where a symlink is on the way, as resolved."""
    path = os.path.abspath(path)
    for spelling in dict.fromkeys([path, os.path.realpath(path)]):
        problem = root_alone(_local_chain(spelling), owners)
        if problem:
            raise NotRootsAlone(*problem)


def plain(path):
    """``path`` is absolute and spelled the one way (no '.', '..', '//' or trailing '/'): who controls a
    file is decided from its spelling, which must then be what the kernel opens (the module and the
    controller-side probe)."""
    return isinstance(path, str) and path.startswith('/') and os.path.normpath(path) == path and not path.startswith('//')


def check_home(trusted, uid):
    """The directory root opens as a user's trusted one (their home, or the directory their .ssh is in)
    must be controlled by root and that user alone, and the directories above it by root alone, up to
    '/': a home that is a symlink, or that another user created (a missing home in a world-writable
    directory), or whose parent the user may change (rename a symlink or another directory in), is
    refused.  SafeDir(owners=...) then opens that very directory without following a link."""
    advice = ('root writes a user\'s files only below a directory root and that user alone control (a home '
              'that is a symlink, or below a directory the user may write, is refused: run the task as that '
              'user, become_user, instead)')
    if not plain(trusted):
        # '.', '..' or '//' in a home or path: what is checked by spelling would not be what is opened
        raise JobError('%s is not a plainly spelled absolute path (no ".", ".." or "//"); %s' % (trusted, advice))
    try:
        if stat.S_ISLNK(os.lstat(trusted).st_mode):
            raise JobError('%s is a symlink; %s' % (trusted, advice))
        check_roots_alone(trusted, owners=(0, uid))
        check_roots_alone(os.path.dirname(trusted.rstrip('/')) or '/')
    except FileNotFoundError:
        # a missing home is never created by root: another user could plant it, or a symlink on its way,
        # between this look and the write
        raise JobError('%s does not exist; create it first (only a missing .ssh directory is created)' % trusted)
    except NotRootsAlone as e:
        raise JobError('%s: %s; %s' % (trusted, e.why, advice))


def _static_dir(pattern):
    """The directory of an Include glob up to its first wildcard: who may add a match there."""
    parts = []
    for part in pattern.split('/')[:-1]:
        if glob.has_magic(part):
            break
        parts.append(part)
    return '/'.join(parts) or '/'


def roots_reader(dialect):
    """Tree's loader and matcher for a tree root reads with its own rights: every file, and the
    directory of every Include pattern, is checked (check_roots_alone) before it is read."""
    def load(path):
        check_roots_alone(path)
        return Document.load(path, dialect)

    def match(pattern):
        check_roots_alone(_static_dir(pattern))
        return local_matches(pattern)
    return dict(loader=load, matcher=match)


def parse_mode(mode):
    if mode is None:
        return None
    try:
        return int(str(mode), 8) if not isinstance(mode, int) else mode
    except ValueError:
        raise JobError('mode must be an octal mode such as "0600", got %r' % mode)


def client_warnings(job, specs):
    """Warnings about the requested values themselves, one per Host pattern."""
    warnings = []
    for spec in specs:
        if spec.state == 'present':
            interval = spec.settings.get('ServerAliveInterval')
            for msg in semantic_warnings(interval and int(interval), None, SSH):
                warnings.append('%sHost %s: %s' % (job['label'], spec.pattern, msg))
    return warnings


class ClientPlan:
    """One user's file edited in memory, with the mode it must end with and whether anything changes."""

    def __init__(self, job, specs, path, current_mode, explicit, default_mode, **reader):
        """``current_mode``: the file's (None: missing); ``explicit``: parse_mode(job['mode'])."""
        try:
            self.tree = Tree(path, SSH, **reader)
            self.report = apply_client(self.tree, specs)
            if job.get('system_config') and path != job['system_config']:
                self.report.notes.extend(self._shadowed_in_system(job['system_config'], path, specs))
        except (InputError, ConfigError) as e:
            raise JobError('%s: %s' % (path, e))
        self.job, self.specs, self.path = job, specs, path
        self.exists = current_mode is not None
        self.mode = current_mode if self.exists and explicit is None else (explicit or default_mode)
        if explicit is not None and self.exists and job['user'] and self.mode & ~current_mode:
            raise JobError('mode=%04o would loosen %s (now %04o); a user\'s ssh config is only ever tightened'
                           % (self.mode, path, current_mode))
        main = self.tree.main
        self.changed = main.changed or not self.exists or current_mode != self.mode
        if not self.exists and not main.lines:
            self.changed = False  # absent on a missing file: nothing to do

    def _shadowed_in_system(self, system_config, drop_in, specs):
        """The drop-in is read through the system file's Include: what it now shadows there (root's files)."""
        edited = self.tree.main
        system = Tree(system_config, SSH, base_dir=os.path.dirname(system_config),
                      loader=lambda p: edited if p == drop_in else Document.load(p, SSH),
                      matcher=matcher_with(local_matches, drop_in))
        return drop_in_shadows(system, edited, specs)

    def result(self):
        """The job's result (backup_file and diff are added by the writer)."""
        effective = dict((s.pattern, client_effective(self.tree, s.probe)) for s in self.specs
                         if s.state == 'present')
        result = dict(changed=self.changed, path=self.path, files=[self.path] if self.changed else [],
                      effective=effective, messages=['%s%s' % (self.job['label'], n) for n in self.report.notes])
        if any(s.state == 'absent' for s in self.specs):
            result['removed'] = self.report.removed
        return result

    def warnings(self):
        return ['%s%s' % (self.job['label'], msg) for msg in self.report.warnings]


def check_limits(params):
    """command_timeout and max_file_size: positive, so every read and command is bounded."""
    check_int('command_timeout', params['command_timeout'], minimum=1)
    check_int('max_file_size', params['max_file_size'], minimum=1)
    if 'backup_keep' in params:  # the writing modules
        check_int('backup_keep', params['backup_keep'], minimum=0)


def skip_entry(job, where, error):
    """A user left out of this run, and why (the reason names files, never their content)."""
    trusted, relative = where[0], where[1]
    return dict(user=job['user'], path=printable(os.path.join(trusted, relative)), reason=printable(error))


def unexpected(error):
    """The reason for a user's job that failed in a way we did not foresee: the kind of error and, for an
    OSError, the system's words, never more (the text of an arbitrary exception could quote a file)."""
    what = type(error).__name__
    if isinstance(error, OSError) and error.strerror:
        what = '%s: %s%s' % (what, error.strerror, ' (%s)' % error.filename if error.filename else '')
    return JobError('internal error (%s); the user was skipped. Please report this' % what)


def client_result(params, results, skipped=()):
    """The module's result: one job's result, or with users the aggregate of every user's.

    ``skipped_users`` lists the users whose files were left alone (unsafe, locked, unparsable, too big,
    too slow) with the reason; it is not named ``skipped``, which Ansible reads as "task skipped".
    """
    if not params['users']:
        if not results:
            return dict(changed=False, path=skipped[0]['path'], files=[], effective={}, messages=[],
                        skipped_users=list(skipped))
        return dict(results[0], skipped_users=list(skipped))
    merged = dict(changed=any(r['changed'] for r in results), files=[f for r in results for f in r['files']],
                  messages=[m for r in results for m in r['messages']], results=results,
                  skipped_users=list(skipped))
    if any('removed' in r for r in results):
        merged['removed'] = [x for r in results for x in r.get('removed', [])]
    if any('diff' in r for r in results):
        merged['diff'] = [d for r in results for d in r.get('diff', [])]
    return merged


def file_mode(st):
    return None if st is None else stat.S_IMODE(st.st_mode)
