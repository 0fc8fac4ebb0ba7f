"""Without user, path, system_config or users, the running user's own ~/.ssh/config (plans.jobs)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.keepalive.ssh.plugins.module_utils.plans import JobError, jobs

HOSTS = [{'pattern': '*', 'server_alive_interval': 60}]


def params(**given):
    base = dict(users=None, user=None, path=None, system_config=None, hosts=HOSTS, state='present', mode=None,
                as_root='fail')
    base.update(given)
    return base


def test_a_user_without_a_target_gets_their_own_file():
    [job] = jobs(params(), me=lambda: 'alice')
    assert (job['user'], job['path'], job['system_config']) == ('alice', None, None)


def test_root_without_a_target_fails_saying_why_and_what_to_do():
    with pytest.raises(JobError, match='one of user, path, system_config or users is required: run as root'):
        jobs(params(), me=lambda: None)


def test_root_without_a_target_and_as_root_nothing_has_no_job():
    assert jobs(params(as_root='nothing'), me=lambda: None) == []


@pytest.mark.parametrize('given', [dict(user='bob'), dict(path='/srv/x/config'), dict(system_config='/etc/ssh/ssh_config')])
def test_a_given_target_is_never_replaced_by_the_running_user(given):
    def me():
        raise AssertionError('whom the module runs as does not matter here')
    [job] = jobs(params(**given), me=me)
    assert job['user'] == given.get('user')
