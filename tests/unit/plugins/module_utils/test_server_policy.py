# -*- coding: utf-8 -*-
"""apply_server(): values land where sshd reads them first, with minimal, exact diffs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import os
import sys

import pytest

from ansible_collections.keepalive.ssh.plugins.module_utils.keepalive import (
    InputError,
    apply_server,
    server_effective,
)
from ansible_collections.keepalive.ssh.plugins.module_utils.sshconf import SSHD, Tree

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'sshd')
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'tools'))

from fleet import copy_fixture  # noqa: E402  pylint: disable=wrong-import-position
KEEPALIVE = {'ClientAliveInterval': 60, 'ClientAliveCountMax': 10, 'TCPKeepAlive': None}


def materialize(name, tmp_path):
    """Copy a fixture tree and point its /etc/ssh paths at the copy."""
    dest = tmp_path / name
    copy_fixture(os.path.join(FIXTURES, name), str(dest))
    return dest


def tree_of(name, tmp_path):
    dest = materialize(name, tmp_path)
    return Tree(str(dest / 'sshd_config'), SSHD, base_dir=str(dest)), dest


def changes(doc):
    """Only the +/- lines of the diff: what an edit really touched."""
    diff = difflib.unified_diff(doc.original.splitlines(True), doc.render().splitlines(True), n=0)
    return [line for line in diff if line[:1] in '+-' and line[:3] not in ('+++', '---')]


def rerun_is_noop(dest, settings, **kw):
    tree = Tree(str(dest / 'sshd_config'), SSHD, base_dir=str(dest))
    apply_server(tree, settings, **kw)
    return tree.changed_docs() == []


def write(tree):
    for doc in tree.changed_docs():
        with open(doc.path, 'wb') as f:
            f.write(doc.to_bytes())


def test_debian_stock_inserts_after_commented_defaults(tmp_path):
    tree, dest = tree_of('debian12', tmp_path)
    apply_server(tree, KEEPALIVE)
    assert changes(tree.main) == ['+ClientAliveInterval 60\n', '+ClientAliveCountMax 10\n']
    lines = tree.main.render().splitlines()
    assert lines[lines.index('#ClientAliveInterval 0') + 1] == 'ClientAliveInterval 60'
    assert lines[lines.index('#ClientAliveCountMax 3') + 1] == 'ClientAliveCountMax 10'
    write(tree)
    assert rerun_is_noop(dest, KEEPALIVE)


def test_cloud_init_dropin_wins_so_it_is_edited(tmp_path):
    tree, dest = tree_of('ubuntu2404-cloud', tmp_path)
    report = apply_server(tree, KEEPALIVE)
    dropin = str(dest / 'sshd_config.d' / '50-cloud-init.conf')
    assert [d.path for d in tree.changed_docs()] == [str(dest / 'sshd_config'), dropin]
    assert changes(tree.docs[dropin]) == ['-ClientAliveInterval 0\n', '+ClientAliveInterval 60\n']
    assert changes(tree.main) == ['+ClientAliveCountMax 10\n']
    eff = server_effective(tree)
    assert eff['ClientAliveInterval']['value'] == '60' and eff['ClientAliveInterval']['file'] == dropin
    assert any('50-cloud-init.conf' in n for n in report.notes)
    write(tree)
    assert rerun_is_noop(dest, KEEPALIVE)


def test_two_dropins_first_in_lexical_order_is_edited(tmp_path):
    tree, dest = tree_of('ubuntu2204-cloud-two-dropins', tmp_path)
    apply_server(tree, KEEPALIVE)
    second = str(dest / 'sshd_config.d' / '60-cloudimg-settings.conf')
    assert [os.path.basename(d.path) for d in tree.changed_docs()] == ['60-cloudimg-settings.conf']
    assert changes(tree.docs[second]) == ['-ClientAliveInterval 120\n', '-ClientAliveCountMax 2\n',
                                          '+ClientAliveInterval 60\n', '+ClientAliveCountMax 10\n']


def test_global_value_before_match_is_edited_in_place(tmp_path):
    tree, _dest = tree_of('match-blocks', tmp_path)
    apply_server(tree, KEEPALIVE)
    assert changes(tree.main) == ['-ClientAliveInterval 300\n', '+ClientAliveInterval 60\n',
                                  '+ClientAliveCountMax 10\n']
    lines = tree.main.render().splitlines()
    assert lines.index('ClientAliveCountMax 10') < lines.index('Match Group sftponly')
    # the Match blocks' own values are not global and stay as they are
    assert '    ClientAliveInterval 30' in lines and '    ClientAliveCountMax 2' in lines


def test_global_after_match_is_not_global(tmp_path):
    tree, _dest = tree_of('global-after-match', tmp_path)
    report = apply_server(tree, KEEPALIVE)
    assert changes(tree.main) == ['+ClientAliveInterval 60\n', '+ClientAliveCountMax 10\n']
    lines = tree.main.render().splitlines()
    assert lines[:4] == ['PermitRootLogin prohibit-password', 'PasswordAuthentication no',
                         'ClientAliveInterval 60', 'ClientAliveCountMax 10']
    assert len(report.warnings) == 2 and 'Match User backup' in report.warnings[0]


def test_duplicates_after_the_first_are_removed(tmp_path):
    tree, _dest = tree_of('duplicates', tmp_path)
    apply_server(tree, {'ClientAliveInterval': 60})
    assert changes(tree.main) == ['-ClientAliveInterval 30\n', '+ClientAliveInterval 60\n',
                                  '-ClientAliveInterval 600\n', '-clientaliveinterval 900\n']


@pytest.mark.parametrize('fixture,expected', [
    ('equals-syntax', ['-ClientAliveInterval=45\n', '-ClientAliveCountMax = 4\n',
                       '+ClientAliveInterval=60\n', '+ClientAliveCountMax = 10\n']),
    ('mixed-case', ['-CLIENTALIVEINTERVAL 20\n', '-clientAliveCountMax 9\n',
                    '+CLIENTALIVEINTERVAL 60\n', '+clientAliveCountMax 10\n']),
    ('quoted', ['-ClientAliveInterval "75"\n', '+ClientAliveInterval 60\n', '+ClientAliveCountMax 10\n']),
    ('trailing-comments', ['-ClientAliveInterval 600 # set by old playbook\n',
                           "-ClientAliveCountMax 0 # 'never disconnect', they thought\n",
                           '+ClientAliveInterval 60 # set by old playbook\n',
                           "+ClientAliveCountMax 10 # 'never disconnect', they thought\n"]),
    ('tabs', ['-ClientAliveInterval\t\t15\t# quarter minute\n', '+ClientAliveInterval\t\t60\t# quarter minute\n',
              '+ClientAliveCountMax\t10\n']),
    ('crlf', ['-ClientAliveInterval 10\r\n', '+ClientAliveInterval 60\r\n', '+ClientAliveCountMax 10\r\n']),
    ('no-trailing-newline', ['-X11Forwarding no', '+X11Forwarding no\n', '+ClientAliveInterval 60\n',
                             '+ClientAliveCountMax 10\n']),
    ('empty', ['+ClientAliveInterval 60\n', '+ClientAliveCountMax 10\n']),
    ('comments-only', ['+ClientAliveInterval 60\n', '+ClientAliveCountMax 10\n']),
])
def test_style_of_the_file_is_kept(tmp_path, fixture, expected):
    tree, dest = tree_of(fixture, tmp_path)
    apply_server(tree, KEEPALIVE)
    assert changes(tree.main) == expected
    write(tree)
    assert rerun_is_noop(dest, KEEPALIVE)


def test_tcpkeepalive_untouched_unless_asked(tmp_path):
    tree, _dest = tree_of('tcpkeepalive-set', tmp_path)
    apply_server(tree, KEEPALIVE)
    assert changes(tree.main) == ['-ClientAliveCountMax 3\n', '+ClientAliveCountMax 10\n']
    apply_server(tree, {'TCPKeepAlive': 'yes'})
    assert '+TCPKeepAlive yes\n' in changes(tree.main)


def test_match_scope_edits_that_block_only(tmp_path):
    tree, dest = tree_of('match-blocks', tmp_path)
    apply_server(tree, {'ClientAliveInterval': 15, 'ClientAliveCountMax': 4}, match='user deploy')
    assert changes(tree.main) == ['-    ClientAliveCountMax 2\n', '+    ClientAliveCountMax 4\n',
                                  '+    ClientAliveInterval 15\n']
    text = tree.main.render()
    assert text.endswith('Match User deploy\n    ClientAliveCountMax 4\n    ClientAliveInterval 15\n')
    assert 'ClientAliveInterval 300\n' in text  # global value untouched
    eff = server_effective(tree, match='User deploy')
    assert eff['ClientAliveInterval']['value'] == '15' and eff['ClientAliveCountMax']['value'] == '4'


def test_match_scope_creates_block_at_end(tmp_path):
    tree, _dest = tree_of('debian12', tmp_path)
    apply_server(tree, {'ClientAliveInterval': 20}, match='Group mobile')
    assert changes(tree.main) == ['+\n', '+Match Group mobile\n', '+    ClientAliveInterval 20\n']


def test_match_scope_refuses_global_only_keyword(tmp_path):
    tree, _dest = tree_of('debian12', tmp_path)
    with pytest.raises(InputError, match='TCPKeepAlive cannot be set inside a Match'):
        apply_server(tree, {'TCPKeepAlive': 'no'}, match='User x')
    assert tree.changed_docs() == []


def test_absent_removes_from_every_file_of_the_scope(tmp_path):
    tree, _dest = tree_of('rocky9', tmp_path)
    apply_server(tree, {'ClientAliveInterval': 0, 'ClientAliveCountMax': 0}, state='absent')
    assert [os.path.basename(d.path) for d in tree.changed_docs()] == ['40-keepalive-old.conf']
    assert server_effective(tree) == {}


def test_absent_in_match_removes_an_emptied_block(tmp_path):
    tree, _dest = tree_of('match-blocks', tmp_path)
    apply_server(tree, {'ClientAliveCountMax': 0}, match='User deploy', state='absent')
    assert changes(tree.main) == ['-Match User deploy\n', '-    ClientAliveCountMax 2\n']


def test_include_inside_match_is_in_that_scope(tmp_path):
    tree, dest = tree_of('include-in-match', tmp_path)
    apply_server(tree, {'ClientAliveInterval': 30}, match='User alice')
    assert [os.path.basename(d.path) for d in tree.changed_docs()] == ['alice.conf']
    apply_server(tree, {'ClientAliveInterval': 60})
    assert changes(tree.main) == ['+ClientAliveInterval 60\n']
