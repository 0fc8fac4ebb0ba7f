# -*- coding: utf-8 -*-
# Copyright: keepalive.ssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keepalive policies on top of :mod:`sshconf`: where a value must go to take effect.

OpenSSH uses the *first* value it obtains for a keyword.  Every edit here is
decided on the Include-expanded reading order, so the managed value is the one
sshd / ssh really use, and whatever would shadow it is fixed or reported.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import itertools
import os
import re

from ansible_collections.keepalive.ssh.plugins.module_utils.sshconf import (
    SSH,
    SSHD,
    Block,
    Tree,
    ConfigError,
    Line,
    context_matches,
    make_line,
    normalize_match,
    quote_arg,
    split_args,
    ssh_header_matches,
)

SERVER_KEYWORDS = ('ClientAliveInterval', 'ClientAliveCountMax', 'TCPKeepAlive')
CLIENT_KEYWORDS = ('ServerAliveInterval', 'ServerAliveCountMax')
# sshd_config(5), OpenSSH 9.x: the keywords sshd accepts inside a Match block.
MATCH_ALLOWED = frozenset(k.lower() for k in (
    'AcceptEnv AllowAgentForwarding AllowGroups AllowStreamLocalForwarding AllowTcpForwarding AllowUsers '
    'AuthenticationMethods AuthorizedKeysCommand AuthorizedKeysCommandUser AuthorizedKeysFile '
    'AuthorizedPrincipalsCommand AuthorizedPrincipalsCommandUser AuthorizedPrincipalsFile Banner '
    'CASignatureAlgorithms ChannelTimeout ChrootDirectory ClientAliveCountMax ClientAliveInterval DenyGroups '
    'DenyUsers DisableForwarding ExposeAuthInfo ForceCommand GatewayPorts GSSAPIAuthentication '
    'HostbasedAcceptedAlgorithms HostbasedAuthentication HostbasedUsesNameFromPacketOnly IgnoreRhosts Include '
    'IPQoS KbdInteractiveAuthentication KerberosAuthentication LogLevel MaxAuthTries MaxSessions '
    'PasswordAuthentication PermitEmptyPasswords PermitListen PermitOpen PermitRootLogin PermitTTY PermitTunnel '
    'PermitUserRC PubkeyAcceptedAlgorithms PubkeyAuthentication PubkeyAuthOptions RekeyLimit RevokedKeys SetEnv '
    'StreamLocalBindMask StreamLocalBindUnlink TrustedUserCAKeys UnusedConnectionTimeout X11DisplayOffset '
    'X11Forwarding X11UseLocalhost').split())
INT_MAX = 2147483647
_KEYWORD_RE = re.compile(r'^[A-Za-z][A-Za-z0-9]*$')
_FORBIDDEN_KEYWORDS = ('host', 'match', 'include')


class InputError(ValueError):
    """Bad user input: the message names the parameter and the value."""


# -- input checks ------------------------------------------------------------------------

