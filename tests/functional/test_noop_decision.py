"""The action plugins' controller-side decision agrees with the module, fixture by fixture.

For every tree of the corpus and several option sets: whenever the controller
decides "nothing to change", the module (run for real, check mode) says the
same and returns the same result; and every run the module finds unchanged is
caught on the controller (the fast path is not just safe but used).
"""
import os
import shutil
import subprocess

import pytest

from ansible_collections.keepalive.ssh.plugins.action.client_keepalive import ActionModule as ClientAction
from ansible_collections.keepalive.ssh.plugins.action.sshd_keepalive import ActionModule as ServerAction
from kalib import FIXTURES, SSHD, materialize, refusal, run_module

COMPARED = ('changed', 'files', 'effective', 'messages', 'warnings', 'path', 'results', 'diff')

SERVER_ARGS = [
    dict(client_alive_interval=60, client_alive_count_max=10),
    dict(client_alive_interval=30, client_alive_count_max=20, tcp_keepalive=False),
    dict(client_alive_interval=45, client_alive_count_max=4, match='User backup'),
    dict(client_alive_interval=5),  # warns: more packets than a NAT needs
]
CLIENT_HOSTS = [
    dict(pattern='bastion', server_alive_interval=30, server_alive_count_max=20),
    dict(pattern='prod-*', server_alive_interval=120, server_alive_count_max=5),
    dict(pattern='*.internal', server_alive_interval=30, options=dict(ProxyJump='bastion')),
    dict(pattern='*', server_alive_interval=60, server_alive_count_max=10),
]


def local_sh(script):
    proc = subprocess.run(['/bin/sh', '-c', script], capture_output=True, check=False)
    return proc.returncode, proc.stdout.decode('utf-8', 'surrogateescape')


def controller(action_cls, args, diff=True):
    """What the action plugin decides for these args on this machine: a result, or None (run the module)."""
    action = action_cls.__new__(action_cls)  # validated() and decision() need no task or connection
    params = action.validated(args)
    assert params is not None
    return action.decision(params, local_sh, diff)[0]


def assert_agree(action_cls, module, args):
    decided = controller(action_cls, args)
    checked = run_module(module, args, check=True)
    assert 'failed' not in checked, checked
    if decided is not None:
        assert checked['changed'] is False, checked
        for key in COMPARED:
            assert decided.get(key, []) == checked.get(key, []), key
    else:
        assert checked['changed'] is True, 'the module found nothing to change, the controller ran it anyway'
    return decided


@pytest.mark.parametrize('args', SERVER_ARGS, ids=lambda a: '-'.join('%s' % v for v in a.values()))
@pytest.mark.parametrize('name', sorted(os.listdir(os.path.join(FIXTURES, 'sshd'))))
def test_server_decision_matches_the_module(tmp_path, hostkey, name, args):
    config = materialize('sshd', name, tmp_path / name) / 'sshd_config'
    args = dict(args, path=str(config), include_base=str(config.parent),
                validate='%s -t -f %%s -h %s' % (SSHD, hostkey))
    assert_agree(ServerAction, 'sshd_keepalive', args)
    applied = run_module('sshd_keepalive', args)
    assert 'failed' not in applied, applied
    assert assert_agree(ServerAction, 'sshd_keepalive', args) is not None


@pytest.mark.parametrize('name', sorted(os.listdir(os.path.join(FIXTURES, 'ssh'))))
def test_client_decision_matches_the_module(tmp_path, name):
    shutil.copytree(os.path.join(FIXTURES, 'ssh', name), str(tmp_path / 'ssh'))
    args = dict(path=str(tmp_path / 'ssh' / 'config'), hosts=CLIENT_HOSTS)
    assert_agree(ClientAction, 'client_keepalive', args)
    run_module('client_keepalive', args)
    assert assert_agree(ClientAction, 'client_keepalive', args) is not None
    # an explicit mode: equal is still a no-op, a different one is the module's to apply
    os.chmod(args['path'], 0o600)
    assert assert_agree(ClientAction, 'client_keepalive', dict(args, mode='0600')) is not None
    assert assert_agree(ClientAction, 'client_keepalive', dict(args, mode='0400')) is None


def test_users_form_with_default_paths(users):
    args = dict(users=[dict(name=n, hosts=CLIENT_HOSTS) for n in sorted(users)])
    for pw in users.values():
        shutil.rmtree(os.path.join(pw.pw_dir, '.ssh'), ignore_errors=True)
    try:
        assert assert_agree(ClientAction, 'client_keepalive', args) is None  # no .ssh yet: a change
        run_module('client_keepalive', args)
        decided = assert_agree(ClientAction, 'client_keepalive', args)
        assert [r['path'] for r in decided['results']] == [
            os.path.join(users[n].pw_dir, '.ssh', 'config') for n in sorted(users)]
    finally:
        for pw in users.values():
            shutil.rmtree(os.path.join(pw.pw_dir, '.ssh'), ignore_errors=True)


def test_what_the_snapshot_cannot_judge_goes_to_the_module(users):
    pw = users['kaalice']
    shutil.rmtree(os.path.join(pw.pw_dir, '.ssh'), ignore_errors=True)
    args = dict(user=pw.pw_name, hosts=CLIENT_HOSTS)
    try:
        run_module('client_keepalive', args)
        config = os.path.join(pw.pw_dir, '.ssh', 'config')
        assert controller(ClientAction, args) is not None
        os.link(config, config + '.second-link')  # the module refuses hard-linked files
        assert controller(ClientAction, args) is None
        assert 'hard links' in refusal(run_module('client_keepalive', args), pw.pw_name)
    finally:
        shutil.rmtree(os.path.join(pw.pw_dir, '.ssh'), ignore_errors=True)


def test_a_declared_timeout_goes_to_the_module_which_knows_the_sshd_version(sshd_tree, hostkey):
    """The same unchanged tree: decided on the controller, unless nat_idle_timeout / dead_peer_timeout make the
    result depend on the host's sshd version (plugins/module_utils/timing.py), which only the module asks."""
    config = sshd_tree('debian12')
    args = dict(path=str(config), client_alive_interval=60, client_alive_count_max=3,
                validate='%s -t -f %%s -h %s' % (SSHD, hostkey))
    run_module('sshd_keepalive', args)
    assert controller(ServerAction, args) is not None
    for declared in (dict(nat_idle_timeout=300), dict(dead_peer_timeout=3600)):
        assert controller(ServerAction, dict(args, **declared)) is None
        result = run_module('sshd_keepalive', dict(args, **declared))
        assert result['changed'] is False and result['timing']['measured'], result
