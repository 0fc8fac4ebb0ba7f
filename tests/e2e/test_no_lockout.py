"""The sshd role against a real sshd over real SSH: reload only on change, never lock anyone out."""
import json
import os

import pytest

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
                              '-e', json.dumps({'keepalive_sshd_options': {'AllowUsers': 'nobody'}}))
    assert rc != 0 and recap[host.name]['failed'] == 1, out
    assert 'sshd refused a new SSH login after the keepalive change' in out
    assert config_files(host) == before           # every file restored
    assert sighups(host) == 2                     # reload with the bad config, reload with the restored one
    assert small_fleet.can_login(host)            # and new logins work again
    assert 'allowusers' not in sshd_T(host.config, host.hostkey)


@pytest.mark.fleet(size=1, scenarios=['debian'], port=2442)
def test_sshd_not_running_when_a_reload_is_due(small_fleet, play, tmp_path):
    host = small_fleet.hosts[0]
    # Ansible reaches the host through this very sshd, so a crashed sshd is simulated by a reload
    # command that points at a stale pid file (the process is gone), which is what a crash leaves.
    stale = tmp_path / 'stale.pid'
    stale.write_text('999999\n')
    rc, out, recap = playbook(play, '-i', small_fleet.inventory, '-e', json.dumps({
        'keepalive_sshd_reload_command': 'kill -HUP "$(cat %s)"' % stale}))
    assert rc != 0 and recap[host.name]['failed'] == 1, out
    assert 'sshd could not be reloaded' in out and 'Is sshd running?' in out
    assert 'The configuration in place passed sshd -t' in out and host.config in out
    assert sshd_T(host.config, host.hostkey)['clientaliveinterval'] == '30'  # the valid new config stays
