"""The sshd_platform filter hands the roles the same platform table the modules use."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.keepalive.ssh.plugins.filter.keepalive import FilterModule
from ansible_collections.keepalive.ssh.plugins.module_utils import platforms

sshd_platform = FilterModule().filters()['sshd_platform']


@pytest.mark.parametrize('family, service', [
    ('Debian', 'ssh'), ('Ubuntu', 'ssh'),
    ('RedHat', 'sshd'), ('Fedora', 'sshd'), ('Rocky', 'sshd'), ('Amazon', 'sshd'),
    ('Suse', 'sshd'), ('openSUSE', 'sshd'), ('SLES', 'sshd'),
    ('Alpine', 'sshd'),
    ('Gentoo', 'sshd'), ('', 'sshd'), (None, 'sshd'),  # unknown: upstream OpenSSH's layout
])
def test_service_name_per_family(family, service):
    assert sshd_platform(family)['service'] == service


def test_facts_are_the_modules_table():
    for family, facts in platforms.PLATFORMS.items():
        assert sshd_platform(family) == dict(facts._asdict())
    assert sshd_platform('Suse')['vendor_sshd_config'] == '/usr/etc/ssh/sshd_config'
    assert sshd_platform('Alpine')['reload_command'] == 'rc-service sshd reload'
