# -*- coding: utf-8 -*-
"""Golden diffs: where each kind of edit lands, for real-world-shaped files (issue #11).

Each test pins the whole diff (one line of context) of one placement rule of
docs/engine.md, so any change of where or how a line is written shows here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import os
import sys

from ansible_collections.keepalive.ssh.plugins.module_utils.keepalive import (
    HostSpec,
    apply_client,
    apply_server,
    client_effective,
    server_effective,
)
from ansible_collections.keepalive.ssh.plugins.module_utils.sshconf import SSH, SSHD, Document, Tree

HERE = os.path.dirname(__file__)
FIXTURES = os.path.join(HERE, '..', '..', '..', 'fixtures')
sys.path.insert(0, os.path.join(HERE, '..', '..', '..', '..', 'tools'))

from fleet import copy_fixture  # noqa: E402  pylint: disable=wrong-import-position

KEEPALIVE = {'ClientAliveInterval': 60, 'ClientAliveCountMax': 10}


def client(tmp_path, name, *profiles):
    dest = str(tmp_path / name)
    copy_fixture(os.path.join(FIXTURES, 'ssh', name), dest)
    tree = Tree(os.path.join(dest, 'config'), SSH)
    report = apply_client(tree, [HostSpec(tuple(p.split()), {'ServerAliveInterval': i, 'ServerAliveCountMax': c})
                                 for p, i, c in profiles])
    return tree, report


def server(tmp_path, name, settings=None, match=None):
    dest = str(tmp_path / name)
    copy_fixture(os.path.join(FIXTURES, 'sshd', name), dest)
    tree = Tree(os.path.join(dest, 'sshd_config'), SSHD, base_dir=dest)
    report = apply_server(tree, settings or KEEPALIVE, match=match)
    return tree, report, dest


def golden(doc, root):
    """The edit as a unified diff with one line of context, tabs shown as <TAB>, trailing blanks cut
    (a blank context line is ' ' in a diff; pep8 refuses it in the expected strings)."""
    name = os.path.relpath(doc.path, root)
    diff = difflib.unified_diff(doc.original.splitlines(True), doc.render().splitlines(True), name, name, n=1)
    return ''.join(line.rstrip(' \n') + '\n' for line in diff).replace('\t', '<TAB>')


def rerun_changes(tree, dialect, run):
    rendered = dict((p, tree.docs[p].render()) for p in tree.order)
    again = Tree(tree.path, dialect, base_dir=tree.base_dir,
                 loader=lambda p: Document(rendered[p], dialect, p) if p in rendered else Document.load(p, dialect))
    run(again)
    return again.changed_docs()


def eff(tree, host):
    got = client_effective(tree, host, ('ServerAliveInterval', 'ServerAliveCountMax', 'User', 'Port'))
    return tuple(got.get(k, {}).get('value') for k in ('ServerAliveInterval', 'ServerAliveCountMax', 'User', 'Port'))


def test_host_star_first_with_a_later_block_that_sets_user(tmp_path):
    """swarm-0 keeps logging in as root on port 2222: a small block goes above Host *, nothing moves."""
    tree, report = client(tmp_path, 'host-star-user-later', ('swarm-0', 30, 20))
    assert eff(tree, 'swarm-0') == ('30', '20', 'admin', '2222')  # Host * sets User first, before and after
    assert eff(tree, 'swarm-1') == ('300', None, 'admin', '2222')
    assert golden(tree.main, str(tmp_path)) == '''\
--- host-star-user-later/config
+++ host-star-user-later/config
@@ -1,2 +1,6 @@
 # ~/.ssh/config of an ops workstation, maintained by hand
+
+Host swarm-0
+    ServerAliveInterval 30
+    ServerAliveCountMax 20

'''
    assert report.notes == ['"Host swarm-0" added before %s:6, which sets ServerAliveInterval first: editing '
                            '"Host swarm-0 swarm-1" (%s:11) instead would change its other names too, for nothing'
                            % (tree.main.path, tree.main.path)]
    assert rerun_changes(tree, SSH, lambda t: apply_client(t, [HostSpec(('swarm-0',), {
        'ServerAliveInterval': 30, 'ServerAliveCountMax': 20})])) == []


def test_exact_block_after_host_star_keeps_its_place(tmp_path):
    """'Host bastion' (User jump) stays below Host *; its dead ServerAlive lines would be removed."""
    tree, report = client(tmp_path, 'host-star-user-later', ('bastion', 30, 20))
    assert eff(tree, 'bastion') == ('30', '20', 'admin', None)  # Host * sets User first, before and after
    assert golden(tree.main, str(tmp_path)) == '''\
--- host-star-user-later/config
+++ host-star-user-later/config
@@ -1,2 +1,6 @@
 # ~/.ssh/config of an ops workstation, maintained by hand
+
+Host bastion
+    ServerAliveInterval 30
+    ServerAliveCountMax 20

'''
    assert 'no block was moved' in report.notes[0]


def test_block_whose_pattern_list_contains_the_pattern_is_extended(tmp_path):
    tree, report = client(tmp_path, 'aliases', ('vinci', 30, 20))
    assert eff(tree, 'vinci') == eff(tree, 'vinci.example.org') == ('30', '20', 'leonardo', None)
    assert golden(tree.main, str(tmp_path)) == '''\
--- aliases/config
+++ aliases/config
@@ -4,2 +4,4 @@
     ForwardAgent yes
+    ServerAliveInterval 30
+    ServerAliveCountMax 20

'''
    assert report.notes == ['"Host vinci" is part of "Host vinci vinci.example.org" (%s:1): ServerAliveInterval, '
                            'ServerAliveCountMax applies to vinci.example.org too' % tree.main.path]
    assert rerun_changes(tree, SSH, lambda t: apply_client(t, [HostSpec(('vinci',), {
        'ServerAliveInterval': 30, 'ServerAliveCountMax': 20})])) == []


def test_file_without_host_blocks_is_edited_in_place(tmp_path):
    tree, report = client(tmp_path, 'no-host-blocks', ('*', 60, 10))
    assert golden(tree.main, str(tmp_path)) == '''\
--- no-host-blocks/config
+++ no-host-blocks/config
@@ -2,4 +2,5 @@
 ForwardAgent no
-ServerAliveInterval 120
+ServerAliveInterval 60
 HashKnownHosts yes
 IdentitiesOnly yes
+ServerAliveCountMax 10
'''
    assert report.notes == [] and report.warnings == []


def test_new_block_goes_above_the_comment_paragraph_of_host_star(tmp_path):
    tree, _report = client(tmp_path, 'comment-paragraph', ('bastion', 30, 20))
    assert golden(tree.main, str(tmp_path)) == '''\
--- comment-paragraph/config
+++ comment-paragraph/config
@@ -5,2 +5,6 @@
     IdentityFile ~/.ssh/id_gitlab
+
+Host bastion
+    ServerAliveInterval 30
+    ServerAliveCountMax 20

'''
    assert ('    ServerAliveCountMax 20\n\n# Basic Settings\n# (keep connections to everything else alive for the VPN)\n'
            'Host *\n') in tree.main.render()
    assert eff(tree, 'bastion')[:2] == ('30', '20')


def test_new_block_goes_above_a_comment_paragraph_set_off_by_blank_lines(tmp_path):
    """'# ---- Defaults ----', a blank line, then 'Host *': the heading stays with its block; the file's own
    header (nothing but comments above it) stays at the top."""
    tree, _report = client(tmp_path, 'comment-paragraph-apart', ('bastion', 30, 20))
    assert golden(tree.main, str(tmp_path)) == '''\
--- comment-paragraph-apart/config
+++ comment-paragraph-apart/config
@@ -11,2 +11,6 @@

+Host bastion
+    ServerAliveInterval 30
+    ServerAliveCountMax 20
+
 # ---- Defaults for everything else ----
'''
    assert tree.main.render().startswith('# ~/.ssh/config of a developer laptop\n')
    assert eff(tree, 'bastion')[:2] == ('30', '20')


def test_new_block_is_indented_as_most_host_blocks_not_as_one_long_flat_one(tmp_path):
    """Three tab-indented Host blocks and an unindented 'Host *' with more lines than all of them."""
    tree, _report = client(tmp_path, 'tab-blocks-flat-star', ('bastion', 30, 20))
    assert golden(tree.main, str(tmp_path)) == '''\
--- tab-blocks-flat-star/config
+++ tab-blocks-flat-star/config
@@ -12,2 +12,6 @@

+Host bastion
+<TAB>ServerAliveInterval 30
+<TAB>ServerAliveCountMax 20
+
 Host *
'''


def test_new_match_block_takes_its_separator_from_the_files_match_example(tmp_path):
    """Right under '#Match User anoncvs' / '#<TAB>X11Forwarding no' (a space), not the tab of 'Subsystem<TAB>sftp'."""
    tree, _report, dest = server(tmp_path, 'match-example-space', match='User deploy')
    assert golden(tree.main, dest) == '''\
--- sshd_config
+++ sshd_config
@@ -17 +17,5 @@
 #<TAB>ForceCommand cvs server
+
+Match User deploy
+    ClientAliveInterval 60
+    ClientAliveCountMax 10
'''


def test_aligned_columns_are_kept(tmp_path):
    tree, _report = client(tmp_path, 'aligned-columns', ('build-*', 30, 20))
    assert golden(tree.main, str(tmp_path)) == '''\
--- aligned-columns/config
+++ aligned-columns/config
@@ -5,2 +5,4 @@
     ProxyJump               bastion
+    ServerAliveInterval     30
+    ServerAliveCountMax     20

'''


def test_line_after_commented_default_copies_its_tab(tmp_path):
    tree, _report, dest = server(tmp_path, 'commented-tab')
    assert golden(tree.main, dest) == '''\
--- sshd_config
+++ sshd_config
@@ -9,3 +9,5 @@
 #ClientAliveInterval<TAB>0
+ClientAliveInterval<TAB>60
 #ClientAliveCountMax<TAB>3
+ClientAliveCountMax<TAB>10
 #UseDNS no
'''


def test_tabular_sshd_config_gets_values_in_the_same_column(tmp_path):
    """'Port<TAB><TAB><TAB>22' must not lend its three tabs: column 24 is reached with one."""
    tree, _report, dest = server(tmp_path, 'aligned-tabs')
    assert golden(tree.main, dest) == '''\
--- sshd_config
+++ sshd_config
@@ -8 +8,3 @@
 Subsystem<TAB><TAB>sftp /usr/lib/openssh/sftp-server
+ClientAliveInterval<TAB>60
+ClientAliveCountMax<TAB>10
'''


def test_cloud_init_dropin_is_edited_where_sshd_reads_it(tmp_path):
    tree, report, dest = server(tmp_path, 'cloud-init-dropin')
    main, dropin = tree.changed_docs()
    assert golden(main, dest) == '''\
--- sshd_config
+++ sshd_config
@@ -13,2 +13,3 @@
 #ClientAliveCountMax 3
+ClientAliveCountMax 10

'''
    assert golden(dropin, dest) == '''\
--- sshd_config.d/50-cloud-init.conf
+++ sshd_config.d/50-cloud-init.conf
@@ -1,2 +1,2 @@
 PasswordAuthentication no
-ClientAliveInterval 120
+ClientAliveInterval 60
'''
    assert server_effective(tree)['ClientAliveInterval']['file'] == dropin.path
    assert report.notes == ['ClientAliveInterval is set in %s because that file is read first' % dropin.path]


def test_globals_after_match_go_before_the_first_match(tmp_path):
    tree, report, dest = server(tmp_path, 'match-then-globals')
    assert golden(tree.main, dest) == '''\
--- sshd_config
+++ sshd_config
@@ -4,3 +4,5 @@
 #ClientAliveInterval 0
+ClientAliveInterval 60
 UsePAM yes
+ClientAliveCountMax 10

'''
    assert report.warnings == ['ClientAliveCountMax at %s:12 is inside "Match User deploy" (everything after a '
                               'Match line belongs to it); if it was meant to be global it has no global effect'
                               % tree.main.path]


def test_commented_default_inside_a_host_block_takes_the_blocks_indentation(tmp_path):
    path = tmp_path / 'config'
    path.write_text('Host *\n#   ServerAliveInterval 0\n    SendEnv LANG LC_*\n')
    tree = Tree(str(path), SSH)
    apply_client(tree, [HostSpec(('*',), {'ServerAliveInterval': 60})])
    assert tree.main.render() == 'Host *\n#   ServerAliveInterval 0\n    ServerAliveInterval 60\n    SendEnv LANG LC_*\n'


def test_commented_default_with_a_space_after_the_hash_is_not_indented(tmp_path):
    path = tmp_path / 'sshd_config'
    path.write_text('Port 22\n# ClientAliveInterval 0\n')
    tree = Tree(str(path), SSHD, base_dir=str(tmp_path))
    apply_server(tree, {'ClientAliveInterval': 60})
    assert tree.main.render() == 'Port 22\n# ClientAliveInterval 0\nClientAliveInterval 60\n'