def check_int(param, value, minimum=0, maximum=INT_MAX):
    """An integer parameter as OpenSSH accepts it; bools and strings like '1e3' are refused."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise InputError('%s must be an integer, got %r' % (param, value))
    if isinstance(value, str):
        if not re.match(r'^\s*[+-]?\d+\s*$', value):
            raise InputError('%s must be an integer, got %r' % (param, value))
        value = int(value)
    if not isinstance(value, int):
        raise InputError('%s must be an integer, got %r' % (param, value))
    if value < minimum or value > maximum:
        raise InputError('%s must be between %d and %d, got %d' % (param, minimum, maximum, value))
    return value


def check_text(param, value):
    """A value that goes into a config line: one line, no comment, no quote tricks."""
    value = str(value)
    if value.strip() == '':
        raise InputError('%s must not be empty' % param)
    for ch in value:
        if ch in '\r\n\0' or (ord(ch) < 32 and ch != '\t'):
            raise InputError('%s must be a single line without control characters, got %r' % (param, value))
    if '#' in value or '"' in value:
        raise InputError('%s must not contain "#" or \'"\' (they would end or quote the line), got %r'
                         % (param, value))
    return value


def check_keyword(param, keyword):
    keyword = str(keyword)
    if not _KEYWORD_RE.match(keyword) or keyword.lower() in _FORBIDDEN_KEYWORDS:
        raise InputError('%s: %r is not a keyword that can be set inside a block' % (param, keyword))
    return keyword


def check_patterns(param, pattern):
    """A Host pattern list ('bastion', 'prod-*', 'a b !c') as written on a Host line."""
    pattern = check_text(param, pattern)
    if '=' in pattern:
        raise InputError('%s must not contain "=", got %r' % (param, pattern))
    patterns = pattern.split()
    if any(p.lstrip('!').startswith('-') for p in patterns):
        raise InputError('%s: a pattern must not start with "-" (ssh would read it as an option), got %r'
                         % (param, pattern))
    if not any(not p.startswith('!') for p in patterns):
        raise InputError('%s needs at least one pattern that is not negated, got %r' % (param, pattern))
    return tuple(patterns)


def check_host_name(param, name):
    """A host name handed to ``ssh -G``: one word, no control characters, not an option."""
    name = check_text(param, name)
    if name.startswith('-') or len(name.split()) != 1:
        raise InputError('%s must be one host name not starting with "-", got %r' % (param, name))
    return name


def check_file_name(param, name):
    """A bare file name (a drop-in): no directory part, no '..', no control characters."""
    name = check_text(param, name)
    if not re.match(r'^[A-Za-z0-9_+@,=-][A-Za-z0-9._+@,=-]*$', name):
        raise InputError('%s must be a bare file name such as 50-keepalive.conf (letters, digits, "._+@,=-", '
                         'not starting with "."), got %r' % (param, name))
    return name


def semantic_warnings(interval, count_max, side):
    """Warnings for values OpenSSH accepts but that rarely mean what the user wants."""
    alive = 'ClientAlive' if side == SSHD else 'ServerAlive'
    out = []
    if interval == 0:
        out.append('%sInterval 0 disables keepalive messages: idle sessions behind NAT or '
                   'firewalls will still be dropped' % alive)
    if count_max == 0 and side == SSHD:
        out.append('ClientAliveCountMax 0 disables the disconnect of dead clients on OpenSSH 8.2+; '
                   'unresponsive sessions are kept forever')
    return out


# -- shared helpers -------------------------------------------------------------------------

class Report:
    """What an edit did besides changing text: warnings and notes for the module result."""

    def __init__(self):
        self.warnings = []
        self.notes = []
        self.removed = []  # state=absent: every line taken out, as found ({keyword, value, file, line})

    def warn(self, msg):
        if msg not in self.warnings:
            self.warnings.append(msg)

    def note(self, msg):
        if msg not in self.notes:
            self.notes.append(msg)

    def removing(self, doc, indexes):
        """Record the lines about to be removed, numbered as in the file before the change; returns ``indexes``."""
        for i in indexes:
            line = doc.lines[i]
            self.removed.append({'keyword': line.keyword, 'value': ' '.join(line.args), 'file': doc.path,
                                 'line': doc.original_line(line) or i + 1})
            self.note('removed %s (%s)' % (line.text.strip(), where(doc, i)))
        return indexes


def where(doc, index):
    """'file:line' of a line, numbered as in the file before the change (the one the user has)."""
    number = doc.original_line(doc.lines[index])
    return '%s:%d' % (doc.path, number if number is not None else index + 1)


def _set_line(doc, index, value):
    line = doc.lines[index]
    if line.args != split_args(value)[0]:
        line.set_value(value)


def _insert_after_last_directive(doc, block, lines):
    """Add lines to a block after its last directive."""
    directives = doc.directives(block)
    if directives:
        pos = directives[-1] + 1
    elif block.header:
        pos = block.start + 1
    else:
        pos = block.end
    doc.insert(pos, lines)


def _new_line(doc, block, keyword, value):
    indent, sep = doc.style(block, keyword)
    return make_line(keyword, value, indent, sep, doc.eol)


def _add_to_block(doc, block, keyword, value):
    """A new line in a block: right after its commented-out default ('#ClientAliveInterval 0') in that
    line's indentation and separator, else after the block's last directive in the file's style."""
    commented = doc.commented_default(block, keyword)
    if commented is not None:
        index, indent, sep = commented
        doc.insert(index + 1, [make_line(keyword, value, indent, sep, doc.eol)])
    else:
        _insert_after_last_directive(doc, block, [_new_line(doc, block, keyword, value)])


def _blank(doc):
    return Line('', doc.eol)


# -- server side (sshd_config) ------------------------------------------------------------

def _in_scope(context, match):
    """Is a directive read in this context part of the scope we manage?

    Global scope: no Match around it.  Match scope: the innermost Match has
    the same criteria (a Match inside an Include'd file counts too).
    """
    if match is None:
        return context == ()
    return bool(context) and normalize_match(context[-1].args) == match


def server_occurrences(tree, keyword, match=None):
    """Every line that sets ``keyword`` in the scope, in sshd's reading order."""
    key = keyword.lower()
    return [(doc, i) for doc, i, ctx in tree.walk()
            if doc.lines[i].key == key and _in_scope(ctx, match)]


