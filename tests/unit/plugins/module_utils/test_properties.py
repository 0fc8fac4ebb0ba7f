# -*- coding: utf-8 -*-
"""Property tests: parse→render is the identity, edits are idempotent and take effect."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.keepalive.ssh.plugins.module_utils.keepalive import (
    HostSpec,
    apply_client,
    apply_server,
    client_effective,
    server_effective,
)
from ansible_collections.keepalive.ssh.plugins.module_utils.sshconf import SSH, SSHD, Document, Tree

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ws = st.sampled_from(['', ' ', '  ', '\t', ' \t'])
sep = st.sampled_from([' ', '\t', '=', ' = ', '  ', '= ', '\t\t'])
eol = st.sampled_from(['\n', '\r\n'])
word = st.text(alphabet='abcdefghijklmnopqrstuvwxyz0123456789-_.*/%:', min_size=1, max_size=8)
value = st.one_of(word, word.map(lambda w: '"%s x"' % w), st.integers(0, 100000).map(str))
comment = st.text(alphabet=st.characters(blacklist_categories=('Cs', 'Cc')), max_size=20).map(lambda t: '#' + t)
keyword = st.sampled_from(['ClientAliveInterval', 'ClientAliveCountMax', 'TCPKeepAlive', 'PermitRootLogin',
                           'ServerAliveInterval', 'ServerAliveCountMax', 'User', 'HostName', 'X11Forwarding'])
any_case = keyword.flatmap(lambda k: st.sampled_from([k, k.lower(), k.upper()]))


@st.composite
def directive(draw, keywords=any_case):
    trail = draw(st.one_of(st.just(''), ws, st.tuples(ws.filter(bool), comment).map(''.join)))
    return '%s%s%s%s%s' % (draw(ws), draw(keywords), draw(sep), draw(value), trail)


@st.composite
def header(draw, dialect):
    if dialect == SSHD:
        return 'Match %s %s' % (draw(st.sampled_from(['User', 'Group', 'Address'])), draw(word))
    kind = draw(st.sampled_from(['Host', 'Match host']))
    return '%s %s' % (kind, draw(st.sampled_from(['*', 'bastion', 'prod-*', 'web1 web2 !web3', 'a,b'])))


@st.composite
def config(draw, dialect):
    lines = draw(st.lists(st.one_of(directive(), comment, ws, header(dialect)), max_size=30))
    text = ''.join(line + draw(eol) for line in lines)
    if text and draw(st.booleans()):
        text = text.rstrip('\r\n')  # no final newline
    return text


@SETTINGS
@given(st.sampled_from([SSH, SSHD]).flatmap(lambda d: st.tuples(st.just(d), config(d))))
def test_parse_render_is_identity(case):
    dialect, text = case
    assert Document(text, dialect).render() == text


def _tree(path, text, dialect):
    return Tree(path, dialect, loader=lambda p: Document(text, dialect, p))


@SETTINGS
@given(config(SSHD), st.integers(0, 100000), st.integers(0, 1000), st.sampled_from([None, 'User alice']))
def test_server_edit_takes_effect_and_is_idempotent(tmp_path_factory, text, interval, count, match):
    path = str(tmp_path_factory.mktemp('s') / 'sshd_config')
    want = {'ClientAliveInterval': interval, 'ClientAliveCountMax': count}
    tree = _tree(path, text, SSHD)
    apply_server(tree, want, match=match)
    eff = server_effective(tree, match=match)
    assert {k: eff[k]['value'] for k in want} == {k: str(v) for k, v in want.items()}
    once = tree.main.render()
    again = _tree(path, once, SSHD)
    apply_server(again, want, match=match)
    assert again.main.render() == once


@SETTINGS
@given(config(SSH), st.lists(st.sampled_from(['*', 'bastion', 'prod-*', 'db1', '*.internal']), min_size=1,
                             max_size=5, unique=True), st.integers(0, 1000))
def test_client_edit_takes_effect_and_is_idempotent(tmp_path_factory, text, patterns, interval):
    path = str(tmp_path_factory.mktemp('c') / 'config')
    specs = [HostSpec((p,), {'ServerAliveInterval': interval + n, 'ServerAliveCountMax': n})
             for n, p in enumerate(patterns)]
    tree = _tree(path, text, SSH)
    report = apply_client(tree, specs)
    # Every header generated here is decidable and lives in the main file, so all shadowing is fixable.
    assert report.warnings == []
    for spec in specs:
        eff = client_effective(tree, spec.probe)
        assert eff['ServerAliveInterval']['value'] == spec.settings['ServerAliveInterval']
        assert eff['ServerAliveCountMax']['value'] == spec.settings['ServerAliveCountMax']
    once = tree.main.render()
    again = _tree(path, once, SSH)
    apply_client(again, specs)
    assert again.main.render() == once
