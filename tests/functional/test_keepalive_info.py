"""keepalive_info: effective values from sshd -T / ssh -G, their sources, drift, and clear failures."""
import os

from kalib import SSHD, reachable_by_users, run_module


def info_args(config, hostkey, **kw):
    # sshd -T needs a host key: point the tree at the session's key
    with open(str(config)) as f:
        text = f.read()
    if 'HostKey' not in text:
        with open(str(config), 'w') as f:
            f.write('HostKey %s\n' % hostkey + text)
    return dict(path=str(config), include_base=str(config.parent), sshd_binary=SSHD, system_config='', **kw)


def test_server_values_and_where_they_come_from(sshd_tree, hostkey):
    config = sshd_tree('ubuntu2204-cloud-two-dropins')
    result = run_module('keepalive_info', info_args(config, hostkey))
    assert result['changed'] is False and result['sshd']['version'].startswith('OpenSSH_')
    assert result['sshd']['effective'] == {'clientaliveinterval': '120', 'clientalivecountmax': '2',
                                           'tcpkeepalive': 'yes'}
    src = result['sshd']['sources']['ClientAliveInterval']
    assert src['file'].endswith('60-cloudimg-settings.conf') and src['line'] == 2


def test_shadowed_lines_are_listed(sshd_tree, hostkey):
    config = sshd_tree('duplicates')
    result = run_module('keepalive_info', info_args(config, hostkey))
    shadowed = result['sshd']['sources']['ClientAliveInterval']['shadowed']
    assert [s['value'] for s in shadowed] == ['600', '900']


def test_connection_spec_evaluates_match_blocks(sshd_tree, hostkey):
    config = sshd_tree('match-blocks')
    conn = dict(user='deploy', host='h', addr='192.0.2.1')
    result = run_module('keepalive_info', info_args(config, hostkey, connection=conn))
    assert result['sshd']['effective']['clientalivecountmax'] == '2'
    assert result['sshd']['connection'] == {'user': 'deploy', 'host': 'h', 'addr': '192.0.2.1'}


def test_drift_against_expectations(sshd_tree, hostkey):
    config = sshd_tree('ubuntu2404-cloud')
    result = run_module('keepalive_info', info_args(config, hostkey, expect_server=dict(client_alive_interval=60)))
    assert result['compliant'] is False
    assert result['drift'] == ['sshd: ClientAliveInterval is 0, expected 60 (from %s:2)'
                               % os.path.join(str(config.parent), 'sshd_config.d', '50-cloud-init.conf')]


def test_an_expected_firewall_timeout_expects_the_interval_this_sshd_version_derives(sshd_tree, hostkey):
    """The audit of a profile defined by its firewall (nat_idle_timeout 300, no interval): this machine's sshd 9.2
    sends a keepalive every 2 x ClientAliveInterval, so 120 is compliant and 240 (right for 8.4 and 10.x) is not."""
    config = sshd_tree('ubuntu2404-cloud')
    dropin = os.path.join(str(config.parent), 'sshd_config.d', '50-cloud-init.conf')
    expect = dict(client_alive_interval=None, client_alive_count_max=None, nat_idle_timeout=300)
    for value, compliant in (('120', True), ('240', False)):
        with open(dropin, 'w') as f:
            f.write('ClientAliveInterval %s\n' % value)
        result = run_module('keepalive_info', info_args(config, hostkey, expect_server=expect))
        assert result['sshd']['version'].startswith('OpenSSH_9.2')
        assert result['compliant'] is compliant, result['drift']


def test_client_values_user_then_system_file(tmp_path, user):
    ssh_dir = os.path.join(user.pw_dir, '.ssh')
    os.makedirs(ssh_dir)
    with open(os.path.join(ssh_dir, 'config'), 'w') as f:
        f.write('Host bastion\n    ServerAliveInterval 30\n')
    os.chown(os.path.join(ssh_dir, 'config'), user.pw_uid, user.pw_gid)
    # both files are read as the user, as their own ssh reads them: the system file must be readable
    reachable_by_users(tmp_path)
    system = tmp_path / 'ssh_config'
    system.write_text('Host *\n    ServerAliveInterval 90\n    ServerAliveCountMax 7\n')
    result = run_module('keepalive_info', dict(path='', system_config=str(system), host_names=['other'], users=[
        dict(name=user.pw_name, expect=[dict(pattern='bastion', server_alive_interval=30, server_alive_count_max=20)])]))
    hosts = result['clients'][user.pw_name]['hosts']
    expected = {'value': '30', 'file': os.path.join(ssh_dir, 'config'), 'line': 2, 'uncertain': []}
    assert hosts['bastion']['ServerAliveInterval'] == expected
    assert hosts['bastion']['ServerAliveCountMax']['value'] == '7'  # from the system file, read second
    assert hosts['other']['ServerAliveInterval']['value'] == '90'
    assert result['drift'] == ['%s: ServerAliveCountMax for bastion is 7, expected 20 (from %s:3)'
                               % (user.pw_name, system)]


def test_missing_sshd_is_a_clear_error(tmp_path):
    result = run_module('keepalive_info', dict(path=str(tmp_path / 'x'), sshd_binary='/nonexistent/sshd'))
    assert result['failed'] and 'sshd_binary=/nonexistent/sshd is not an executable file' in result['msg']


def test_unparsable_config_fails_with_opensshs_words(sshd_tree, hostkey):
    config = sshd_tree('debian12')
    with open(str(config), 'a') as f:
        f.write('ClientAliveInterval banana\n')
    result = run_module('keepalive_info', info_args(config, hostkey))
    assert result['failed'] and result['msg'].startswith('sshd -T could not read %s:' % config)
    assert 'banana' in result['msg'] or 'invalid time value' in result['msg']


def test_check_mode_is_supported(sshd_tree, hostkey):
    config = sshd_tree('debian12')
    result = run_module('keepalive_info', info_args(config, hostkey), check=True)
    assert result['changed'] is False and 'sshd' in result