def server_effective(tree, keywords=SERVER_KEYWORDS, match=None):
    """{keyword: {'value', 'file', 'line', 'shadowed': [...]}} for the scope; absent keywords are left out.

    ``match`` is Match criteria text ('User alice') or None for global.
    """
    result = {}
    scope = normalize_match(match) if match else None
    for keyword in keywords:
        occ = server_occurrences(tree, keyword, scope)
        if not occ:
            continue
        doc, i = occ[0]
        result[keyword] = {
            'value': ' '.join(doc.lines[i].args),
            'file': doc.path,
            'line': i + 1,
            'shadowed': [{'file': d.path, 'line': j + 1, 'value': ' '.join(d.lines[j].args)}
                         for d, j in occ[1:]],
        }
    return result


def _add_global(doc, keyword, value):
    """A new global keyword in the main sshd_config, before the first Match (everything after a
    Match line belongs to it): after its commented-out default when the stock file has one, else
    after the last global directive, else above the comments that introduce the first Match."""
    block = doc.blocks()[0]
    if doc.commented_default(block, keyword) is not None or doc.directives(block):
        _add_to_block(doc, block, keyword, value)
        return
    pos = block.end
    if pos < len(doc.lines):
        while pos > 0 and doc.lines[pos - 1].kind == 'comment':
            pos -= 1
    doc.insert(pos, [_new_line(doc, block, keyword, value)])


def _find_match_block(doc, match):
    for block in doc.blocks():
        if block.kind == 'match' and normalize_match(block.args) == match:
            return block
    return None


def apply_server(tree, settings, match=None, state='present', vendor=None):
    """Make ``settings`` ({keyword: value}) effective in sshd_config (or remove them).

    ``match`` is Match criteria text for a per-Match setting, None for global.
    The first line sshd reads for a keyword is the one that is edited, even
    in an Include'd drop-in; later duplicates in the same file are removed.
    ``vendor``: (drop-in Document, directory) for SUSE's vendor layout: files in the directory are the
    distribution's and never edited; new lines go to the drop-in, which sshd reads before them.
    """
    if vendor is not None:
        return _apply_server_vendor(tree, settings, match, state, *vendor)
    report = Report()
    scope = normalize_match(match) if match else None
    if scope is not None and not scope:
        raise InputError('match must name Match criteria such as "User alice", got %r' % match)
    for keyword, value in settings.items():
        if value is None:
            continue
        if scope is not None and keyword.lower() not in MATCH_ALLOWED:
            raise InputError('%s cannot be set inside a Match block: sshd only accepts it globally' % keyword)
        occ = server_occurrences(tree, keyword, scope)
        if state == 'absent':
            if not occ:
                report.note('%s is not set %s: nothing to remove' % (keyword, 'in Match %s' % match if scope else 'globally'))
            for doc in {id(d): d for d, _i in occ}.values():
                doc.delete(report.removing(doc, [i for d, i in occ if d is doc]))
            continue
        value = str(value)
        if occ:
            first_doc, first = occ[0]
            _set_line(first_doc, first, value)
            dead = [i for d, i in occ[1:] if d is first_doc]
            first_doc.delete(dead)
            for d, i in occ[1:]:
                if d is not first_doc:
                    report.note('%s at %s is never used: %s sets it first' % (keyword, where(d, i), where(first_doc, first)))
            if first_doc is not tree.main:
                report.note('%s is set in %s because that file is read first' % (keyword, first_doc.path))
            continue
        doc = tree.main
        if scope is None:
            _add_global(doc, keyword, value)
            continue
        block = _find_match_block(doc, scope)
        if block is None:
            doc.ensure_trailing_eol()
            if doc.lines and doc.lines[-1].kind != 'blank':
                doc.insert(len(doc.lines), [_blank(doc)])
            doc.insert(len(doc.lines), [make_line('Match', match.strip(), '', ' ', doc.eol)])
            block = doc.blocks()[-1]
        _add_to_block(doc, block, keyword, value)
    if state == 'absent' and scope is not None:
        block = _find_match_block(tree.main, scope)
        if block is not None and not tree.main.directives(block):
            tree.main.delete([block.start])
    _warn_misplaced_globals(tree, settings, scope, report)
    return report


