# -*- coding: utf-8 -*-
"""The no-collateral check's pieces: what OpenSSH is asked, how answers are compared, how errors are told."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.keepalive.ssh.plugins.module_utils.keepalive import (
    DEFAULT_CONNECTION,
    GENERIC_HOSTS,
    HostSpec,
    apply_client,
    client_probe_hosts,
    collateral_changes,
    derived_suspects,
    pinned_argv,
    server_probe_connections,
)
from ansible_collections.keepalive.ssh.plugins.module_utils.sshconf import SSH, SSHD, Document, Tree
from ansible_collections.keepalive.ssh.plugins.module_utils.support import ToolError, _rejection


def tree_of(text, dialect=SSH, path='/home/u/.ssh/config'):
    return Tree(path, dialect, loader=lambda p: Document(text, dialect, p))


def test_probe_hosts_are_every_name_of_every_pattern_then_generic_ones():
    tree = tree_of('Host vinci vinci.example.org\nHost prod-* !prod-db?\nMatch host jump1,!jump2 user x\nHost *\n')
    assert client_probe_hosts(tree) == ['vinci', 'vinci.example.org', 'prod-x', 'prod-dbx', 'jump1', 'jump2',
                                        'x'] + list(GENERIC_HOSTS)


def test_probe_connections_select_each_match_block():
    tree = tree_of('Port 22\nMatch User alice,bob Address 10.1.0.0/16\n  X11Forwarding no\n'
                   'Match Group admins\n  X11Forwarding yes\nMatch LocalPort 2222 Host *.lan\n', SSHD, '/etc/ssh/sshd_config')
    assert server_probe_connections(tree) == [
        DEFAULT_CONNECTION,
        'user=alice,host=localhost,addr=10.1.0.0,laddr=127.0.0.1,lport=22',
        'user=root,host=x.lan,addr=127.0.0.1,laddr=127.0.0.1,lport=2222',
    ]


def test_collateral_changes_ignore_managed_keywords_and_see_repeated_ones():
    before = 'user admin\nport 22\nserveraliveinterval 0\nidentityfile ~/.ssh/a\nidentityfile ~/.ssh/b\n'
    assert collateral_changes(before, before.replace('interval 0', 'interval 30'), ['ServerAliveInterval']) == []
    after = 'user root\nport 22\nserveraliveinterval 30\nidentityfile ~/.ssh/b\nidentityfile ~/.ssh/a\n'
    assert collateral_changes(before, after, ['ServerAliveInterval']) == ['identityfile', 'user']
    assert collateral_changes(before, before + 'proxyjump bastion\n', ['ProxyJump']) == []


def test_errors_in_files_we_do_not_manage_are_reduced_to_file_line_reason():
    text = '/home/u/.ssh/extra line 1: no argument after keyword "root:$6$secret:1"\n/home/u/.ssh/extra: terminating\n'
    error, = ToolError.parse(text, {'/home/u/.ssh/config'})
    assert (error.path, error.number, error.reason) == ('/home/u/.ssh/extra', 1, 'no argument after keyword')
    assert 'secret' not in error.place() + error.reason
    mine, = ToolError.parse('/home/u/.ssh/config: line 2: Bad configuration option: colour\n', {'/home/u/.ssh/config'})
    assert (mine.reason, mine.unknown) == ('Bad configuration option: colour', 'colour')


def test_sshd_explanation_before_the_error_is_kept_for_managed_files():
    text = 'Unsupported Match attribute Colour\n/etc/ssh/sshd_config line 9: Bad Match condition\n'
    assert ToolError.parse(text, {'/etc/ssh/sshd_config'})[0].reason == \
        'Bad Match condition (Unsupported Match attribute Colour)'
    assert ToolError.parse(text, set())[0].reason == 'Bad Match condition'


SSHD_DEPRECATED_THEN_NO_HOSTKEY = (
    '/etc/ssh/sshd_config line 1: Deprecated option UsePrivilegeSeparation\n'
    '/etc/ssh/sshd_config line 2: Deprecated option RSAAuthentication\n'
    'Unable to load host key: /etc/ssh/ssh_host_ed25519_key\n'
    'sshd: no hostkeys available -- exiting.\n')


def test_sshd_deprecation_warnings_are_not_the_reason_it_fails():
    assert ToolError.parse(SSHD_DEPRECATED_THEN_NO_HOSTKEY, {'/etc/ssh/sshd_config'}) == []
    said = _rejection('sshd', [], None, [(['sshd'], 255, '', SSHD_DEPRECATED_THEN_NO_HOSTKEY)])
    assert said == ('sshd already rejected the configuration before any change: '
                    'Unable to load host key: /etc/ssh/ssh_host_ed25519_key')


def test_sshd_error_after_a_deprecation_warning_is_the_one_named():
    text = ('/etc/ssh/sshd_config line 1: Deprecated option UsePrivilegeSeparation\n'
            '/etc/ssh/sshd_config: line 4: Bad configuration option: NoSuchOption\n'
            '/etc/ssh/sshd_config: terminating, 1 bad configuration options\n')
    errors = ToolError.parse(text, {'/etc/ssh/sshd_config'})
    assert _rejection('sshd', errors, None, []) == (
        'sshd already rejected the configuration before any change: /etc/ssh/sshd_config line 4: Bad '
        'configuration option: NoSuchOption; the installed OpenSSH does not know NoSuchOption: remove or comment '
        'out that line (or install an OpenSSH that supports it), then run again')


def test_every_line_ssh_rejects_is_named_at_once_with_ignore_unknown_for_unknown_options():
    text = ('/home/u/.ssh/config: line 2: Bad configuration option: usekeychain\n'
            '/home/u/.ssh/config line 4: Unsupported option "rsaauthentication"\n'
            '/home/u/.ssh/config: line 5: Bad configuration option: addkeystoagentx\n'
            '/home/u/.ssh/config line 6: invalid time value.\n'
            '/home/u/.ssh/config: terminating, 3 bad configuration options\n')
    errors = ToolError.parse(text, {'/home/u/.ssh/config'})
    assert [e.number for e in errors] == [2, 5, 6]
    assert _rejection('ssh', errors, None, []) == (
        'ssh already rejected the configuration before any change: '
        '/home/u/.ssh/config line 2: Bad configuration option: usekeychain; '
        '/home/u/.ssh/config line 5: Bad configuration option: addkeystoagentx; '
        '/home/u/.ssh/config line 6: invalid time value.; '
        "the installed OpenSSH does not know usekeychain, addkeystoagentx: remove or comment out those lines, "
        "or let ssh skip them with 'IgnoreUnknown usekeychain,addkeystoagentx' above those lines (as for "
        "another OpenSSH's options, such as macOS's UseKeychain), then run again")


def test_candidate_line_numbers_are_mapped_to_the_real_file():
    """Line 9 of the candidate is line 7 of the user's file: a block of 2 lines + blank was added above."""
    tree = tree_of('Host *\n    ServerAliveInterval 300\n\nHost web\n    User w\n    ConnectTimeout 5\n'
                   '    Port 2222\n')
    apply_client(tree, [HostSpec(('web',), {'ServerAliveInterval': 30})])
    lines = tree.main.render().splitlines()
    assert lines[:3] == ['Host web', '    ServerAliveInterval 30', '']
    port = ToolError('/home/u/.ssh/config', lines.index('    Port 2222') + 1, 'bad', {'/home/u/.ssh/config'})
    assert port.place(tree) == '/home/u/.ssh/config line 7'
    added = ToolError('/home/u/.ssh/config', 2, 'bad', {'/home/u/.ssh/config'})
    assert added.place(tree) == '/home/u/.ssh/config, the line we would add at the top'


