"""Role behaviour that needs no running sshd: profile checks, service detection, timing contradictions."""
import json
import os

import pytest

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
        msg: "service={{ sshd_keepalive_detected_service }}"
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
    rc, out, _recap = run_role(tmp_path, 'keepalive.ssh.sshd', {'sshd_keepalive_profile': 'nope'})
    assert rc != 0 and 'sshd_keepalive_profile=nope is not a profile; choose one of default, bastion' in out


def test_unknown_client_profile_fails_clearly(tmp_path):
    rc, out, _recap = run_role(tmp_path, 'keepalive.ssh.client', {
        'client_keepalive_users': [{'name': 'root', 'path': str(tmp_path / 'c'), 'profiles': ['bastion', 'mars']}]})
    assert rc != 0 and 'unknown keepalive client profile(s) mars for user root' in out


@pytest.mark.parametrize('role,extra,message', [
    ('keepalive.ssh.sshd', {'sshd_keepalive_match_overrides': [{'match': 'Group mobile', 'client_alive_intervall': 300}]},
     'sshd_keepalive_match_overrides.client_alive_intervall. Supported parameters include'),
    ('keepalive.ssh.sshd', {'sshd_keepalive_match_overrides': [{'client_alive_interval': 300}]},
     'missing required arguments: match'),
    ('keepalive.ssh.sshd', {'sshd_keepalive_profiles': {'default': {'client_alive_intervall': 60, 'client_alive_count_max': 3}}},
     'sshd_keepalive_profiles.default: unknown key(s) client_alive_intervall; a profile takes client_alive_interval, '
     'nat_idle_timeout, client_alive_count_max'),
    ('keepalive.ssh.client', {'client_keepalive_users': [{'name': 'root', 'profile': ['default']}]},
     'client_keepalive_users.profile. Supported parameters include'),
    ('keepalive.ssh.client', {'client_keepalive_users': [{'name': 'root', 'hosts': [{'pattern': 'x', 'server_alive_intervall': 5}]}]},
     'client_keepalive_users.hosts.server_alive_intervall. Supported parameters include'),
    ('keepalive.ssh.client', {'client_keepalive_users': [{'name': 'root'}],
                              'client_keepalive_hosts': [{'pattern': 'x', 'server_alive_count': 5}]},
     'client_keepalive_hosts.server_alive_count. Supported parameters include'),
    ('keepalive.ssh.client', {'client_keepalive_users': [{'name': 'root'}],
                              'client_keepalive_profiles': {'default': {'pattern': '*', 'server_alive_intervall': 60}}},
     'client_keepalive_profiles.default: unknown key(s) server_alive_intervall'),
])
def test_a_misspelt_nested_key_fails_before_anything_runs(tmp_path, role, extra, message):
    rc, out, recap = run_role(tmp_path, role, extra)
    assert rc != 0 and message in out, out
    assert recap['localhost']['changed'] == 0, out


def test_declared_nat_timeout_contradicting_a_profile_fails(tmp_path):
    (tmp_path / 'h').mkdir()
    rc, out, _recap = run_role(tmp_path, 'keepalive.ssh.client', {
        'client_keepalive_users': [{'name': 'root', 'path': str(tmp_path / 'h' / '.ssh' / 'config'),
                                    'profiles': ['home', 'default']}],
        'client_keepalive_nat_idle_timeout': 300})
    assert rc != 0 and ('users[0].hosts[0].server_alive_interval=300 is not below '
                        'users[0].hosts[0].nat_idle_timeout=300') in out
    assert not (tmp_path / 'h' / '.ssh' / 'config').exists()


def test_nat_timeout_derives_intervals_for_blocks_without_one(tmp_path):
    (tmp_path / 'h').mkdir()
    config = tmp_path / 'h' / '.ssh' / 'config'
    rc, out, _recap = run_role(tmp_path, 'keepalive.ssh.client', {
        'client_keepalive_users': [{'name': 'root', 'path': str(config), 'profiles': ['default'],
                                    'hosts': [{'pattern': 'legacy-*'}]}],
        'client_keepalive_nat_idle_timeout': 300})
    assert rc == 0, out
    assert 'Host legacy-*\n    ServerAliveInterval 240\n' in config.read_text()


def test_users_and_the_system_wide_file_are_items_of_one_task(tmp_path):
    """client_keepalive_system_wide adds the system-wide file as a second item of the users' task (a task
    skipped on every host would cost a worker per host): both files converge, a rerun changes nothing,
    and either item alone works."""
    (tmp_path / 'h').mkdir()
    config = tmp_path / 'h' / '.ssh' / 'config'
    system = tmp_path / 'etc' / 'ssh_config'
    system.parent.mkdir()
    system.write_text('Host *\n    SendEnv LANG LC_*\n')
    users = [{'name': 'root', 'path': str(config), 'profiles': ['default']}]
    both = {'client_keepalive_users': users, 'client_keepalive_system_wide': True,
            'client_keepalive_system_config': str(system), 'client_keepalive_system_profiles': ['bastion', 'default']}
    rc, out, recap = run_role(tmp_path, 'keepalive.ssh.client', both)
    assert rc == 0 and recap['localhost']['changed'] == 1, out
    assert 'item=users root' in out and 'item=%s' % system in out, out
    assert 'ServerAliveInterval 60' in config.read_text()
    text = system.read_text()
    assert 'Host bastion\n    ServerAliveInterval 30\n' in text and text.index('Host bastion') < text.index('Host *')
    rc, out, recap = run_role(tmp_path, 'keepalive.ssh.client', both)
    assert rc == 0 and recap['localhost']['changed'] == 0, out
    rc, out, recap = run_role(tmp_path, 'keepalive.ssh.client', dict(both, client_keepalive_users=[]))
    assert rc == 0 and recap['localhost']['ok'] == 3 and 'item=users' not in out, out  # arg spec, file, skip summary
    rc, out, recap = run_role(tmp_path, 'keepalive.ssh.client', dict(both, client_keepalive_system_wide=False))
    assert rc == 0 and recap['localhost']['changed'] == 0 and 'item=%s' % system not in out, out


def _templates(value):
    if isinstance(value, str):
        return [value] if '{{' in value else []
    if isinstance(value, dict):
        return [t for v in value.values() for t in _templates(v)]
    if isinstance(value, list):
        return [t for v in value for t in _templates(v)]
    return []


def test_the_no_op_path_templates_no_jinja_test():
    """The tasks a converged host runs template no Jinja test (`is none`, `is defined`): a worker that
    meets one loads every test plugin again, tens of ms of CPU per host (docs/performance.md). The filter
    plugins are loaded before the workers fork (warm_filter_plugins)."""
    import jinja2
    import yaml
    here = os.path.dirname(os.path.abspath(__file__))
    env = jinja2.Environment()
    for role in ('sshd', 'client'):
        with open(os.path.join(here, '..', '..', 'roles', role, 'tasks', 'main.yml')) as f:
            tasks = yaml.safe_load(f)
        found = [(role, t) for t in _templates(tasks) if list(env.parse(t).find_all(jinja2.nodes.Test))]
        assert not found, found
