# -*- coding: utf-8 -*-
# Copyright: keepalive.ssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the modules share around the engine: finding OpenSSH binaries, validating, diffs.

Functions take the AnsibleModule as an argument (duck-typed), so this file
imports nothing from Ansible and stays usable from plain Python.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import os
import re
import signal
import time

from ansible_collections.keepalive.ssh.plugins.module_utils.keepalive import (
    collateral_changes,
    derived_suspects,
    pinned_argv,
    tool_settings,
)
from ansible_collections.keepalive.ssh.plugins.module_utils.staging import Stage
from ansible_collections.keepalive.ssh.plugins.module_utils.userread import (
    TIMEOUT,
    PrivateDir,
    UserFileError,
    printable,
    run_bounded,
    shown,
)

# Where OpenSSH lives on the distributions we support when PATH lacks sbin.
SBIN_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin', '/usr/bin', '/usr/local/bin']


def find_binary(module, name, param, package):
    """Absolute path of an OpenSSH binary, or a failure that says how to fix it."""
    if os.path.isabs(name):
        if os.path.isfile(name) and os.access(name, os.X_OK):
            return name
        module.fail_json(msg='%s=%s is not an executable file; install %s or point %s at sshd/ssh'
                         % (param, name, package, param))
    found = module.get_bin_path(name, opt_dirs=SBIN_DIRS)
    if not found:
        module.fail_json(msg='%s binary %r not found in PATH or %s; install %s, set %s, or set validate=false'
                         % (param, name, ':'.join(SBIN_DIRS), package, param))
    return found


def escaped(module):
    """``module`` (an AnsibleModule) whose exit_json, fail_json and warn make every text printable
    (userread.shown): a user's file names and lines reach the admin's terminal on every path, a result,
    a diff, a failure or a warning, only escaped.  One wrapper, so no path can forget it."""
    exit_json, fail_json, warn = module.exit_json, module.fail_json, module.warn
    module.exit_json = lambda **result: exit_json(**shown(result))
    module.fail_json = lambda msg, **result: fail_json(**shown(dict(result, msg=msg)))
    module.warn = lambda warning: warn(printable(warning))
    return module


def openssh_version_of(binary, timeout=TIMEOUT):
    """'OpenSSH_9.2p1' (sshd 9.2: 'OpenSSH_9.2') from ``binary -V`` (OpenSSH 8.x's sshd has no -V: its usage
    message names the version), or None when there is no such binary or it names no OpenSSH version;
    timing.openssh_version() makes the release ('9.2') of it."""
    if not binary or not os.access(binary, os.X_OK):
        return None
    _rc, out, err = run_bounded([binary, '-V'], timeout)
    found = re.search(r'OpenSSH_[\w.]+', (err or '') + (out or ''))
    return found.group(0) if found else None


class Limits:
    """Who runs the tools and for how long: ``identity`` (a user's files: as that user, see userread) or
    None (root's own files); ``timeout`` per command, and for a user one budget for all of a call's
    commands (a file with thousands of Host lines cannot multiply it)."""

    def __init__(self, identity=None, timeout=TIMEOUT):
        self.identity, self.timeout = identity, timeout
        self.deadline = time.time() + timeout if identity is not None else None

    @contextlib.contextmanager
    def counted(self):
        """Our own work on a user's files (the engine's) is counted against their budget too, and stopped
        when the budget is spent (a timer interrupts it): whatever the file makes it cost, the user is
        skipped after ``timeout`` seconds.  Only around pure Python work: no command runs inside."""
        if self.deadline is None:
            yield
            return
        left = self.deadline - time.time()
        if left <= 0:
            raise UserFileError(self.spent())

        def expired(_signum, _frame):
            raise UserFileError(self.spent())
        previous = signal.signal(signal.SIGALRM, expired)
        signal.setitimer(signal.ITIMER_REAL, left)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    def spent(self):
        return ('the user\'s files cost more than command_timeout=%d s (reading, evaluating and checking them '
                'together); the user was skipped' % self.timeout)

    def left(self):
        if self.deadline is None:
            return self.timeout
        return max(min(self.timeout, self.deadline - time.time()), 0)

    def fail(self, module, msg, **kw):
        """A user's file: UserFileError (the caller skips that user); root's own: the module fails."""
        if self.identity is not None:
            raise UserFileError(msg)
        module.fail_json(msg=msg, **kw)