def _apply_server_vendor(tree, settings, match, state, drop_in, vendor_dir):
    """apply_server on a vendor layout: edit and remove only outside ``vendor_dir``, add to ``drop_in``,
    then check that sshd reads the value from there."""
    def vendor(doc):
        return doc.path.startswith(vendor_dir.rstrip('/') + '/')
    own_copy = os.path.dirname(os.path.dirname(drop_in.path)) + '/sshd_config'  # where the admin's copy goes
    scope = normalize_match(match) if match else None
    wanted = dict((k, v) for k, v in settings.items() if v is not None)
    if state == 'absent':
        for keyword in wanted:
            fixed = [(d, i) for d, i in server_occurrences(tree, keyword, scope) if vendor(d)]
            if fixed:
                d, i = fixed[0]
                raise InputError('%s is set in the distribution\'s %s line %d, which this module does not edit; '
                                 'set the value you want instead, or copy %s to %s to own the whole file'
                                 % (keyword, d.path, i + 1, tree.path, own_copy))
        return apply_server(tree, settings, match, state)
    # the admin's own files (other drop-ins) are edited as anywhere; what only the vendor sets goes to the drop-in
    own = {}
    for keyword, value in wanted.items():
        first = server_occurrences(tree, keyword, scope)[:1]
        if first and not vendor(first[0][0]):
            own[keyword] = value
    report = apply_server(tree, own, match, state) if own else Report()
    for keyword, value in wanted.items():
        if keyword in own:
            continue
        sub = _SingleDocTree(tree, drop_in)
        apply_server(sub, {keyword: value}, match, state)
        report.note('%s is set in %s: the distribution\'s files below %s are not edited, and sshd reads this '
                    'drop-in before them' % (keyword, drop_in.path, vendor_dir))
    for keyword, value in wanted.items():
        occ = server_occurrences(tree, keyword, scope)
        if not occ or vendor(occ[0][0]) or ' '.join(occ[0][0].lines[occ[0][1]].args) != str(value):
            where_ = '%s line %d' % (occ[0][0].path, occ[0][1] + 1) if occ else 'nowhere'
            raise InputError('%s: sshd would still read %s from %s, before %s; copy %s to %s to own the whole '
                             'file' % (keyword, ' '.join(occ[0][0].lines[occ[0][1]].args) if occ else 'nothing',
                                       where_, drop_in.path, tree.path, own_copy))
    return report


class _SingleDocTree(object):
    """A view of one document of a tree as its main file (for edits confined to that document)."""

    def __init__(self, tree, doc):
        self._tree = tree
        self.main = doc
        self.path = doc.path

    def walk(self, doc=None, context=(), depth=0):
        return self._tree.walk(doc or self.main, context, depth)

    def __getattr__(self, name):
        return getattr(self._tree, name)


def _warn_misplaced_globals(tree, settings, scope, report):
    """A keyword written after a Match line is part of that Match, not global: say so."""
    if scope is not None:
        return
    for keyword, value in settings.items():
        if value is None:
            continue
        key = keyword.lower()
        for doc, i, ctx in tree.walk():
            if ctx and doc.lines[i].key == key and doc.lines[i].indent == '':
                report.warn('%s at %s is inside "%s" (everything after a Match line belongs to it); '
                            'if it was meant to be global it has no global effect'
                            % (keyword, where(doc, i), ctx[-1].text.strip()))


# -- client side (ssh_config) -------------------------------------------------------------

class HostSpec:
    """One managed Host block: its patterns and the keywords it must set."""

    def __init__(self, patterns, settings, state='present'):
        self.patterns = tuple(patterns)
        self.settings = dict((k, str(v)) for k, v in settings.items() if v is not None)
        self.state = state
        self._key = sorted(p.lower() for p in self.patterns)

    @property
    def pattern(self):
        return ' '.join(self.patterns)

    @property
    def universal(self):
        return '*' in self.patterns

    @property
    def probe(self):
        """A host name that stands for this block: its first positive pattern, taken literally."""
        return next(p for p in self.patterns if not p.startswith('!'))

    def same_patterns(self, args):
        """Same Host line, in any order and case: 'Host b a' is the block of patterns ('a', 'b')."""
        return len(args) == len(self._key) and sorted(a.lower() for a in args) == self._key

    def aliases_in(self, args):
        """The other patterns of a Host line that lists all of ours ('Host vinci vinci.example.org'
        for 'vinci' → ['vinci.example.org']), or None when it does not list them all."""
        lowered = [a.lower() for a in args]
        if len(args) <= len(self._key) or any(k not in lowered for k in self._key):
            return None
        return [a for a in args if a.lower() not in self._key]


def _find_host_block(doc, spec):
    """The block that holds a spec's values, with the aliases it also applies to.

    The first 'Host' line with exactly its patterns; else the first whose
    pattern list contains them all (its other names get the values too); else,
    for '*' in a file without any Host/Match line, the top-level settings,
    which apply to every host already.  (None, None) when there is none.
    """
    blocks = doc.blocks()
    for block in blocks:
        if block.kind == 'host' and spec.same_patterns(block.args):
            return block, []
    for block in blocks:
        if block.kind == 'host':
            aliases = spec.aliases_in(block.args)
            if aliases is not None and ssh_header_matches(doc.lines[block.start], spec.probe) is True:
                return block, aliases
    if spec.universal and len(blocks) == 1 and doc.directives(blocks[0]):
        return blocks[0], []
    return None, None


def _comment_paragraph(doc, end):
    """Start of the comment lines right above index ``end`` (``end`` when there are none)."""
    start = end
    while start > 0 and doc.lines[start - 1].kind == 'comment':
        start -= 1
    return start


