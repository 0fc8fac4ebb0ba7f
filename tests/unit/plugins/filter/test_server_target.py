"""server_target: the sshd role's values on the controller, where the host's sshd version is not known."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.keepalive.ssh.plugins.filter.keepalive import FilterModule

server_target = FilterModule().filters()['server_target']
PROFILES = {'default': {'client_alive_interval': 60, 'client_alive_count_max': 10},
            'firewall-5min': {'nat_idle_timeout': 300, 'client_alive_count_max': 3}}


def test_a_profile_by_interval_sets_it():
    assert server_target(PROFILES, 'default') == {'client_alive_interval': 60, 'client_alive_count_max': 10,
                                                  'nat_idle_timeout': None}
    assert server_target(PROFILES, 'default', 30, 4) == {'client_alive_interval': 30, 'client_alive_count_max': 4,
                                                         'nat_idle_timeout': None}


def test_a_timeout_leaves_the_interval_to_the_module_on_the_host():
    """The interval for a firewall depends on the host's sshd version (timing.py): only the module knows it."""
    assert server_target(PROFILES, 'firewall-5min') == {'client_alive_interval': None, 'client_alive_count_max': 3,
                                                        'nat_idle_timeout': 300}
    assert server_target(PROFILES, 'default', None, None, 290) == {
        'client_alive_interval': None, 'client_alive_count_max': 10, 'nat_idle_timeout': 290}
    # an explicit interval is kept, and checked against the timeout by the module
    assert server_target(PROFILES, 'firewall-5min', 100)['client_alive_interval'] == 100


def test_an_unknown_profile_names_the_valid_ones():
    with pytest.raises(AnsibleFilterError, match='choose one of default, firewall-5min'):
        server_target(PROFILES, 'nope')
