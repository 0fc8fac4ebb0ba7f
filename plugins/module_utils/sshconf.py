# -*- coding: utf-8 -*-
# Copyright: keepalive.ssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lossless model of OpenSSH configuration files (sshd_config and ssh_config).

Pure Python, no Ansible import: the same code serves the modules, the tests and
the benchmark.  A file is a list of :class:`Line` objects; rendering them gives
back the original bytes (comments, blank lines, tabs, CRLF, ``Key=Value``,
quotes, trailing comments, missing final newline).  Only lines that an edit
touches are re-rendered, so diffs stay minimal.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re

SSHD = 'sshd'
SSH = 'ssh'

# OpenSSH stops following Include after this many levels (READCONF_MAX_DEPTH).
MAX_INCLUDE_DEPTH = 16

_DIRECTIVE_RE = re.compile(r'^([ \t]*)([^\s=#"]+)([ \t]*=[ \t]*|[ \t]+|)(.*)$', re.S)
# Arguments without quotes or backslashes (nearly every line): words up to a word that starts with '#'.
_PLAIN_TAIL_RE = re.compile(r'((?:[^ \t#][^ \t]*(?:[ \t]+[^ \t#][^ \t]*)*)?)(.*)$', re.S)


class ConfigError(ValueError):
    """A configuration that OpenSSH itself would refuse, or cannot be read."""


def split_args(text):
    """Split an argument string the way OpenSSH's argv_split() does.

    Returns ``(args, end)`` where ``end`` is the index in ``text`` where the
    arguments stop (everything from there on is whitespace and an optional
    trailing ``# comment``).
    """
    args = []
    i = 0
    end = 0
    n = len(text)
    while i < n:
        while i < n and text[i] in ' \t':
            i += 1
        if i >= n or text[i] == '#':
            break
        arg = []
        quoted = False
        while i < n:
            c = text[i]
            if c == '"':
                quoted = not quoted
            elif c == '\\' and i + 1 < n and text[i + 1] in '"\\':
                i += 1
                arg.append(text[i])
            elif c in ' \t' and not quoted:
                break
            else:
                arg.append(c)
            i += 1
        if quoted:
            raise ConfigError('unterminated quote')  # no text: it may be a line of a file not to echo
        args.append(''.join(arg))
        end = i
    return args, end


def quote_arg(value):
    """Render one argument, quoting it only when OpenSSH needs quotes."""
    value = str(value)
    if value and not re.search(r'[\s"#\\]', value):
        return value
    return '"%s"' % value.replace('\\', '\\\\').replace('"', '\\"')


class Line:
    """One physical line.  ``kind`` is 'blank', 'comment' or 'directive'."""

    __slots__ = ('indent', 'keyword', 'key', 'sep', 'value', 'trail', 'eol', 'kind', 'args', '_raw')

    def __init__(self, raw, eol=''):
        self.eol = eol
        self._raw = raw
        stripped = raw.lstrip(' \t')
        if not stripped or stripped[0] == '#':
            self.kind = 'comment' if stripped else 'blank'
            self.indent = self.keyword = self.key = self.sep = self.value = self.trail = ''
            self.args = []
            return
        m = _DIRECTIVE_RE.match(raw)
        if not m:
            raise ConfigError('cannot parse the line (it starts with a quote or "=")')
        self.kind = 'directive'
        self.indent, self.keyword, self.sep, tail = m.groups()
        self.key = self.keyword.lower()  # OpenSSH keywords are case-insensitive
        self._split(tail)

    def _split(self, tail):
        if '"' in tail or '\\' in tail:
            self.args, end = split_args(tail)
            self.value, self.trail = tail[:end], tail[end:]
        else:
            self.value, self.trail = _PLAIN_TAIL_RE.match(tail).groups()
            self.args = self.value.split()

    @property
    def text(self):
        """The line without its end-of-line characters."""
        if self._raw is not None:
            return self._raw
        return ''.join((self.indent, self.keyword, self.sep, self.value, self.trail))

    def render(self):
        return self.text + self.eol

    def set_value(self, value):
        """Replace the arguments, keeping indentation, separator, keyword case and comment."""
        self.value = value
        self.args, _end = split_args(value)
        if not self.sep:
            self.sep = ' '
        self._raw = None

    def __repr__(self):
        return 'Line(%r)' % self.render()


