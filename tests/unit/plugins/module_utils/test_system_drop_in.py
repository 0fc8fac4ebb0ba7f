# -*- coding: utf-8 -*-
"""A system-wide drop-in is read through ssh_config's Include: what it now shadows there is said."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.keepalive.ssh.plugins.module_utils.keepalive import HostSpec
from ansible_collections.keepalive.ssh.plugins.module_utils.plans import ClientPlan, system_target


def system_job(system):
    return dict(label='', user=None, system_config=str(system), path=None, mode=None)


def test_a_value_of_ssh_config_shadowed_by_the_drop_in_is_named(tmp_path):
    (tmp_path / 'ssh_config.d').mkdir()
    system = tmp_path / 'ssh_config'
    system.write_text('Include %s/ssh_config.d/*.conf\n\nHost *\n    SendEnv LANG LC_*\n'
                      '    ServerAliveCountMax 2\n' % tmp_path)
    drop_in = system_target(str(system))
    specs = [HostSpec(('*',), {'ServerAliveInterval': 60, 'ServerAliveCountMax': 10}),
             HostSpec(('bastion',), {'ServerAliveInterval': 30})]
    plan = ClientPlan(system_job(system), specs, drop_in, None, None, 0o644)
    assert plan.result()['messages'] == [
        'ServerAliveCountMax at %s:5 is never used for "Host *": %s sets it first' % (system, drop_in)]


def test_nothing_is_said_when_ssh_config_sets_nothing_the_drop_in_sets(tmp_path):
    (tmp_path / 'ssh_config.d').mkdir()
    system = tmp_path / 'ssh_config'
    system.write_text('Include %s/ssh_config.d/*.conf\n\nHost *\n    SendEnv LANG LC_*\n' % tmp_path)
    drop_in = system_target(str(system))
    plan = ClientPlan(system_job(system), [HostSpec(('*',), {'ServerAliveInterval': 60})], drop_in, None, None, 0o644)
    assert plan.result()['messages'] == []
