"""Role behaviour that needs no running sshd: profile checks, service detection, timing contradictions."""
import json
import os

from kalib import playbook

DETECT = '''
- name: Detect
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Detect the sshd service name the way the role does
      ansible.builtin.include_role:
        name: keepalive.ssh.sshd
        tasks_from: detect_service.yml
    - name: Show it
      ansible.builtin.debug:
        msg: "service={{ keepalive_sshd_detected_service }}"
'''


def run_role(tmp_path, role, extra):
    play = tmp_path / 'play.yml'
    play.write_text('- hosts: localhost\n  connection: local\n  gather_facts: false\n  roles:\n    - %s\n' % role)
    return playbook(play, '-e', json.dumps(extra))


def test_service_name_detected_on_debian(tmp_path):
    # make test installs Debian's openssh-server, whose service is 'ssh' (not 'sshd')
    assert os.path.exists('/etc/init.d/ssh') or os.path.exists('/lib/systemd/system/ssh.service')
    play = tmp_path / 'detect.yml'
    play.write_text(DETECT)
    rc, out, _recap = playbook(play)
    assert rc == 0 and '"msg": "service=ssh"' in out, out


def test_unknown_server_profile_fails_clearly(tmp_path):
    rc, out, _recap = run_role(tmp_path, 'keepalive.ssh.sshd', {'keepalive_sshd_profile': 'nope'})
    assert rc != 0 and 'keepalive_sshd_profile=nope is not a profile; choose one of default, bastion' in out


def test_unknown_client_profile_fails_clearly(tmp_path):
    rc, out, _recap = run_role(tmp_path, 'keepalive.ssh.client', {
        'keepalive_client_users': [{'name': 'root', 'config': str(tmp_path / 'c'), 'profiles': ['bastion', 'mars']}]})
    assert rc != 0 and 'unknown keepalive client profile(s) mars for user root' in out


def test_declared_nat_timeout_contradicting_a_profile_fails(tmp_path):
    (tmp_path / 'h').mkdir()
    rc, out, _recap = run_role(tmp_path, 'keepalive.ssh.client', {
        'keepalive_client_users': [{'name': 'root', 'config': str(tmp_path / 'h' / '.ssh' / 'config'),
                                    'profiles': ['home', 'default']}],
        'keepalive_client_nat_idle_timeout': 300})
    assert rc != 0 and ('users[0].hosts[0].server_alive_interval=300 is not below '
                        'users[0].hosts[0].nat_idle_timeout=300') in out
    assert not (tmp_path / 'h' / '.ssh' / 'config').exists()


def test_nat_timeout_derives_intervals_for_blocks_without_one(tmp_path):
    (tmp_path / 'h').mkdir()
    config = tmp_path / 'h' / '.ssh' / 'config'
    rc, out, _recap = run_role(tmp_path, 'keepalive.ssh.client', {
        'keepalive_client_users': [{'name': 'root', 'config': str(config), 'profiles': ['default'],
                                    'hosts': [{'pattern': 'legacy-*'}]}],
        'keepalive_client_nat_idle_timeout': 300})
    assert rc == 0, out
    assert 'Host legacy-*\n    ServerAliveInterval 240\n' in config.read_text()
