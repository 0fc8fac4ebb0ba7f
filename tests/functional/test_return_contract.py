"""RETURN is a promise: in every scenario, each key is returned exactly when its `returned` condition holds,
with the documented type, and no result key is undocumented."""
import ast
import os

import pytest
import yaml

from kalib import ROOT, reachable_by_users, run_module

# What every module result may carry without RETURN: Ansible's own keys, and the file attributes
# AnsibleModule.exit_json adds to any result with a `path` (add_path_info).
STANDARD = {'changed', 'failed', 'msg', 'invocation', 'warnings', 'deprecations', 'diff'}
PATH_INFO = {'uid', 'gid', 'owner', 'group', 'mode', 'state', 'size', 'secontext'}
TYPES = {'str': str, 'list': list, 'dict': dict, 'bool': bool, 'int': int}


def block_absent(args):
    entries = args.get('users') or [args]
    return any(e.get('state', args.get('state')) == 'absent' or
               any(h.get('state') == 'absent' for h in e.get('hosts') or []) for e in entries)


# every `returned` text used in RETURN, as a predicate over (args, result); a new text fails the test
CONDITIONS = {
    'always': lambda args, result: True,
    'changed and backup requested': lambda args, result: result['changed'] and args.get('backup', False),
    'when state is absent': lambda args, result: args.get('state') == 'absent',
    'when a block is absent': lambda args, result: block_absent(args),
    'when users is given': lambda args, result: bool(args.get('users')),
    'when users is not given': lambda args, result: not args.get('users'),
    # (the tests run as root: without a target, as_root decides)
    'when users is not given and a file is managed (not as root with as_root=nothing and no target)':
        lambda args, result: not args.get('users') and (
            args.get('as_root') != 'nothing' or any(args.get(k) for k in ('user', 'path', 'system_config'))),
    'when users are listed': lambda args, result: bool(args.get('users')),
    'when path is set': lambda args, result: bool(args.get('path', '/etc/ssh/sshd_config')),
    'when sessions is true': lambda args, result: bool(args.get('sessions')),
    'when nat_idle_timeout or dead_peer_timeout is given':
        lambda args, result: args.get('nat_idle_timeout') is not None or args.get('dead_peer_timeout') is not None,
}


def documented(module):
    with open(os.path.join(ROOT, 'plugins', 'modules', module + '.py')) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == 'RETURN':
            return yaml.safe_load(node.value.value)
    raise AssertionError('%s has no RETURN' % module)


def check(module, args, result, check_mode=False):
    assert not result.get('failed'), result.get('msg')
    spec = documented(module)
    undocumented = set(result) - set(spec) - STANDARD - PATH_INFO
    assert not undocumented, '%s returned keys RETURN does not document: %s' % (module, sorted(undocumented))
    for key, doc in spec.items():
        condition = CONDITIONS.get(doc['returned'])
        assert condition, '%s: RETURN %s has a returned condition this test cannot judge: %r' % (module, key, doc['returned'])
        expected = bool(condition(args, result))
        assert (key in result) == expected, '%s %s: RETURN says %r, result %s it (args %s)' % (
            module, key, doc['returned'], 'has' if key in result else 'lacks', args)
        if key in result:
            assert isinstance(result[key], TYPES[doc['type']]), (module, key, result[key])
            if doc['type'] == 'list' and 'elements' in doc:
                assert all(isinstance(x, TYPES[doc['elements']]) for x in result[key]), (module, key)
    return spec


def run(module, args, check_mode=False):
    result = run_module(module, args, check=check_mode)
    check(module, args, result)
    return result


@pytest.fixture
def sshd_config(tmp_path, hostkey):
    path = tmp_path / 'sshd_config'
    path.write_text('Port 22\nHostKey %s\nClientAliveInterval 5\n' % hostkey)
    return path