def make_line(keyword, value, indent='', sep=' ', eol='\n'):
    line = Line('%s%s%s%s' % (indent, keyword, sep, value), eol)
    return line


def parse_lines(text):
    """Split text into :class:`Line` objects at '\\n' only, as OpenSSH's getline() does.

    A '\\r' before the '\\n' belongs to the line ending (CRLF files); any other
    control character stays part of the line.
    """
    pieces = text.split('\n')
    last = pieces.pop()  # after the final '\n': empty, or a last line without newline
    lines = []
    for number, piece in enumerate(pieces + ([last] if last else []), 1):
        try:
            if number > len(pieces):
                lines.append(Line(piece, ''))
            else:
                lines.append(Line(piece[:-1], '\r\n') if piece.endswith('\r') else Line(piece, '\n'))
        except ConfigError as e:
            raise ConfigError('line %d: %s' % (number, e))
    return lines


class Block:
    """A run of lines governed by one condition.

    ``kind`` is 'global' (lines before the first Host/Match), 'host' or
    'match'.  ``start`` is the header's index (or 0 for the global block),
    ``end`` the index after the block's last line.
    """

    __slots__ = ('kind', 'start', 'end', 'args')

    def __init__(self, kind, start, end, args):
        self.kind = kind
        self.start = start
        self.end = end
        self.args = args

    @property
    def header(self):
        return self.kind != 'global'

    def body(self):
        """Indices of the block's own lines (without the header)."""
        return range(self.start + 1 if self.header else self.start, self.end)

    def __repr__(self):
        return 'Block(%s %r %d:%d)' % (self.kind, self.args, self.start, self.end)