def run_tool(module, argv, limits=None):
    """The one way the modules run an OpenSSH tool on a staged tree: (rc, stdout, stderr).

    Killed with its process group after the limit; for a user's files it runs as the user
    (userread.run_bounded: uid, gid, groups, no new privileges, clean environment).
    """
    limits = limits or Limits()
    left = limits.left()
    rc, out, err = run_bounded(argv, left, limits.identity) if left > 0 else (None, '', '')
    if rc is None:
        limits.fail(module, 'validation failed, nothing was changed: %s did not finish within %d s '
                            '(command_timeout)' % (os.path.basename(argv[0]), limits.timeout), cmd=argv[0])
    return rc, out, err


def _staged_runs(module, tree, argv_for, original=False, limits=None):
    """[(argv, rc, out, err)] of ``argv_for(staged_main)`` on a staged copy of the tree (as edited,
    or as it was read), with the staged paths in every text mapped back to the real ones.

    A user's tree is staged in a directory only that user can read (userread.PrivateDir)."""
    limits = limits or Limits()
    private = PrivateDir(limits.identity) if limits.identity is not None else None
    stage = Stage(tree, tmpdir=private.path if private else module.tmpdir, original=original)
    runs = []
    try:
        with stage as staged:
            if private:
                private.give_away()
            for argv in argv_for(staged):
                rc, out, err = run_tool(module, argv, limits)
                runs.append(([stage.unstage(a) for a in argv], rc, stage.unstage(out), stage.unstage(err)))
    finally:
        if private:
            private.remove()
    return runs


# 'FILE line N: REASON' and 'FILE: line N: REASON', as ssh and sshd print their config errors.
_ERROR_RE = re.compile(r'^(?P<file>/\S*?):? line (?P<line>\d+): (?P<reason>.*)$')
_UNKNOWN_RE = re.compile(r'^Bad configuration option:? ?"?(?P<keyword>[^"\s]*)', re.I)
# What ssh and sshd only log about a line and then read on: never the reason they fail.
_WARNING_RE = re.compile(r'^(?:Deprecated option|Unsupported option)\b', re.I)


def _is_warning(line):
    m = _ERROR_RE.match(line.strip())
    return bool(m and _WARNING_RE.match(m.group('reason')))


class ToolError:
    """One config error of ssh/sshd reduced to file, line and reason.

    The reason keeps OpenSSH's words only for files the module manages: for any
    other file (a user's Include of something they may not read) it is cut
    before the first quote or colon, so no text of that file is echoed.
    """

    def __init__(self, path, number, reason, managed):
        self.path = path
        self.number = number
        self.managed = path in managed
        self.reason = reason if self.managed else re.split(r'[:"\']', reason, 1)[0].strip()
        unknown = _UNKNOWN_RE.match(reason)
        self.unknown = unknown.group('keyword') if unknown and self.managed else None

    @classmethod
    def parse(cls, text, managed):
        """Every line error of a tool's output, in order ([] when it failed for another reason).

        ssh and sshd report each bad line, then give up ('terminating, N bad configuration options'),
        so all of them are the reason.  Deprecated and unsupported options are only logged (both read
        on), so they are not.  sshd may explain an error on the line before it ('Unsupported Match
        attribute Colour'); for a managed file that explanation is kept.
        """
        errors, said = [], []
        for line in text.splitlines():
            m = _ERROR_RE.match(line.strip())
            if m and _WARNING_RE.match(m.group('reason')):
                said = []
            elif m:
                error = cls(m.group('file'), int(m.group('line')), m.group('reason'), managed)
                if error.managed and said:
                    error.reason = '%s (%s)' % (error.reason, '; '.join(said))
                errors.append(error)
                said = []
            elif line.strip() and 'terminating' not in line:
                said.append(line.strip())
        return errors

    def place(self, tree=None):
        """'FILE line N'; with ``tree`` (an edited candidate) the line as numbered in the real file."""
        doc = tree.docs.get(self.path) if tree is not None else None
        if doc is None or not 0 < self.number <= len(doc.lines):
            return '%s line %d' % (self.path, self.number)
        index = self.number - 1
        number = doc.original_line(doc.lines[index])
        if number is not None:
            return '%s line %d' % (self.path, number)
        before = next((doc.original_line(doc.lines[j]) for j in range(index - 1, -1, -1)
                       if doc.original_line(doc.lines[j]) is not None), 0)
        if before == 0:
            return '%s, the line we would add at the top' % self.path
        return '%s, the line we would add after line %d' % (self.path, before)


