"""client_jobs: the client role's module calls on a host, as the role's one task loops over them."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.keepalive.ssh.plugins.filter.keepalive import FilterModule

client_jobs = FilterModule().filters()['client_jobs']
client_plan = FilterModule().filters()['client_plan']
PROFILES = {'bastion': {'pattern': 'bastion', 'server_alive_interval': 30},
            'default': {'pattern': '*', 'server_alive_interval': 60}}
USERS = [{'name': 'alice', 'profiles': ['bastion', 'default']}, {'name': 'bob'}]


def test_users_then_the_system_wide_file():
    jobs = client_jobs(USERS, PROFILES, ['default'], [], True, '/etc/ssh/ssh_config', ['bastion'])
    assert jobs == [
        {'label': 'users alice, bob', 'users': client_plan(USERS, PROFILES, ['default'], [])},
        {'label': '/etc/ssh/ssh_config', 'system_config': '/etc/ssh/ssh_config',
         'hosts': [{'pattern': 'bastion', 'server_alive_interval': 30}]}]


@pytest.mark.parametrize('flag, wanted', [(False, False), ('false', False), ('no', False), (None, False),
                                          (True, True), ('yes', True), ('True', True), (1, True)])
def test_system_wide_takes_what_bool_takes(flag, wanted):
    """-e client_keepalive_system_wide=false arrives as a string: it must not count as true."""
    jobs = client_jobs(USERS, PROFILES, ['default'], [], flag)
    assert [j['label'] for j in jobs] == ['users alice, bob'] + (['/etc/ssh/ssh_config'] if wanted else [])
    assert jobs[-1].get('hosts', [{'pattern': '*', 'server_alive_interval': 60}]) == [
        {'pattern': '*', 'server_alive_interval': 60}]  # the default system profile


def test_no_users_and_no_system_file_is_one_call_for_the_running_users_own_file():
    """The role on your own machine without variables: only hosts (the default profiles and the extra
    blocks), which the module applies to the running user's ~/.ssh/config (as root: as_root)."""
    extra = [{'pattern': 'db-*', 'server_alive_interval': 45}]
    assert client_jobs([], PROFILES, ['default'], extra) == [
        {'label': 'your own ~/.ssh/config (none as root)',
         'hosts': [{'pattern': '*', 'server_alive_interval': 60}] + extra}]
    assert [j['label'] for j in client_jobs([], PROFILES, ['default'], None, True)] == ['/etc/ssh/ssh_config']


def test_unknown_profiles_fail_clearly():
    with pytest.raises(AnsibleFilterError, match='unknown keepalive client profile.* mars for user system'):
        client_jobs([], PROFILES, ['default'], [], True, '/etc/ssh/ssh_config', ['mars'])
