# -*- coding: utf-8 -*-
"""apply_client(): Host blocks ordered so ssh applies every managed value, other lines untouched."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil

import pytest

from ansible_collections.keepalive.ssh.plugins.module_utils.keepalive import (
    HostSpec,
    InputError,
    apply_client,
    check_int,
    check_keyword,
    check_patterns,
    check_text,
    client_effective,
    semantic_warnings,
)
from ansible_collections.keepalive.ssh.plugins.module_utils.sshconf import SSH, SSHD, Document, Tree

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'ssh')

PROFILES = (
    ('*', 60, 10),
    ('bastion', 30, 20),
    ('prod-*', 120, 5),
)


def specs(profiles=PROFILES, state='present'):
    return [HostSpec(tuple(p.split()), {'ServerAliveInterval': i, 'ServerAliveCountMax': c}, state)
            for p, i, c in profiles]


def tree_of(name, tmp_path):
    dest = tmp_path / name
    shutil.copytree(os.path.join(FIXTURES, name), str(dest))
    return Tree(str(dest / 'config'), SSH), dest


def tree_from_text(tmp_path, text):
    path = tmp_path / 'config'
    path.write_text(text)
    return Tree(str(path), SSH)


def values(tree, host):
    eff = client_effective(tree, host)
    return tuple(eff.get(k, {}).get('value') for k in ('ServerAliveInterval', 'ServerAliveCountMax'))


def rerun_is_noop(tree, run_specs):
    doc = tree.main
    again = Tree(doc.path, SSH, loader=lambda p: Document(doc.render(), SSH, p) if p == doc.path else Document.load(p, SSH))
    apply_client(again, run_specs)
    return not again.main.changed


def test_host_star_first_is_fixed_by_small_blocks_before_it(tmp_path):
    """The user's blocks stay where they are (moving them would make User, HostName... win over Host *)."""
    tree, _dest = tree_of('host-star-first', tmp_path)
    report = apply_client(tree, specs())
    text = tree.main.render()
    assert text == """Host bastion
    ServerAliveInterval 30
    ServerAliveCountMax 20

Host prod-*
    ServerAliveInterval 120
    ServerAliveCountMax 5

# The common mistake: defaults first
Host *
    ServerAliveInterval 60
    ServerAliveCountMax 10
    AddKeysToAgent yes

Host bastion
    HostName bastion.example.com
    User ops

Host prod-*
    User deploy
"""
    assert values(tree, 'bastion') == ('30', '20')
    assert values(tree, 'prod-web1') == ('120', '5')
    assert values(tree, 'anything') == ('60', '10')
    assert len(report.notes) == 2 and all('added before "Host *"' in n and 'no block was moved' in n
                                          for n in report.notes)
    assert 'ServerAliveInterval in the "Host bastion" at %s:7 would never be read again' % tree.main.path \
        in report.notes[0]
    assert rerun_is_noop(tree, specs())


def test_new_file_gets_specific_blocks_before_host_star(tmp_path):
    tree = tree_from_text(tmp_path, '')
    apply_client(tree, specs(PROFILES + (('prod-web1', 15, 4),)))
    assert tree.main.render() == """Host bastion
    ServerAliveInterval 30
    ServerAliveCountMax 20

Host prod-web1
    ServerAliveInterval 15
    ServerAliveCountMax 4

Host prod-*
    ServerAliveInterval 120
    ServerAliveCountMax 5

Host *
    ServerAliveInterval 60
    ServerAliveCountMax 10
"""
    assert values(tree, 'prod-web1') == ('15', '4')
    assert values(tree, 'prod-db2') == ('120', '5')


def test_other_blocks_and_comments_are_untouched(tmp_path):
    tree, _dest = tree_of('many-hosts', tmp_path)
    original = tree.main.original
    apply_client(tree, specs())
    new = tree.main.render()
    # every original line is still there, in order; only our lines were added
    it = iter(new.splitlines())
    assert all(any(line == got for got in it) for line in original.splitlines())
    assert new.index('Host bastion') < new.index('Host *\n')
    assert new.count('\n') == original.count('\n') + 10


def test_global_keyword_before_first_host_is_relocated(tmp_path):
    tree, _dest = tree_of('global-before-host', tmp_path)
    assert values(tree, 'bastion')[0] == '5'  # the trap: the global line wins over Host bastion
    report = apply_client(tree, specs([('bastion', 30, 20)]))
    assert values(tree, 'bastion') == ('30', '20')
    assert values(tree, 'other')[0] == '5'  # other hosts keep what they had
    assert tree.main.render() == """ForwardAgent no

Host bastion
    ServerAliveInterval 30
    ServerAliveCountMax 20

Host *
    ServerAliveInterval 5
"""
    assert any('moved from the top' in n for n in report.notes)


def test_global_keyword_is_dropped_when_host_star_is_managed(tmp_path):
    tree, _dest = tree_of('global-before-host', tmp_path)
    apply_client(tree, specs())
    assert values(tree, 'other') == ('60', '10')
    assert 'ServerAliveInterval 5' not in tree.main.render()
    assert rerun_is_noop(tree, specs())


def test_shadowing_in_an_included_file_is_reported(tmp_path):
    tree, _dest = tree_of('include-config-d', tmp_path)
    report = apply_client(tree, specs([('bastion', 30, 20)]))
    assert values(tree, 'bastion') == ('240', '20')
    assert any('20-defaults' in w and 'fix that file by hand' in w for w in report.warnings)