def _said(errors, tree=None):
    """'FILE line N: REASON; FILE line M: REASON' of every error."""
    return '; '.join('%s: %s' % (e.place(tree), e.reason) for e in errors)


def _unknown_hint(tool, unknown, before):
    """What to do about keywords the installed OpenSSH does not know (ssh alone has IgnoreUnknown)."""
    names, one = ', '.join(unknown), len(unknown) == 1
    it, lines = ('it', 'that line') if one else ('them', 'those lines')
    if not before:
        return ('the installed OpenSSH does not know %s: leave %s out of options, or install an OpenSSH that '
                'supports %s' % (names, it, it))
    if tool == 'ssh':
        return ("the installed OpenSSH does not know %s: remove or comment out %s, or let ssh skip %s with "
                "'IgnoreUnknown %s' above %s (as for another OpenSSH's options, such as macOS's UseKeychain), "
                "then run again" % (names, lines, it, ','.join(unknown), lines))
    return ('the installed OpenSSH does not know %s: remove or comment out %s (or install an OpenSSH that '
            'supports %s), then run again' % (names, lines, it))


def _rejection(tool, errors, candidate, runs):
    """The failure message: was the file rejected before our change, or would our change do it?

    A tool's own line is cut at the first double quote, where OpenSSH starts quoting file text (an
    apostrophe is its own English: "Can't open …")."""
    if not errors:  # not a config error: the tool's first line that is not a warning, cut before any quote
        text = next((r[3] or r[2] for r in runs if r[1] != 0), '')
        first = [line for line in text.strip().splitlines() if line.strip() and not _is_warning(line)]
        said = first[0].split('"', 1)[0].strip() if first else 'exit status %d, no output' % runs[0][1]
        if candidate is None:
            return '%s already rejected the configuration before any change: %s' % (tool, said)
        return 'our change would make %s reject the configuration: %s' % (tool, said)
    unknown = [e.unknown for e in errors if e.unknown]
    if candidate is None:
        hint = _unknown_hint(tool, unknown, True) if unknown else (
            'fix that line, then run again' if len(errors) == 1 else 'fix those lines, then run again')
        return '%s already rejected the configuration before any change: %s; %s' % (tool, _said(errors), hint)
    hint = _unknown_hint(tool, unknown, False) if unknown else 'check the requested values (match, options)'
    return 'our change would make %s reject the configuration: %s; %s' % (tool, _said(errors, candidate), hint)


def _fail_validation(module, tree, argv_for, failed, managed, limits):
    """A candidate was rejected: validate the original too, and fail with an honest message."""
    argv, rc = failed[0], failed[1]
    tool = os.path.basename(argv[0])
    before = [r for r in _staged_runs(module, tree, argv_for, original=True, limits=limits) if r[1] != 0]
    if before:
        errors = ToolError.parse(before[0][3] or before[0][2], managed)
        msg = _rejection(tool, errors, None, before)
    else:
        errors = ToolError.parse(failed[3] or failed[2], managed)
        msg = _rejection(tool, errors, tree, [failed])
    limits.fail(module, 'validation failed, nothing was changed: %s' % msg, rc=rc, cmd=' '.join(argv),
                stderr=_said(errors))


