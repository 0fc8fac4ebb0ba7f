# -*- coding: utf-8 -*-
"""The lossless parser: round trip over the fixture corpus, and the syntax OpenSSH accepts."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.keepalive.ssh.plugins.module_utils.sshconf import (
    SSH,
    SSHD,
    ConfigError,
    Document,
    Tree,
    match_pattern_list,
    normalize_match,
    quote_arg,
    split_args,
    ssh_header_matches,
)

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures')


def fixture_files():
    out = []
    for dialect in (SSHD, SSH):
        top = os.path.join(FIXTURES, dialect)
        for dirpath, _dirs, files in os.walk(top):
            for name in files:
                out.append(pytest.param(dialect, os.path.join(dirpath, name),
                                        id=os.path.relpath(os.path.join(dirpath, name), FIXTURES)))
    return sorted(out, key=lambda p: p.id)


def test_corpus_is_large_enough():
    assert len(fixture_files()) >= 30


@pytest.mark.parametrize('dialect,path', fixture_files())
def test_round_trip_is_byte_identical(dialect, path):
    with open(path, 'rb') as f:
        data = f.read()
    doc = Document.from_bytes(data, dialect, path)
    assert doc.to_bytes() == data
    assert not doc.changed


def test_round_trip_of_latin1_bytes():
    data = b'# caf\xe9\nPermitRootLogin no\n'
    doc = Document.from_bytes(data, SSHD)
    assert doc.encoding == 'latin-1'
    assert doc.to_bytes() == data


@pytest.mark.parametrize('text,keyword,sep,value,trail,args', [
    ('ClientAliveInterval 60', 'ClientAliveInterval', ' ', '60', '', ['60']),
    ('ClientAliveInterval=60', 'ClientAliveInterval', '=', '60', '', ['60']),
    ('ClientAliveInterval = 60  ', 'ClientAliveInterval', ' = ', '60', '  ', ['60']),
    ('\tclientaliveinterval\t\t60\t# comment', 'clientaliveinterval', '\t\t', '60', '\t# comment', ['60']),
    ('Banner "/etc/my banner"', 'Banner', ' ', '"/etc/my banner"', '', ['/etc/my banner']),
    ('AcceptEnv LANG LC_* # locale', 'AcceptEnv', ' ', 'LANG LC_*', ' # locale', ['LANG', 'LC_*']),
    ('ProxyCommand "ssh -W %h:%p #x"', 'ProxyCommand', ' ', '"ssh -W %h:%p #x"', '', ['ssh -W %h:%p #x']),
    ('Match', 'Match', '', '', '', []),
])
def test_directive_parts(text, keyword, sep, value, trail, args):
    line = Document(text, SSHD).lines[0]
    assert (line.keyword, line.sep, line.value, line.trail, line.args) == (keyword, sep, value, trail, args)
    assert line.key == keyword.lower()


def test_set_value_keeps_style():
    doc = Document('\tClientAliveInterval = 600 # old\r\n', SSHD)
    doc.lines[0].set_value('60')
    assert doc.render() == '\tClientAliveInterval = 60 # old\r\n'


def test_unterminated_quote_is_an_error():
    with pytest.raises(ConfigError):
        Document('Banner "/etc/issue\n', SSHD)


def test_nul_byte_is_an_error():
    with pytest.raises(ConfigError):
        Document('Port 22\0\n', SSHD)


def test_split_args_escapes_and_comments():
    assert split_args('a "b c" d\\"e # rest') == (['a', 'b c', 'd"e'], 12)
    assert split_args('  # only comment') == ([], 0)


@pytest.mark.parametrize('value,rendered', [
    ('60', '60'), ('ssh -W %h:%p bastion', '"ssh -W %h:%p bastion"'), ('a"b', '"a\\"b"'), ('', '""'),
])
def test_quote_arg(value, rendered):
    assert quote_arg(value) == rendered
    assert split_args(rendered)[0] == [value]


def test_blocks_sshd():
    doc = Document('Port 22\n\nMatch User a\n  X11Forwarding no\nMatch all\n', SSHD)
    blocks = doc.blocks()
    assert [(b.kind, b.start, b.end, b.args) for b in blocks] == [
        ('global', 0, 2, []), ('match', 2, 4, ['User', 'a']), ('match', 4, 5, ['all'])]


def test_host_is_not_a_block_in_sshd_config():
    # In sshd_config 'Host' is no keyword; only Match starts a block.
    assert len(Document('Host x\n', SSHD).blocks()) == 1
    assert len(Document('Host x\n', SSH).blocks()) == 2


@pytest.mark.parametrize('name,patterns,expected', [
    ('bastion', ['bastion'], True),
    ('BASTION', ['bastion'], True),
    ('prod-web1', ['prod-*'], True),
    ('prod-', ['prod-?'], False),
    ('web3', ['web*', '!web3'], False),
    ('web3', ['!web3'], False),
    ('a.internal', ['*.internal'], True),
    ('x[1]', ['x[1]'], True),
])
def test_match_pattern_list(name, patterns, expected):
    assert match_pattern_list(name, patterns) is expected


def test_ssh_match_criteria():
    doc = Document('Match host bastion,jump*\nMatch exec "true"\nMatch all\nMatch !host x\n', SSH)
    headers = [doc.lines[i] for i in range(4)]
    assert ssh_header_matches(headers[0], 'jump1') is True
    assert ssh_header_matches(headers[0], 'web') is False
    assert ssh_header_matches(headers[1], 'web') is None
    assert ssh_header_matches(headers[2], 'web') is True
    assert ssh_header_matches(headers[3], 'x') is False
    assert ssh_header_matches(headers[3], 'y') is True


def test_normalize_match():
    assert normalize_match('User alice') == normalize_match('user   alice')
    assert normalize_match('User alice') != normalize_match('User Alice')
    assert normalize_match('All') == ('all',)
    assert normalize_match('Address 10.0.0.0/8 User bob') == ('address', '10.0.0.0/8', 'user', 'bob')


def _write(tmp_path, files):
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def test_include_expanded_in_place_in_lexical_order(tmp_path):
    _write(tmp_path, {
        'sshd_config': 'Include %s/d/*.conf\nClientAliveInterval 1\n' % tmp_path,
        'd/20-b.conf': 'ClientAliveInterval 20\n',
        'd/10-a.conf': 'ClientAliveCountMax 10\n',
        'd/ignored.txt': 'ClientAliveInterval 99\n',
    })
    tree = Tree(str(tmp_path / 'sshd_config'), SSHD)
    seen = [(os.path.basename(d.path), d.lines[i].text) for d, i, _ctx in tree.walk()]
    assert seen == [
        ('sshd_config', 'Include %s/d/*.conf' % tmp_path),
        ('10-a.conf', 'ClientAliveCountMax 10'),
        ('20-b.conf', 'ClientAliveInterval 20'),
        ('sshd_config', 'ClientAliveInterval 1'),
    ]


def test_relative_include_uses_base_dir(tmp_path):
    _write(tmp_path, {'main': 'Include conf.d/*.conf\n', 'conf.d/a.conf': 'Port 2\n'})
    tree = Tree(str(tmp_path / 'main'), SSHD, base_dir=str(tmp_path))
    assert [d.lines[i].text for d, i, _c in tree.walk()] == ['Include conf.d/*.conf', 'Port 2']
    # sshd resolves relative to /etc/ssh, not to the file's directory
    assert Tree(str(tmp_path / 'main'), SSHD).resolve('conf.d/*.conf') == '/etc/ssh/conf.d/*.conf'


def test_include_inside_match_inherits_context(tmp_path):
    _write(tmp_path, {'main': 'Match User a\nInclude %s/inc\nPort 3\n' % tmp_path, 'inc': 'ClientAliveInterval 5\n'})
    tree = Tree(str(tmp_path / 'main'), SSHD)
    ctx = {d.lines[i].text: tuple(h.text for h in c) for d, i, c in tree.walk()}
    assert ctx['ClientAliveInterval 5'] == ('Match User a',)
    assert ctx['Port 3'] == ('Match User a',)


def test_include_loop_is_stopped(tmp_path):
    _write(tmp_path, {'main': 'Include %s/main\n' % tmp_path})
    with pytest.raises(ConfigError, match='too deep'):
        list(Tree(str(tmp_path / 'main'), SSHD).walk())


def test_missing_file_is_empty_and_directory_is_refused(tmp_path):
    assert Document.load(str(tmp_path / 'nope'), SSH).lines == []
    with pytest.raises(ConfigError, match='directory'):
        Document.load(str(tmp_path), SSH)
