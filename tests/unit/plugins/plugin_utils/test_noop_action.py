"""The controller-side shortcut never fails a host: any fault of its own hands the host to the module."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

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


class Context:
    def __init__(self, become, become_user='root', become_method='sudo'):
        self.become, self.become_user, self.become_method = become, become_user, become_method


class Connection:
    transport = 'ssh'


def own_file_action(context):
    action = ActionModule.__new__(ActionModule)
    action._play_context, action._connection = context, Connection()
    return action


def never_run(script):
    raise AssertionError('no probe is needed to decide this')


def test_the_roles_call_without_users_is_nothing_on_the_controller_when_become_is_root():
    """The client role on a root play's host without users: the module would do nothing, so no module runs."""
    action = own_file_action(Context(become=True))
    params = action.validated(dict(hosts=[dict(pattern='*', server_alive_interval=60)], as_root='nothing'))
    result, _why, _snapshot = action.decision(params, never_run, False)
    assert result == dict(changed=False, files=[], effective={}, skipped_users=[],
                          messages=['run as root without user, path, system_config or users: no file to manage'])


@pytest.mark.parametrize('context, as_root', [
    (Context(become=False), 'nothing'),                        # the connecting user: only the host knows who
    (Context(become=True, become_user='alice'), 'nothing'),    # alice's own file: the module's
    (Context(become=True, become_method='runas'), 'nothing'),  # not a method we know switches to root
    (Context(become=True), 'fail'),                            # the module fails, in its words
])
def test_without_a_target_the_module_decides_whom_it_runs_as(context, as_root):
    action = own_file_action(context)
    params = action.validated(dict(hosts=[dict(pattern='*', server_alive_interval=60)], as_root=as_root))
    result, why, _snapshot = action.decision(params, never_run, False)
    assert result is None and 'the module knows whom it runs as' in why