def _unexplained(module, tree, fn, before, after, changed, managed_keywords, limits):
    """``changed`` less the derived keywords (keepalive.DERIVED) whose difference comes from a requested change
    of their sources: the probe ``fn`` is rerun before and after with the sources pinned to the same values;
    a difference left under any pin is the edit's own."""
    suspects = derived_suspects(before, after, changed, managed_keywords)
    left = [k for k in changed if k not in suspects]
    for key, pins in sorted(suspects.items()):
        for pin in pins:
            def argv_for(staged, pin=pin):
                return [pinned_argv(fn(staged), pin)]
            old = _staged_runs(module, tree, argv_for, original=True, limits=limits)[0]
            new = _staged_runs(module, tree, argv_for, limits=limits)[0]
            if old[1] != 0 or new[1] != 0 or tool_settings(old[2]).get(key) != tool_settings(new[2]).get(key):
                left.append(key)
                break
    return sorted(left)


def validate_tree(module, tree, argv_for, probes=(), managed_keywords=(), managed_files=None, identity=None,
                  timeout=TIMEOUT, limits=None):
    """Validate an edited tree with OpenSSH itself, and prove the edit changes nothing else.

    ``argv_for(staged_main_path)`` returns the validating commands (argv lists);
    a failure fails the module with an honest message (see _rejection).
    ``probes`` are ``[(what, argv_for_one)]``: commands printing effective
    settings ('ssh -G', 'sshd -T'), run on the tree before and after the edit;
    any keyword outside ``managed_keywords`` whose value differs fails the
    module, naming the keyword and ``what``.  ``managed_files``: files whose
    lines errors may quote (default: every file of the tree).
    Returns the stdout of each validating command, in order.

    With ``identity`` (a user's files) every command runs as that user on a copy only they can read,
    all of them within ``timeout`` seconds, and a failure raises UserFileError instead (the caller
    skips the user); without, root runs each command, killed after ``timeout`` seconds.  ``limits`` (a
    Limits) replaces both: the user's one budget, shared with the caller's lock wait and read.
    """
    limits = limits or Limits(identity, timeout)
    managed = set(managed_files if managed_files is not None else tree.files())
    checks = len(argv_for('/'))
    runs = _staged_runs(module, tree, lambda staged: argv_for(staged) + [fn(staged) for _what, fn in probes],
                        limits=limits)
    for run in runs:
        if run[1] != 0:
            _fail_validation(module, tree, lambda staged: argv_for(staged) + [fn(staged) for _w, fn in probes],
                             run, managed, limits)
    if probes:
        before = _staged_runs(module, tree, lambda staged: [fn(staged) for _what, fn in probes], original=True,
                              limits=limits)
        for (what, fn), old, new in zip(probes, before, runs[checks:]):
            if old[1] != 0:
                continue  # the original cannot be evaluated for this one: nothing to compare with
            changed = collateral_changes(old[2], new[2], managed_keywords)
            if changed:
                changed = _unexplained(module, tree, fn, old[2], new[2], changed, managed_keywords, limits)
            if changed:
                # a user's Match exec can answer differently each time: that user is skipped, not the host
                limits.fail(module, 'no-collateral check failed, nothing was changed: our change would change '
                                    'the effective %s for %s (%s before and after differ). This is a bug in '
                                    'keepalive.ssh unless the file has run-time conditions (Match exec); '
                                    'please report it with the file.'
                                    % (', '.join(changed), what, os.path.basename(new[0][0])))
    return [run[2] for run in runs[:checks]]


def diff_entries(docs):
    """Ansible diff (a list: one before/after pair per changed file)."""
    return [{'before_header': d.path, 'after_header': d.path,
             'before': d.original, 'after': d.render()} for d in docs]
