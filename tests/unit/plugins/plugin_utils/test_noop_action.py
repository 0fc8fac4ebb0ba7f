"""The controller-side shortcut never fails a host: any fault of its own hands the host to the module."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.keepalive.ssh.plugins.action.client_keepalive import ActionModule


class Broken(ActionModule):
    def plan(self, params, snapshot, diff):
        raise AttributeError("'NoneType' object has no attribute 'startswith'")


def test_a_fault_in_the_shortcut_runs_the_module():
    action = Broken.__new__(Broken)
    params = action.validated(dict(system_config='/nonexistent/ssh_config', hosts=[dict(pattern='*', server_alive_interval=60)]))
    result, why, _snapshot = action.decision(params, lambda script: (0, ''), False)
    assert result is None and why == 'internal error (AttributeError)'


def test_a_system_config_job_asks_nothing_of_a_path_it_does_not_have():
    """system_config has neither user nor path: the first round must not trip over the missing path."""
    action = ActionModule.__new__(ActionModule)
    params = action.validated(dict(system_config='/nonexistent/ssh_config', hosts=[dict(pattern='*', server_alive_interval=60)]))
    assert action.first_requests(params) == []
