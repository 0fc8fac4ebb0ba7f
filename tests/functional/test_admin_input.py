"""Admin parameters that end up in a config line or on a command line get the same checks as Host patterns."""
import os

import pytest

from kalib import run_module


def test_match_with_a_newline_writes_nothing(sshd_tree, hostkey):
    config = sshd_tree('debian12')
    before = config.read_text()
    result = run_module('sshd_keepalive', dict(path=str(config), include_base=str(config.parent),
                                               client_alive_interval=60, match='User alice\nPermitRootLogin yes',
                                               validate='/usr/sbin/sshd -t -f %%s -h %s' % hostkey))
    assert result['failed'] and 'match must be a single line' in result['msg']
    assert config.read_text() == before


@pytest.mark.parametrize('drop_in', ['../../etc/evil.conf', 'a/b.conf', '.hidden.conf', 'x\n.conf', '..'])
def test_drop_in_is_a_bare_file_name(tmp_path, drop_in):
    (tmp_path / 'ssh_config.d').mkdir()
    system = tmp_path / 'ssh_config'
    system.write_text('Include %s/ssh_config.d/*.conf\n' % tmp_path)
    result = run_module('client_keepalive', dict(system_config=str(system), drop_in=drop_in,
                                                 hosts=[dict(pattern='*', server_alive_interval=60)]))
    assert result['failed'] and 'drop_in must' in result['msg']
    assert os.listdir(str(tmp_path / 'ssh_config.d')) == []


@pytest.mark.parametrize('pattern', ['-oProxyCommand', '!-x bastion'])
def test_pattern_starting_with_a_dash_is_refused(tmp_path, pattern):
    result = run_module('client_keepalive', dict(path=str(tmp_path / 'config'),
                                                 hosts=[dict(pattern=pattern, server_alive_interval=60)]))
    assert result['failed'] and 'must not start with "-"' in result['msg']
    assert not (tmp_path / 'config').exists()


def test_info_host_names_are_not_options(user):
    result = run_module('keepalive_info', dict(path=None, system_config=None, host_names=['-oProxyCommand=x'],
                                               users=[dict(name=user.pw_name)]))
    assert result['failed'] and 'host_names[0] must be one host name not starting with "-"' in result['msg']


def test_connection_values_cannot_add_keys(sshd_tree, hostkey):
    config = sshd_tree('debian12')
    result = run_module('keepalive_info', dict(path=str(config), include_base=str(config.parent),
                                               connection=dict(user='alice,host=evil')))
    assert result['failed'] and 'connection.user must be one word' in result['msg']


@pytest.mark.parametrize('host', [dict(pattern='*', options={'NoSuchKey': 1}),
                                  dict(pattern='foo,-F/etc/shadow', server_alive_interval=60)],
                         ids=['unknown-keyword', 'pattern-ssh-rejects'])
def test_admin_typo_in_a_users_job_fails_the_task(user, host):
    """What ssh rejects in the requested blocks alone is the admin's error: the task fails saying so,
    instead of every user's candidate being rejected and every user skipped."""
    result = run_module('client_keepalive', dict(users=[dict(name=user.pw_name, hosts=[host])]))
    assert result.get('failed') and 'users[0].hosts' in result['msg'] and not result.get('skipped_users'), result
    assert 'ssh rejects the requested blocks on their own' in result['msg'], result
    assert not os.path.exists(os.path.join(user.pw_dir, '.ssh', 'config'))
