"""Verifier: on every simulated host, what sshd and ssh really use after the roles ran."""
import os

import pytest

testinfra_hosts = ['ansible://all']

# Documented profiles (docs/profiles.md): group → (ClientAliveInterval, ClientAliveCountMax).
SERVER = {'bastion': ('30', '20'), 'prod_web': ('120', '5'), 'prod_db': ('120', '5'), 'office': ('30', '10')}
# Default client profiles of every managed user: host name → (ServerAliveInterval, ServerAliveCountMax).
CLIENT = {'bastion': ('30', '20'), 'prod-web1': ('120', '5'), 'db.internal': ('30', '10'), 'example.org': ('60', '10')}


def sshd_T(host, *connection):
    v = host.ansible.get_variables()
    key = os.path.join(v['sshd_keepalive_include_base'], 'ssh_host_ed25519_key')
    argv = '/usr/sbin/sshd -T -f %s -h %s' + (' -C %s' if connection else '')
    return settings(host.check_output(argv, v['sshd_keepalive_config_path'], key, *connection))


def group_of(host):
    groups = host.ansible.get_variables()['group_names']
    return next(g for g in groups if g in SERVER)


def settings(output):
    return dict(line.split(' ', 1) for line in output.splitlines() if ' ' in line)


def test_sshd_uses_the_group_profile(host):
    eff = sshd_T(host)
    assert (eff['clientaliveinterval'], eff['clientalivecountmax']) == SERVER[group_of(host)]
    assert eff['tcpkeepalive'] == 'yes'  # left alone


def test_sshd_was_reloaded_not_restarted(host):
    v = host.ansible.get_variables()
    log = host.file(os.path.join(os.path.dirname(v['sshd_keepalive_include_base'].rstrip('/')), '..', 'log', 'sshd.log'))
    assert log.contains('Received SIGHUP; restarting')
    assert not log.contains('Received signal 15')


@pytest.mark.parametrize('user', ['kaalice', 'kabob', 'kacarol'])
def test_user_configs(host, user):
    v = host.ansible.get_variables()
    path = next(u['path'] for u in v['client_keepalive_users'] if u['name'] == user)
    config = host.file(path)
    existed = v['fleet_user_fixtures'][user] is not None
    # a new file is created 0600; an existing one keeps its mode (the fleet's start with 0644)
    assert config.is_file and config.user == user and config.group == user
    assert config.mode == (0o644 if existed else 0o600)
    ssh_dir = host.file(os.path.dirname(path))
    assert ssh_dir.user == user and ssh_dir.mode == 0o700
    for name, expected in CLIENT.items():
        eff = settings(host.check_output('ssh -G -F %s %s', path, name))
        assert (eff['serveraliveinterval'], eff['serveralivecountmax']) == expected, (name, eff)
    assert settings(host.check_output('ssh -G -F %s db.internal', path))['proxyjump'] == 'bastion'