DEFAULTS = 'userknownhostsfile /root/.ssh/known_hosts /root/.ssh/known_hosts2\nverifyhostkeydns false\n'


def test_derived_keyword_is_a_suspect_only_when_its_managed_sources_changed():
    before = DEFAULTS + 'updatehostkeys true\n'
    own = 'userknownhostsfile /srv/kh\nverifyhostkeydns false\nupdatehostkeys false\n'
    changed = collateral_changes(before, own, ['UserKnownHostsFile'])
    assert changed == ['updatehostkeys']
    assert set(derived_suspects(before, own, changed, ['UserKnownHostsFile'])) == {'updatehostkeys'}
    # a source changed that nobody asked for: reported with it, never explained by it
    assert derived_suspects(before, own, collateral_changes(before, own, []), []) == {}
    # the sources did not change: the difference is the edit's own
    flipped = DEFAULTS + 'updatehostkeys ask\n'
    assert derived_suspects(before, flipped, ['updatehostkeys'], ['UserKnownHostsFile']) == {}


def test_pins_are_command_line_options_before_the_rest():
    argv = ['/usr/bin/ssh', '-G', '-F', '/s/config', '--', 'guarded']
    assert pinned_argv(argv, ('UserKnownHostsFile=/dev/null', 'VerifyHostKeyDNS=no')) == [
        '/usr/bin/ssh', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'VerifyHostKeyDNS=no', '-G', '-F', '/s/config',
        '--', 'guarded']