def _chunk(doc, block):
    """[start, end) of a block with the comment paragraph that introduces it, without trailing blanks.

    That is the paragraph right above its header, or, when there is none, a paragraph set off by
    blank lines above and below ('# Defaults for everything else', blank, 'Host *') that is not the
    file's own header (nothing but comments above it) nor the tail of the block before it."""
    start = _comment_paragraph(doc, block.start)
    if start == block.start:
        gap = start
        while gap > 0 and doc.lines[gap - 1].kind == 'blank':
            gap -= 1
        top = _comment_paragraph(doc, gap)
        if top < gap < start and top > 0 and doc.lines[top - 1].kind == 'blank' and \
                any(line.kind == 'directive' for line in doc.lines[:top]):
            start = top
    end = block.end
    while end > block.start + 1 and doc.lines[end - 1].kind == 'blank':
        end -= 1
    return start, end


def _covering_block(doc, spec):
    """The first Host/Match block of the file that applies to every host of ``spec``."""
    for block in doc.blocks():
        if not block.header or spec.same_patterns(block.args):
            continue
        header = doc.lines[block.start]
        if ssh_header_matches(header, spec.probe) is True:
            return block
    return None


def client_occurrences(tree, keyword, hostname):
    """Lines setting ``keyword`` that apply (True) or may apply (None) to ``hostname``, in order."""
    key = keyword.lower()
    out = []
    for doc, i, ctx in tree.walk():
        if doc.lines[i].key != key:
            continue
        ok = context_matches(ctx, hostname)
        if ok is not False:
            out.append((doc, i, ctx, ok))
    return out


def client_effective(tree, hostname, keywords=CLIENT_KEYWORDS):
    """{keyword: {'value', 'file', 'line', 'uncertain': [...]}} as ssh would resolve it for ``hostname``."""
    result = {}
    for keyword in keywords:
        uncertain = []
        for doc, i, ctx, ok in client_occurrences(tree, keyword, hostname):
            if ok is None:
                uncertain.append({'file': doc.path, 'line': i + 1, 'condition': ctx[-1].text.strip()})
                continue
            result[keyword] = {'value': ' '.join(doc.lines[i].args), 'file': doc.path,
                               'line': i + 1, 'uncertain': uncertain}
            break
    return result


def _set_in_block(doc, block, keyword, value):
    """Set one keyword in a block: first line edited in place, dead repeats removed."""
    lines = [i for i in doc.directives(block) if doc.lines[i].key == keyword.lower()]
    if lines:
        _set_line(doc, lines[0], value)
        doc.delete(lines[1:])
    else:
        _add_to_block(doc, block, keyword, value)


def _new_host_block(doc, spec):
    """'Host PATTERN' and the spec's keywords, indented and separated as the file's Host blocks are."""
    at_end = Block('host', len(doc.lines), len(doc.lines), [])
    lines = [make_line('Host', spec.pattern, '', ' ', doc.eol)]
    for keyword, value in spec.settings.items():
        indent, sep = doc.style(at_end, keyword)
        lines.append(make_line(keyword, quote_arg(value), indent, sep, doc.eol))
    return lines


def _insert_before(doc, target, lines):
    """Put new lines (a block) right above ``target`` and its comment paragraph, set off by blank lines."""
    start, _end = _chunk(doc, target)
    lines = lines + [_blank(doc)]
    if start > 0 and doc.lines[start - 1].kind != 'blank':
        lines = [_blank(doc)] + lines
    doc.insert(start, lines)


def _place_new_block(doc, spec):
    lines = _new_host_block(doc, spec)
    cover = _covering_block(doc, spec)
    if cover is not None:
        _insert_before(doc, cover, lines)
        return
    doc.ensure_trailing_eol()
    if doc.lines and doc.lines[-1].kind != 'blank':
        lines = [_blank(doc)] + lines
    doc.insert(len(doc.lines), lines)


def _lead_block(doc, spec, block, target, report):
    """A small 'Host' block with only the spec's keywords, above ``target``, which ssh reads first.

    The user's own block stays where it is: moving it would make *all* its
    keywords (User, Port, IdentityFile...) win over ``target``'s.  Managed
    keywords left in it would never be read again, so they are removed.
    """
    header = doc.lines[target.start]
    described = header.text.strip()
    removed = ''
    if block.header and spec.same_patterns(block.args):
        keys = set(k.lower() for k in spec.settings)
        dead = [i for i in doc.directives(block) if doc.lines[i].key in keys]
        stated = [doc.lines[i].keyword for i in dead if doc.original_line(doc.lines[i]) is not None]
        if stated:
            removed = '; %s in the "Host %s" at %s would never be read again and was removed' % (
                ', '.join(stated), spec.pattern, where(doc, block.start))
        doc.delete(dead)
        _drop_if_empty(doc, doc.block_of(block.start))
    target = next(b for b in doc.blocks() if b.header and doc.lines[b.start] is header)
    _insert_before(doc, target, _new_host_block(doc, spec))
    report.note('"Host %s" added before "%s" (%s), which sets %s first; no block was moved%s'
                % (spec.pattern, described, where(doc, doc.lines.index(header)),
                   ', '.join(k for k in spec.settings), removed))