class Document:
    """One configuration file: lines plus where it lives."""

    def __init__(self, text, dialect, path=None, encoding='utf-8'):
        if dialect not in (SSH, SSHD):
            raise ValueError('dialect must be %r or %r' % (SSH, SSHD))
        if '\0' in text:
            raise ConfigError('%s contains a NUL byte' % (path or 'config'))
        self.dialect = dialect
        self.path = path
        try:
            self.lines = parse_lines(text)
        except ConfigError as e:
            raise ConfigError('%s %s' % (path or 'config', e))
        self.loaded = list(self.lines)  # the Line objects as read: edits keep them, inserts are new
        self._line_numbers = None
        self.original = text
        self.encoding = encoding

    @classmethod
    def from_bytes(cls, data, dialect, path=None):
        try:
            return cls(data.decode('utf-8'), dialect, path)
        except UnicodeDecodeError:
            # OpenSSH reads bytes; latin-1 maps every byte, so the file still round-trips.
            return cls(data.decode('latin-1'), dialect, path, 'latin-1')

    @classmethod
    def load(cls, path, dialect):
        """Read a file; a missing file is an empty document."""
        if os.path.isdir(path):
            raise ConfigError('%s is a directory, not a config file' % path)
        try:
            with open(path, 'rb') as f:
                return cls.from_bytes(f.read(), dialect, path)
        except FileNotFoundError:
            return cls('', dialect, path)
        except PermissionError as e:
            raise ConfigError('cannot read %s: %s' % (path, e.strerror))

    def render(self):
        return ''.join(line.render() for line in self.lines)

    def loaded_lines(self):
        """The lines as read, before any edit (parsed again: edits change Line objects in place)."""
        return parse_lines(self.original)

    def original_line(self, line):
        """1-based number of ``line`` in the file as it was read, or None for a line an edit added."""
        if self._line_numbers is None:
            self._line_numbers = {id(x): n + 1 for n, x in enumerate(self.loaded)}
        return self._line_numbers.get(id(line))

    def to_bytes(self):
        return self.render().encode(self.encoding)

    @property
    def changed(self):
        return self.render() != self.original

    @property
    def eol(self):
        """The file's dominant line ending, used for inserted lines."""
        crlf = sum(1 for line in self.lines if line.eol == '\r\n')
        return '\r\n' if crlf * 2 > len(self.lines) else '\n'

    def header_keys(self):
        return ('host', 'match') if self.dialect == SSH else ('match',)

    def blocks(self):
        """Split the file into the global block and Host/Match blocks."""
        heads = self.header_keys()
        result = []
        current = Block('global', 0, 0, [])
        for i, line in enumerate(self.lines):
            if line.kind == 'directive' and line.key in heads:
                current.end = i
                result.append(current)
                current = Block(line.key, i, i, list(line.args))
            current.end = i + 1
        current.end = len(self.lines)
        result.append(current)
        return result

    def block_of(self, index):
        for block in self.blocks():
            if block.start <= index < block.end:
                return block
        return None

    def directives(self, block=None):
        rng = block.body() if block is not None else range(len(self.lines))
        return [i for i in rng if self.lines[i].kind == 'directive']

    # -- edit primitives -------------------------------------------------------------
    def ensure_trailing_eol(self):
        """Before appending, make sure the last line ends with a newline."""
        if self.lines and not self.lines[-1].eol:
            self.lines[-1].eol = self.eol
            self.lines[-1]._raw = self.lines[-1].text

    def insert(self, index, lines):
        if index >= len(self.lines):
            self.ensure_trailing_eol()
        self.lines[index:index] = lines

    def delete(self, indices):
        for i in sorted(set(indices), reverse=True):
            del self.lines[i]

    def _style_lines(self, block):
        """(own, kind, every) directive lines a new line in ``block`` takes its style from: the
        block's own, those of each block of the same kind ('Host' blocks for a Host block, else any
        header block; the global block), all of them.  ``kind`` is a list of lists, one per block."""
        skip = self.header_keys() + ('include',)

        def lines_of(b):
            return [self.lines[i] for i in self.directives(b) if self.lines[i].key not in skip]
        own = lines_of(block)
        per_block = [(b.kind, lines_of(b)) for b in self.blocks() if b.header == block.header]
        kind = ([lines for k, lines in per_block if k == block.kind and lines]
                or [lines for _k, lines in per_block if lines])
        every = [self.lines[i] for i in self.directives() if self.lines[i].key not in skip]
        return own, kind, every

    def style(self, block, keyword='ServerAliveInterval'):
        """(indent, separator) for a new ``keyword`` line in ``block``: the file's prevailing style.

        The indentation is the block's own, else the one most blocks of its kind use (each block
        counts once: one long unindented 'Host *' does not outvote the file's tab-indented blocks);
        the separator is the most common one (the block's own when it has two lines or more, else
        its kind's, else a commented-out example block's such as sshd_config's '#Match User
        anoncvs', else the whole file's), except in a file that aligns its values in one column,
        where the separator reaches that column.
        """
        own, kind, every = self._style_lines(block)
        if own:
            indent = _most_common([line.indent for line in own], '')
        else:
            indent = _most_common([_most_common([line.indent for line in lines], '') for lines in kind],
                                  '    ' if block.header else '')
        lines = own if len(own) >= 2 else ([line for lines in kind for line in lines] or every)
        if not kind and block.header:
            example = self._example_separators(block.kind)
            if example:
                return indent, _most_common(example, ' ')
        column, fill = _value_column(lines)
        if column is not None:
            return indent, _fill_to(indent + keyword, column, fill)
        return indent, _most_common([line.sep or ' ' for line in lines], ' ')

    def _example_separators(self, kind):
        """Separators of the lines of a commented-out example block of this kind ('#Match User anoncvs'
        then '#\tX11Forwarding no' ...), the closest sample of how the file writes such a block."""
        header = re.compile(r'^[ \t]*#[ \t]*%s[ \t]+\S' % re.escape(kind), re.I)
        body = re.compile(r'^[ \t]*#[ \t]*[A-Za-z][A-Za-z0-9]*([ \t]*=[ \t]*|[ \t]+)\S')
        seps, inside = [], False
        for line in self.lines:
            if line.kind == 'comment' and header.match(line.text):
                inside = True
                continue
            m = body.match(line.text) if inside and line.kind == 'comment' else None
            if m:
                seps.append(m.group(1))
            else:
                inside = False
        return seps

    def commented_default(self, block, keyword):
        """(index, indent, separator) of a commented-out ``keyword`` line in ``block`` ('#ClientAliveInterval 0').

        The indentation is the comment's own; a comment at the start of the line
        inside a Host/Match block ('#   ForwardAgent no' under 'Host *') gives
        the block's indentation instead, as its other lines have.
        """
        pattern = re.compile(r'^([ \t]*)#[ \t]*%s([ \t]*=[ \t]*|[ \t]+)\S' % re.escape(keyword), re.I)
        for i in block.body():
            m = pattern.match(self.lines[i].text) if self.lines[i].kind == 'comment' else None
            if m:
                lead, sep = m.groups()
                if not lead and block.header:
                    lead = self.style(block, keyword)[0]
                return i, lead, sep
        return None


