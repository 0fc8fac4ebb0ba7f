"""The sshd role against a real sshd over real SSH: reload only on change, never lock anyone out."""
import json
import os

import pytest
import yaml

from kalib import playbook, sshd_T

PLAY = '''
- name: Server keepalive
  hosts: all
  gather_facts: false
  roles:
    - keepalive.ssh.sshd
'''


def config_files(host):
    """Every configuration file of the host's tree (not the backups), with its content."""
    out = {}
    for dirpath, _dirs, files in os.walk(host.etc):
        for name in files:
            if name.endswith('~') or name.startswith('ssh_host_'):
                continue
            with open(os.path.join(dirpath, name)) as f:
                out[os.path.join(dirpath, name)] = f.read()
    return out


def sighups(host):
    with open(host.log) as f:
        return f.read().count('Received SIGHUP; restarting')


def logins_after_reload(host):
    """New logins sshd accepted after its last reload: the play's own connection was opened before it."""
    with open(host.log) as f:
        log = f.read()
    return log[log.rindex('Received SIGHUP; restarting'):].count('Accepted publickey for root')


def write_yaml(path, data):
    path.write_text(yaml.safe_dump(data, default_flow_style=False, sort_keys=False))
    return str(path)


@pytest.fixture
def play(tmp_path):
    path = tmp_path / 'play.yml'
    path.write_text(PLAY)
    return path


@pytest.mark.fleet(size=1, scenarios=['cloud'])
def test_reload_only_on_change_and_new_logins_work(small_fleet, play):
    host = small_fleet.hosts[0]
    rc, out, recap = playbook(play, '-i', small_fleet.inventory)
    assert rc == 0 and recap[host.name]['changed'] >= 1, out
    assert sighups(host) == 1
    assert sshd_T(host.config, host.hostkey)['clientaliveinterval'] == '30'  # bastion-01 → bastion profile
    assert small_fleet.can_login(host)
    rc, out, recap = playbook(play, '-i', small_fleet.inventory)
    assert rc == 0 and recap[host.name]['changed'] == 0, out
    assert sighups(host) == 1  # no change, no reload


@pytest.mark.fleet(size=1, scenarios=['debian'])
def test_config_that_refuses_logins_is_rolled_back(small_fleet, play):
    host = small_fleet.hosts[0]
    before = config_files(host)
    # A deliberately wrong variable: sshd -t accepts it, but nobody may log in any more.
    rc, out, recap = playbook(play, '-i', small_fleet.inventory,
                              '-e', json.dumps({'sshd_keepalive_options': {'AllowUsers': 'nobody'}}))
    assert rc != 0 and recap[host.name]['failed'] == 1, out
    assert 'sshd refused a new SSH login after the keepalive change' in out
    assert 'The login check (a new connection as the inventory configures it) said: timed out' in out
    assert config_files(host) == before           # every file restored
    assert sighups(host) == 2                     # reload with the bad config, reload with the restored one
    assert small_fleet.can_login(host)            # and new logins work again
    assert 'allowusers' not in sshd_T(host.config, host.hostkey)


def backups(host):
    """The backup files of the host's tree, by the file they back up."""
    out = {}
    for dirpath, _dirs, files in os.walk(host.etc):
        for name in files:
            if name.endswith('~'):
                out.setdefault(os.path.join(dirpath, name.split('.')[0]), []).append(name)
    return out


@pytest.mark.fleet(size=1, scenarios=['debian'], port=2472)
def test_match_overrides_make_one_backup_per_file_and_a_rollback_restores_the_state_before(small_fleet, play):
    """The global values and a Match override both change sshd_config: one backup of it per run (the state
    before the run), which is what the rollback restores; older backups beyond sshd_keepalive_backup_keep go."""
    host = small_fleet.hosts[0]
    before = config_files(host)
    overrides = {'sshd_keepalive_match_overrides': [{'match': 'User deploy', 'client_alive_interval': 300}]}
    rc, out, recap = playbook(play, '-i', small_fleet.inventory, '-e', json.dumps(overrides))
    assert rc == 0 and recap[host.name]['failed'] == 0, out
    assert [len(names) for names in backups(host).values()] == [1], backups(host)
    changed = config_files(host)
    refused = dict(overrides, sshd_keepalive_options={'AllowUsers': 'nobody'},
                   sshd_keepalive_match_overrides=[{'match': 'User deploy', 'client_alive_interval': 200}],
                   sshd_keepalive_backup_keep=1)
    rc, out, recap = playbook(play, '-i', small_fleet.inventory, '-e', json.dumps(refused))
    assert rc != 0 and 'sshd refused a new SSH login after the keepalive change' in out, out
    assert config_files(host) == changed and config_files(host) != before  # the state before this run
    assert [len(names) for names in backups(host).values()] == [1], backups(host)  # keep 1: the newest
    assert small_fleet.can_login(host)