def _universal_block(doc):
    for block in doc.blocks():
        if block.kind == 'host' and block.args == ['*']:
            return block
    return None


def _relocate_global(doc, index, keyword, report):
    """A keyword before the first Host line applies to every host first; move it to a trailing 'Host *'.

    Hosts without a block of their own keep the same value; managed blocks
    are no longer shadowed.
    """
    value = doc.lines[index].value
    doc.delete([index])
    block = _universal_block(doc)
    if block is None:
        _place_new_block(doc, HostSpec(('*',), {keyword: value}))
    else:
        _set_in_block(doc, block, keyword, value)
    report.note('%s %s moved from the top of %s into "Host *": before the first Host line it '
                'overrode every Host block' % (keyword, value, doc.path))


def _quoted(tree, doc, line):
    """' (text)' of a line of the managed file; nothing for other files (an Include may be anyone's file)."""
    return ' (%s)' % line.text.strip() if doc is tree.main else ''


def _owns(doc, block, odoc, ctx):
    """Is a line read in context ``ctx`` of ``odoc`` one of ``block``'s own?"""
    if odoc is not doc:
        return False
    if not block.header:
        return not ctx
    return bool(ctx) and ctx[-1] is doc.lines[block.start]


def _fix_shadowing(tree, spec, report):
    """Make sure no earlier line sets a managed keyword to another value for this block's hosts."""
    doc = tree.main
    for _round in range(len(doc.lines) + 1):
        block, _aliases = _find_host_block(doc, spec)
        fixed = True
        for keyword, value in spec.settings.items():
            for odoc, i, ctx, ok in client_occurrences(tree, keyword, spec.probe):
                if _owns(doc, block, odoc, ctx):
                    break
                if ok is None:
                    report.warn('%s for "Host %s" may be overridden by %s%s depending on run-time '
                                'conditions' % (keyword, spec.pattern, where(odoc, i), _quoted(tree, odoc, ctx[-1])))
                    continue
                if split_args(quote_arg(value))[0] == odoc.lines[i].args:
                    break
                if odoc is doc and not ctx and spec.universal:
                    report.note('%s %s removed from the top of %s: "Host *" now sets it'
                                % (keyword, odoc.lines[i].value, doc.path))
                    doc.delete([i])
                    fixed = False
                elif odoc is doc and not ctx:
                    _relocate_global(doc, i, keyword, report)
                    fixed = False
                elif odoc is doc and len(ctx) == 1 and spec.universal:
                    # An earlier block that also matches every host ('Match all', a second 'Host *')
                    # is read first: the value goes where ssh reads it, as for sshd's drop-ins.
                    _set_line(doc, i, quote_arg(value))
                    report.note('%s set in "%s" (%s), which ssh reads before "Host *"'
                                % (keyword, ctx[-1].text.strip(), where(doc, i)))
                    fixed = False
                elif odoc is doc and len(ctx) == 1:
                    _lead_block(doc, spec, block, doc.block_of(i), report)
                    fixed = False
                else:
                    # The shadowing file is not ours to edit or quote: name the place only.
                    report.warn('%s for "Host %s" is shadowed by %s, which ssh reads first; fix that file by hand'
                                % (keyword, spec.pattern, where(odoc, i)))
                break
            if not fixed:
                break
        if fixed:
            return
    raise ConfigError('could not order Host blocks for "Host %s"' % spec.pattern)


def _read_first(tree, spec, block):
    """('file:line', keyword) of a line ssh reads before ``block`` that sets one of the spec's keywords
    for its hosts, or None."""
    doc = tree.main
    header = doc.lines[block.start]
    keys = set(k.lower() for k in spec.settings)
    for odoc, i, ctx in tree.walk():
        if odoc is doc and odoc.lines[i] is header:
            return None
        if odoc.lines[i].key in keys and context_matches(ctx, spec.probe) is True:
            return where(odoc, i), odoc.lines[i].keyword
    return None


def _note_aliases(doc, spec, report):
    block, aliases = _find_host_block(doc, spec)
    if aliases:
        report.note('"Host %s" is part of "%s" (%s): %s applies to %s too'
                    % (spec.pattern, doc.lines[block.start].text.strip(), where(doc, block.start),
                       ', '.join(spec.settings), ' '.join(aliases)))