def _width(text):
    """Display width with tab stops every 8 columns."""
    col = 0
    for ch in text:
        col = (col // 8 + 1) * 8 if ch == '\t' else col + 1
    return col


def _most_common(values, default):
    if not values:
        return default
    return max(sorted(set(values), key=values.index), key=values.count)


def _value_column(lines):
    """(column, fill) when most lines align their values in one column with separators of varying
    width (a tabular file), else (None, None).  ``fill`` is '\t' or ' ', what the aligned lines use."""
    spaced = [line for line in lines if line.sep and '=' not in line.sep]
    if len(spaced) < 3:
        return None, None
    columns = [_width(line.indent + line.keyword + line.sep) for line in spaced]
    column = _most_common(columns, None)
    aligned = [line for line, col in zip(spaced, columns) if col == column]
    if len(aligned) * 10 < len(spaced) * 6 or len(set(line.sep for line in aligned)) < 2:
        return None, None
    tabs = sum(1 for line in aligned if '\t' in line.sep)
    return column, '\t' if tabs * 2 > len(aligned) else ' '


def _fill_to(prefix, column, fill):
    """The separator that moves the value of ``prefix`` to ``column`` (at least one character)."""
    start = _width(prefix)
    if start >= column:
        return fill
    if fill == '\t':
        sep = ''
        while _width(prefix + sep) < column:
            sep += '\t'
        if _width(prefix + sep) == column:
            return sep
    return ' ' * (column - start)


# -- patterns ------------------------------------------------------------------------

def _segment_at(name, i, segment):
    """Does ``segment`` (literal characters and ``?``) match ``name`` at index ``i``?"""
    if i < 0 or i + len(segment) > len(name):
        return False
    if '?' not in segment:
        return name.startswith(segment, i)
    return all(c == '?' or c == name[i + k] for k, c in enumerate(segment))


def _find_segment(name, segment, start, end):
    """Leftmost index >= start where ``segment`` matches and ends by ``end``, or -1."""
    if '?' not in segment:
        return name.find(segment, start, end)
    for i in range(start, end - len(segment) + 1):
        if _segment_at(name, i, segment):
            return i
    return -1


def match_pattern(name, pattern):
    """OpenSSH match_pattern(): only ``*`` and ``?`` are special.

    No backtracking: the pieces between stars are matched leftmost-first in
    order (which is exact for ``*``), so a pattern of thousands of stars costs
    one pass, not the exponential time of a regex or of OpenSSH's recursion.
    """
    if '*' not in pattern:
        return len(name) == len(pattern) and _segment_at(name, 0, pattern)
    pieces = pattern.split('*')
    first, last = pieces[0], pieces[-1]
    tail = len(name) - len(last)
    if len(first) > tail or not _segment_at(name, 0, first) or not _segment_at(name, tail, last):
        return False
    pos = len(first)
    for piece in pieces[1:-1]:
        if piece:
            found = _find_segment(name, piece, pos, tail)
            if found < 0:
                return False
            pos = found + len(piece)
    return True


def match_pattern_list(name, patterns, lower=True):
    """OpenSSH match_pattern_list(): True on a positive match and no negated match.

    Returns True, False, or None for 'negated' (treated as no match).
    """
    if lower:
        name = name.lower()
    matched = False
    for pat in patterns:
        neg = pat.startswith('!')
        body = pat[1:] if neg else pat
        if lower:
            body = body.lower()
        if match_pattern(name, body):
            if neg:
                return False
            matched = True
    return matched


# -- Include expansion -----------------------------------------------------------------

def local_matches(pattern):
    """Files one resolved Include pattern names on this machine, sorted as OpenSSH's glob(3) sorts them."""
    if glob.has_magic(pattern):
        files = sorted(glob.glob(pattern))
    else:
        files = [pattern] if os.path.exists(pattern) else []
    return [f for f in files if not os.path.isdir(f)]


class Tree:
    """A main config file with its Include'd files, expanded in place."""

    def __init__(self, path, dialect, base_dir=None, loader=None, matcher=None, expanduser=None):
        """``loader(path)`` → Document, ``matcher(pattern)`` → files and ``expanduser`` default to this
        machine's filesystem and user; the action plugins pass ones that read a snapshot of the managed host."""
        self.path = path
        self.dialect = dialect
        if base_dir is None:
            base_dir = '/etc/ssh' if dialect == SSHD else os.path.dirname(path)
        self.base_dir = base_dir
        self._loader = loader or (lambda p: Document.load(p, dialect))
        self._matcher = matcher or local_matches
        self._expanduser = expanduser or os.path.expanduser
        self.docs = {}
        self.order = []
        self.main = self.doc(path)

    def doc(self, path):
        if path not in self.docs:
            self.docs[path] = self._loader(path)
            self.order.append(path)
        return self.docs[path]

    def resolve(self, arg):
        """Absolute glob for one Include argument, as OpenSSH resolves it."""
        if arg.startswith('~'):
            arg = self._expanduser(arg)
        if not os.path.isabs(arg):
            arg = os.path.join(self.base_dir, arg)
        return arg

    def include_targets(self, line):
        """Files one Include line reads, in the order OpenSSH reads them."""
        files = []
        for arg in line.args:
            files.extend(self._matcher(self.resolve(arg)))
        return files

    def walk(self, doc=None, context=(), depth=0):
        """Yield ``(doc, index, context)`` for every directive in OpenSSH's reading order.

        ``context`` is a tuple of header Lines (Host/Match) that must all
        apply for the directive to count; ``()`` means unconditional.
        """
        doc = doc or self.main
        if depth > MAX_INCLUDE_DEPTH:
            raise ConfigError('Include nested too deep at %s' % doc.path)
        heads = doc.header_keys()
        current = context
        for i, line in enumerate(doc.lines):
            if line.kind != 'directive':
                continue
            if line.key in heads:
                current = context + (line,)
                yield doc, i, current
            elif line.key == 'include':
                yield doc, i, current
                for target in self.include_targets(line):
                    yield from self.walk(self.doc(target), current, depth + 1)
            else:
                yield doc, i, current

    def changed_docs(self):
        return [self.docs[p] for p in self.order if self.docs[p].changed]

    def files(self):
        """Every file of the tree, main first, as read."""
        list(self.walk())
        return list(self.order)


def ssh_header_matches(header, hostname):
    """Does an ssh_config header apply to ``hostname``?  True, False or None (unknown).

    ``Match`` with criteria that depend on run time (exec, user, localnetwork…)
    answers None; callers warn instead of guessing.
    """
    if header.key == 'host':
        return match_pattern_list(hostname, header.args)
    args = list(header.args)
    result = True
    i = 0
    while i < len(args):
        raw = args[i]
        neg = raw.startswith('!')
        crit = (raw[1:] if neg else raw).lower()
        if crit in ('all', 'canonical', 'final'):
            ok = True if crit == 'all' else None
            i += 1
        elif crit in ('host', 'originalhost') and i + 1 < len(args):
            ok = match_pattern_list(hostname, args[i + 1].split(','))
            i += 2
        else:
            ok = None
            i += 2
        if ok is not None and neg:
            ok = not ok
        if ok is False:
            return False
        if ok is None:
            result = None
    return result


def context_matches(context, hostname):
    """All headers in ``context`` apply: True, False or None (unknown)."""
    result = True
    for header in context:
        ok = ssh_header_matches(header, hostname)
        if ok is False:
            return False
        if ok is None:
            result = None
    return result


def normalize_match(criteria):
    """Canonical form of Match criteria, so 'User alice' and 'user  alice' name one block.

    Criteria names are case-insensitive, their values are not.
    """
    args = split_args(criteria)[0] if isinstance(criteria, str) else list(criteria)
    out = []
    i = 0
    while i < len(args):
        name = args[i].lower()
        out.append(name)
        if name.lstrip('!') in ('all', 'canonical', 'final'):
            i += 1
            continue
        if i + 1 < len(args):
            out.append(args[i + 1])
        i += 2
    return tuple(out)