@pytest.mark.fleet(size=1, scenarios=['debian'], port=2442)
def test_sshd_not_running_when_a_reload_is_due(small_fleet, play, tmp_path):
    host = small_fleet.hosts[0]
    # Ansible reaches the host through this very sshd, so a crashed sshd is simulated by a reload
    # command that points at a stale pid file (the process is gone), which is what a crash leaves.
    stale = tmp_path / 'stale.pid'
    stale.write_text('999999\n')
    rc, out, recap = playbook(play, '-i', small_fleet.inventory, '-e', json.dumps({
        'sshd_keepalive_reload_command': 'kill -HUP "$(cat %s)"' % stale}))
    assert rc != 0 and recap[host.name]['failed'] == 1, out
    assert 'sshd could not be reloaded' in out and 'Is sshd running?' in out
    assert 'The configuration in place passed sshd -t' in out and host.config in out
    assert sshd_T(host.config, host.hostkey)['clientaliveinterval'] == '30'  # the valid new config stays


@pytest.mark.fleet(size=1, scenarios=['cloud'], port=2452)
def test_login_check_is_a_new_login_on_the_inventory_port_and_key(small_fleet, play):
    # The fleet's inventory: ansible_port 2452 (not 22) and a password-less ansible_ssh_private_key_file.
    host = small_fleet.hosts[0]
    rc, out, recap = playbook(play, '-i', small_fleet.inventory)
    assert rc == 0 and recap[host.name]['changed'] >= 1 and recap[host.name]['failed'] == 0, out
    assert 'Restore the configuration from the backups' not in out  # no false rollback
    assert sighups(host) == 1
    assert logins_after_reload(host) >= 1  # the check logged in anew after the reload


@pytest.mark.fleet(size=2, scenarios=['debian'], port=2462, log_level='DEBUG')
def test_login_check_goes_through_ansible_cfg_ssh_args_proxyjump(small_fleet, play, tmp_path):
    """ansible.cfg's ssh_args name an ssh_config whose alias has HostName, Port and a ProxyJump bastion;
    the inventory only says ansible_host: ALIAS (no port): a hand-built `ssh -p 22 ALIAS` fails here."""
    bastion, target = small_fleet.hosts
    common = ('  User root\n  IdentityFile %s\n  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n'
              '  BatchMode yes\n' % (small_fleet.key, small_fleet.known_hosts))
    ssh_config = tmp_path / 'ssh_config'
    ssh_config.write_text('Host jump\n  HostName %s\n  Port %d\n%s'
                          'Host target-behind-jump\n  HostName %s\n  Port %d\n  ProxyJump jump\n%s'
                          % (bastion.address, bastion.port, common, target.address, target.port, common))
    cfg = tmp_path / 'ansible.cfg'
    cfg.write_text('[ssh_connection]\nssh_args = -F %s -o ControlMaster=auto -o ControlPersist=60s\n'
                   'control_path_dir = %s\npipelining = true\n'
                   % (ssh_config, os.path.join(small_fleet.root, 'cp')))
    host_vars = dict(small_fleet.host_vars(target), ansible_host='target-behind-jump',
                     keepalive_fleet_root=small_fleet.root)
    inventory = write_yaml(tmp_path / 'hosts.yml', {'all': {'hosts': {target.name: host_vars}}})
    with open(bastion.log) as f:
        jumps_before = f.read().count('server_request_direct_tcpip')
    rc, out, recap = playbook(play, '-i', inventory, ANSIBLE_CONFIG=str(cfg))
    assert rc == 0 and recap[target.name]['changed'] >= 1 and recap[target.name]['failed'] == 0, out
    assert 'Restore the configuration from the backups' not in out  # no false rollback
    assert sighups(target) == 1
    assert logins_after_reload(target) >= 1
    with open(bastion.log) as f:
        # the play's connection and the check's new one both went through the bastion
        assert f.read().count('server_request_direct_tcpip') - jumps_before >= 2