def test_match_exec_is_reported_as_uncertain(tmp_path):
    tree, _dest = tree_of('match-host', tmp_path)
    report = apply_client(tree, specs([('web', 30, 20)]))
    assert any('run-time' in w and 'Match exec' in w for w in report.warnings)


def test_match_host_block_that_sets_a_value_is_moved_after(tmp_path):
    tree, _dest = tree_of('match-host', tmp_path)
    apply_client(tree, specs([('bastion', 30, 20)]))
    assert values(tree, 'bastion') == ('30', '20')
    assert tree.main.render().startswith('Host bastion\n')


def test_negated_patterns_and_multi_pattern_blocks(tmp_path):
    tree, _dest = tree_of('multi-pattern-negation', tmp_path)
    apply_client(tree, specs([('web1 web2 !web3', 45, 3)]))
    assert values(tree, 'web1') == ('45', '3')
    assert tree.main.render().startswith('Host web1 web2 !web3\n    User www\n    ServerAliveInterval 45\n')


def test_crlf_and_tabs_style_is_kept(tmp_path):
    tree, _dest = tree_of('crlf-tabs', tmp_path)
    apply_client(tree, specs([('bastion', 30, 20)]))
    assert tree.main.render() == ('Host\tbastion\r\n\tHostName 10.1.1.1\r\n\tServerAliveInterval=30\r\n'
                                  '\tServerAliveCountMax 20\r\n\r\nHost *\r\n\tUser me\r\n')


def test_options_such_as_proxyjump(tmp_path):
    tree = tree_from_text(tmp_path, '')
    apply_client(tree, [HostSpec(('*.internal',), {'ServerAliveInterval': 30, 'ProxyJump': 'bastion'})])
    assert tree.main.render() == 'Host *.internal\n    ServerAliveInterval 30\n    ProxyJump bastion\n'


def test_absent_removes_managed_keywords_and_empty_blocks(tmp_path):
    tree = tree_from_text(tmp_path, '')
    apply_client(tree, specs())
    text = tree.main.render()
    tree = tree_from_text(tmp_path, text)
    apply_client(tree, specs(state='absent'))
    assert tree.main.render() == ''
    tree, _dest = tree_of('host-star-first', tmp_path)
    apply_client(tree, specs([('bastion', 0, 0)], state='absent'))
    assert 'Host bastion\n    HostName bastion.example.com\n    User ops\n\n' in tree.main.render()


def test_two_space_indent_is_copied(tmp_path):
    tree, _dest = tree_of('two-space-indent', tmp_path)
    apply_client(tree, specs([('gitlab', 60, 3)]))
    assert tree.main.render().endswith('  IdentityFile ~/.ssh/id_gitlab\n  ServerAliveInterval 60\n  ServerAliveCountMax 3\n')


@pytest.mark.parametrize('value', ['bastion\nPermitRootLogin yes', 'a#b', 'x\0y', '', '   ', 'a"b'])
def test_text_with_line_tricks_is_refused(value):
    with pytest.raises(InputError) as err:
        check_patterns('hosts[0].pattern', value)
    assert 'hosts[0].pattern' in str(err.value)


@pytest.mark.parametrize('value,message', [
    (-1, 'between 0 and'), (2 ** 31, 'between 0 and'), ('abc', 'must be an integer'), (True, 'must be an integer'),
    ('1.5', 'must be an integer'), ('', 'must be an integer'),
])
def test_integers_are_checked(value, message):
    with pytest.raises(InputError, match=message):
        check_int('client_alive_interval', value)


def test_integer_strings_and_limits_accepted():
    assert check_int('x', '60') == 60
    assert check_int('x', 2147483647) == 2147483647
    assert check_int('x', None) is None


@pytest.mark.parametrize('key', ['Host', 'match', 'Include', 'Proxy Jump', 'A=b', '1x'])
def test_option_keywords_cannot_open_blocks(key):
    with pytest.raises(InputError):
        check_keyword('hosts[0].options', key)


def test_negation_only_pattern_is_refused():
    with pytest.raises(InputError, match='not negated'):
        check_patterns('p', '!foo')


def test_option_values_are_single_lines():
    assert check_text('v', 'ssh -W %h:%p bastion') == 'ssh -W %h:%p bastion'
    with pytest.raises(InputError):
        check_text('v', 'bastion\r\nUser root')


def test_semantic_warnings():
    assert any('disables keepalive' in w for w in semantic_warnings(0, 3, SSHD))
    assert any('ClientAliveCountMax 0' in w for w in semantic_warnings(60, 0, SSHD))
    assert semantic_warnings(60, 10, SSHD) == []


def test_universal_block_read_before_host_star_gets_the_value(tmp_path):
    # found by hypothesis: 'Match host *' before 'Host *' is read first for every host
    tree = tree_from_text(tmp_path, 'Match host *\n    ServerAliveInterval 00\nHost *\n')
    report = apply_client(tree, specs((('*', 0, 3),)))
    assert tree.main.render() == ('Match host *\n    ServerAliveInterval 0\nHost *\n'
                                  '    ServerAliveInterval 0\n    ServerAliveCountMax 3\n')
    assert values(tree, 'any') == ('0', '3') and report.warnings == []
    assert rerun_is_noop(tree, specs((('*', 0, 3),)))