def test_sshd_keepalive_results_match_return(sshd_config):
    base = dict(path=str(sshd_config), client_alive_interval=60, client_alive_count_max=10)
    run('sshd_keepalive', base, check_mode=True)
    run('sshd_keepalive', dict(base, backup=True))
    run('sshd_keepalive', dict(base, backup=True))  # unchanged: no backup keys
    run('sshd_keepalive', dict(base, match='User alice'))
    run('sshd_keepalive', dict(base, client_alive_interval=None, nat_idle_timeout=300, dead_peer_timeout=3600))
    run('sshd_keepalive', dict(base, state='absent'))
    run('sshd_keepalive', dict(base, state='absent'))  # nothing left to remove


def test_client_keepalive_results_match_return(tmp_path, users):
    hosts = [dict(pattern='bastion', server_alive_interval=30), dict(pattern='*', server_alive_interval=60)]
    single = dict(path=str(tmp_path / 'config'), hosts=hosts)
    run('client_keepalive', single, check_mode=True)
    run('client_keepalive', single)
    run('client_keepalive', dict(single, backup=True, hosts=hosts[:1] + [dict(pattern='*', server_alive_interval=61)]))
    run('client_keepalive', dict(single, hosts=[dict(pattern='bastion', state='absent')] + hosts[1:]))
    run('client_keepalive', dict(single, state='absent'))
    run('client_keepalive', dict(hosts=hosts, as_root='nothing'))  # as root without a target: nothing
    reachable_by_users(tmp_path)  # users' files are read as the user
    for name in ('alice', 'bob'):
        (tmp_path / name).mkdir()
    users_args = dict(users=[dict(name='kaalice', path=str(tmp_path / 'alice' / '.ssh' / 'config'), hosts=hosts),
                             dict(name='kabob', path=str(tmp_path / 'bob' / '.ssh' / 'config'), hosts=hosts)])
    result = run('client_keepalive', users_args)
    spec = documented('client_keepalive')
    per_file = set(spec) - {'results'}
    for entry in result['results']:
        # each user's result has the single-file keys (path and effective always, there)
        assert {'changed', 'path', 'files', 'effective', 'messages'} <= set(entry) <= per_file | STANDARD, entry
    absent = dict(users=[dict(users_args['users'][0], state='absent'), users_args['users'][1]])
    result = run('client_keepalive', absent)
    assert 'removed' in result['results'][0] and 'removed' not in result['results'][1]


def test_keepalive_info_results_match_return(sshd_config, tmp_path, users):
    user_config = tmp_path / 'alice' / 'config'
    user_config.parent.mkdir()
    reachable_by_users(user_config.parent)  # read as the user
    user_config.write_text('Host bastion\n    ServerAliveInterval 30\n')
    run('keepalive_info', dict(path=str(sshd_config), system_config=''))
    run('keepalive_info', dict(path=str(sshd_config), system_config='', host_names=['bastion'],
                               users=[dict(name='kaalice', path=str(user_config),
                                           expect=[dict(pattern='bastion', server_alive_interval=31)])]),
        check_mode=True)
    run('keepalive_info', dict(path='', users=[dict(name='kaalice', path=str(user_config))], system_config=''))


def test_keepalive_info_sessions_match_return(sshd_config, tmp_path, users):
    options = dict(users=['kaalice'], control_dirs=[str(tmp_path)], max_rows=5)
    result = run('keepalive_info', dict(path=str(sshd_config), system_config='', sessions=True,
                                        session_options=options))
    contains = documented('keepalive_info')['sessions']['contains']
    assert set(result['sessions']) == set(contains) - {'reason'}, sorted(result['sessions'])  # reason: unavailable only
    assert set(result['sessions']['counts']) == set(contains['counts']['sample'])
    for key in ('server', 'clients'):   # each documented row is the row shown in RETURN's sample
        assert set(contains[key]['contains']) <= set(contains[key]['sample'][0])
    run('keepalive_info', dict(path='', sessions=True), check_mode=True)


def test_stale_sessions_results_match_return(tmp_path, users):
    # only a report (no terminate): this machine's other ssh clients are looked at, never ended
    options = dict(users=['kaalice', 'kabob'], control_dirs=[str(tmp_path)])
    run('stale_sessions', dict(session_options=options))
    run('stale_sessions', dict(session_options=options, terminate=True), check_mode=True)