def apply_client(tree, specs):
    """Make every spec's keywords effective for its Host patterns (or remove them).

    Specific patterns first, then 'Host *': a specific block must come before
    any block that also matches its hosts, or its values are dead.
    """
    report = Report()
    doc = tree.main
    ordered = [s for s in specs if not s.universal] + [s for s in specs if s.universal]
    for spec in ordered:
        block, aliases = _find_host_block(doc, spec)
        if spec.state == 'absent':
            if block is None:
                report.note('Host %s: no such block, nothing to remove' % spec.pattern)
            else:
                _note_aliases(doc, spec, report)
                _remove_from_block(doc, block, spec, report)
            continue
        if block is not None and aliases and _read_first(tree, spec, block) is not None:
            # Editing the shared block would change its other names' values for nothing: ssh
            # reads another block first for this host.  A block of our own goes before that one.
            report.note('"Host %s" added before %s, which sets %s first: editing "%s" (%s) instead would change '
                        'its other names too, for nothing' % ((spec.pattern,) + _read_first(tree, spec, block) + (
                            doc.lines[block.start].text.strip(), where(doc, block.start))))
            block = None
        if block is None:
            _place_new_block(doc, spec)
        else:
            for keyword, value in spec.settings.items():
                _set_in_block(doc, _find_host_block(doc, spec)[0], keyword, quote_arg(value))
        _fix_shadowing(tree, spec, report)
    # Setting a value in an existing 'Host *' (or a broad block) can shadow a
    # specific block handled before it: check them all once more.
    for spec in ordered:
        if spec.state == 'present' and not spec.universal:
            _fix_shadowing(tree, spec, report)
    for spec in ordered:
        if spec.state == 'present':
            _note_aliases(doc, spec, report)
    return report


def _drop_if_empty(doc, block):
    """Remove a Host block left without directives (its header and blank lines)."""
    if not block.header or doc.directives(block):
        return
    drop = [i for i in range(block.start, block.end) if doc.lines[i].kind == 'blank' or i == block.start]
    if block.start > 0 and doc.lines[block.start - 1].kind == 'blank' and block.end >= len(doc.lines):
        drop.append(block.start - 1)
    doc.delete(drop)


def _remove_from_block(doc, block, spec, report):
    """The managed keywords, whatever values were given, and the listed options' keys."""
    keys = set(k.lower() for k in list(spec.settings) + list(CLIENT_KEYWORDS))
    found = [i for i in doc.directives(block) if doc.lines[i].key in keys]
    if not found:
        report.note('Host %s: none of %s set there, nothing to remove'
                    % (spec.pattern, ', '.join(sorted(set(spec.settings) | set(CLIENT_KEYWORDS)))))
    doc.delete(report.removing(doc, found))
    _drop_if_empty(doc, _find_host_block(doc, spec)[0] or block)


def system_target(system_config, drop_in='50-keepalive.conf'):
    """Where system-wide client settings belong: a drop-in the system ssh_config includes, else the file itself.

    Debian/Ubuntu/Fedora ship 'Include /etc/ssh/ssh_config.d/*.conf' at the top
    of /etc/ssh/ssh_config; a drop-in there is read before the main file's
    'Host *', so its values win and package upgrades never conflict with it.
    """
    base = os.path.dirname(system_config)
    tree = Tree(system_config, SSH, base_dir=base)
    candidate = os.path.join(base, 'ssh_config.d', drop_in)
    for doc, i, ctx in tree.walk():
        line = doc.lines[i]
        if doc is tree.main and not ctx and line.key == 'include':
            if any(fnmatch.fnmatchcase(candidate, tree.resolve(arg)) for arg in line.args):
                return candidate
    return system_config


def drop_in_shadows(tree, drop_in, specs):
    """Notes on a system-wide tree: each line of another file (ssh_config itself) that the drop-in now
    sets first for a managed block's hosts, as apply_server's notes for sshd."""
    report = Report()
    for spec in specs:
        if spec.state != 'present':
            continue
        for keyword in spec.settings:
            read = [(d, i) for d, i, _ctx, ok in client_occurrences(tree, keyword, spec.probe) if ok]
            if not read or read[0][0] is not drop_in:
                continue
            for d, i in read[1:]:
                if d is not drop_in:
                    report.note('%s at %s is never used for "Host %s": %s sets it first'
                                % (keyword, where(d, i), spec.pattern, drop_in.path))
    return report.notes


# -- no collateral change: what to ask OpenSSH before and after an edit ---------------------

GENERIC_HOSTS = ('localhost', 'example.org', 'keepalive-probe.invalid')
MAX_PROBES = 200  # bounds the cost of the check on huge files (two tool runs per probe)


def _literal(pattern):
    """A name a pattern matches: itself when it has no wildcard, else with each wildcard as 'x'."""
    return pattern.lstrip('!').replace('*', 'x').replace('?', 'x')


