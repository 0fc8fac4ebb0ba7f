"""A hostile local user against the client role and the audit playbook, through ansible-playbook.

The host must not fail (the site playbook stops the fleet on any failure), the bystander converges,
no byte of the root-only secret reaches the output or the report, and the report is private.
"""
import json
import os
import stat

import pytest

from kalib import playbook
# people and secret are fixtures, used by name
from test_hostile_users import ARTIFACT, CLASSES, SECRET, USABLE, people, reset, secret, user_file  # noqa: F401  pylint: disable=unused-import

ATTACKS = [c for c in CLASSES if c not in USABLE] + [c for c in CLASSES if c.__name__ == 'match_exec']


def inventory(tmp_path):
    path = tmp_path / 'inventory'
    path.write_text('localhost ansible_connection=local\n')
    return str(path)


@pytest.mark.parametrize('attack', ATTACKS, ids=lambda c: c.__name__)
def test_client_role_goes_on_past_a_hostile_user(tmp_path, people, secret, attack):  # noqa: F811
    hostile, bystander = people
    attack(hostile, secret)
    play = tmp_path / 'play.yml'
    play.write_text('- hosts: localhost\n  gather_facts: false\n  roles:\n    - keepalive.ssh.client\n')
    extra = {'client_keepalive_users': [{'name': hostile.pw_name}, {'name': bystander.pw_name}],
             'client_keepalive_command_timeout': 4}
    rc, out, recap = playbook(play, '-i', inventory(tmp_path), '-e', json.dumps(extra))
    assert rc == 0 and recap['localhost']['failed'] == 0, out
    assert SECRET not in out
    with open(os.path.join(bystander.pw_dir, '.ssh', 'config')) as f:
        assert 'ServerAliveInterval 60' in f.read()
    if attack.__name__ != 'match_exec':
        assert '%s: skipped (' % hostile.pw_name in out  # the reason is in the warnings
        # and where an operator looks: the host's summary line and the recap (ignored, not failed)
        assert '1 user(s) skipped, files left unchanged:' in out and '"%s: ' % hostile.pw_name in out
        assert recap['localhost']['ignored'] == 1, out
    else:  # the role validated the user's file: their command ran, as them
        assert os.lstat(ARTIFACT).st_uid == hostile.pw_uid

    extra['client_keepalive_strict'] = True  # the admin's choice: a skip fails the host
    rc, out, recap = playbook(play, '-i', inventory(tmp_path), '-e', json.dumps(extra))
    if attack.__name__ != 'match_exec':
        assert rc != 0 and recap['localhost']['failed'] == 1, out
    assert SECRET not in out


def test_client_role_run_where_every_user_is_skipped_is_not_green(tmp_path, people, secret):  # noqa: F811
    hostile, _bystander = people
    user_file(hostile, 'config', 'Include %s\n' % secret)
    play = tmp_path / 'play.yml'
    play.write_text('- hosts: localhost\n  gather_facts: false\n  roles:\n    - keepalive.ssh.client\n')
    extra = {'client_keepalive_users': [{'name': hostile.pw_name}], 'client_keepalive_command_timeout': 4}
    rc, out, recap = playbook(play, '-i', inventory(tmp_path), '-e', json.dumps(extra))
    assert rc == 0 and recap['localhost']['failed'] == 0 and recap['localhost']['ignored'] == 1, out
    assert '1 user(s) skipped, files left unchanged:' in out and '...ignoring' in out
    assert SECRET not in out
    reset(hostile)
    rc, out, recap = playbook(play, '-i', inventory(tmp_path), '-e', json.dumps(extra))
    assert rc == 0 and recap['localhost']['ignored'] == 0, out
    assert "every requested user's file is managed" in out


def test_audit_report_is_private_and_names_the_hostile_user(tmp_path, people, secret):  # noqa: F811
    hostile, bystander = people
    user_file(hostile, 'config', 'Include %s\n' % secret)
    user_file(bystander, 'config', 'Host *\n    ServerAliveInterval 60\n')
    report = tmp_path / 'report'
    extra = {'client_keepalive_users': [{'name': hostile.pw_name}, {'name': bystander.pw_name}],
             'sshd_keepalive_config_path': None, 'client_keepalive_system_config': None,
             'keepalive_report_dir': str(report), 'client_keepalive_command_timeout': 4}
    rc, out, _recap = playbook('keepalive.ssh.audit', '-i', inventory(tmp_path), '-e', json.dumps(extra))
    assert rc == 0, out
    assert stat.S_IMODE(os.stat(str(report)).st_mode) == 0o700
    for name in ('keepalive-report.json', 'keepalive-report.csv'):
        path = report / name
        assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
        text = path.read_text()
        assert SECRET not in text
        assert '%s: not compliant, not audited' % hostile.pw_name in text
    assert SECRET not in out
    reset(hostile)