def client_probe_hosts(tree):
    """Host names ssh -G is asked about: every name in every Host/Match host pattern of the tree
    (wildcards instantiated, negations included: they must keep their values too), then generic ones."""
    out, seen = [], set()
    for name in itertools.chain(_pattern_names(tree), GENERIC_HOSTS):
        # a set, not a scan of the list: a user's file may hold 100,000s of names (linear in the file)
        if name and name.lower() not in seen:
            seen.add(name.lower())
            out.append(name)
    return out[:MAX_PROBES]


def _pattern_names(tree):
    """Each name of the tree's Host and Match host patterns, in file order."""
    for doc, i, _ctx in tree.walk():
        line = doc.lines[i]
        if line.key == 'host':
            for p in line.args:
                yield _literal(p)
        elif line.key == 'match':
            args = line.args
            for n, arg in enumerate(args[:-1]):
                if arg.lower().lstrip('!') in ('host', 'originalhost'):
                    for p in args[n + 1].split(','):
                        yield _literal(p)


_CONNECTION = (('user', 'user'), ('host', 'host'), ('address', 'addr'), ('localaddress', 'laddr'),
               ('localport', 'lport'), ('rdomain', 'rdomain'))
DEFAULT_CONNECTION = 'user=root,host=localhost,addr=127.0.0.1,laddr=127.0.0.1,lport=22'


def _connection_value(criterion, patterns):
    value = next((p for p in patterns.split(',') if not p.startswith('!')), None)
    if value is None:
        return None
    if criterion in ('address', 'localaddress'):
        value = value.split('/')[0].replace('*', '1').replace('?', '1')
    elif criterion == 'localport':
        value = value if value.isdigit() else None
    else:
        value = _literal(value)
    return value if value and ',' not in value and '=' not in value else None


def server_probe_connections(tree):
    """Connection specs for 'sshd -T -C': a default one, then one per Match block that selects it
    (criteria sshd -T cannot be given, such as Group, are left to the default)."""
    specs = [DEFAULT_CONNECTION]
    for doc, i, _ctx in tree.walk():
        line = doc.lines[i]
        if line.key != 'match':
            continue
        given = dict(kv.split('=', 1) for kv in DEFAULT_CONNECTION.split(','))
        args = line.args
        for n, arg in enumerate(args[:-1]):
            for criterion, key in _CONNECTION:
                if arg.lower() == criterion:
                    value = _connection_value(criterion, args[n + 1])
                    if value is not None:
                        given[key] = value
        spec = ','.join('%s=%s' % kv for kv in given.items())
        if spec not in specs:
            specs.append(spec)
    return specs[:MAX_PROBES]


def tool_settings(output):
    """'ssh -G' / 'sshd -T' output → {keyword: [values in order]} (some keywords repeat)."""
    result = {}
    for line in output.splitlines():
        key, _sep, value = line.partition(' ')
        if key:
            result.setdefault(key.lower(), []).append(value)
    return result


def collateral_changes(before, after, managed):
    """Keywords other than ``managed`` whose effective values differ between two tool outputs."""
    skip = set(k.lower() for k in managed)
    old, new = tool_settings(before), tool_settings(after)
    return sorted(k for k in set(old) | set(new) if k not in skip and old.get(k) != new.get(k))


# Keywords ssh computes from others when no file sets them (OpenSSH ssh.c: UpdateHostKeys defaults to yes only
# without VerifyHostKeyDNS and with no or only the default user known_hosts file).  Each maps to its sources and
# to pins: source values forced with -o on both sides of the check, one set per default the keyword can take,
# so that a difference left under every pin can only come from the keyword's own lines.
DERIVED = {
    'updatehostkeys': (('userknownhostsfile', 'verifyhostkeydns'),
                       (('UserKnownHostsFile=~/.ssh/known_hosts', 'VerifyHostKeyDNS=no'),
                        ('UserKnownHostsFile=/dev/null', 'VerifyHostKeyDNS=no'))),
}


def derived_suspects(before, after, changed, managed):
    """{keyword: pins} for the changed derived keywords whose sources changed, all of them managed: their
    difference may be the requested change itself, to be told apart by rerunning with the pins."""
    skip = set(k.lower() for k in managed)
    old, new = tool_settings(before), tool_settings(after)
    suspects = {}
    for key in changed:
        if key not in DERIVED:
            continue
        sources, pins = DERIVED[key]
        moved = [s for s in sources if old.get(s) != new.get(s)]
        if moved and all(s in skip for s in moved):
            suspects[key] = pins
    return suspects


def pinned_argv(argv, pin):
    """An 'ssh -G' argv with ``pin`` given as -o options (the command line wins over every file)."""
    options = []
    for setting in pin:
        options += ['-o', setting]
    return argv[:1] + options + argv[1:]
