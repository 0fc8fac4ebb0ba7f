"""RETURN is what the modules return: real results of each module, in the situations RETURN's `returned`
conditions name, checked against RETURN's keys, types and conditions."""
import os
import shutil

import pytest

from docsyaml import returns
from kalib import FIXTURES, SSHD, materialize, run_module

# ansible-core's common return values, which RETURN does not repeat
COMMON = {'changed', 'failed', 'msg', 'diff', 'warnings', 'deprecations', 'invocation'}
TYPES = {'str': str, 'int': int, 'bool': bool, 'list': list, 'dict': dict, 'float': float}


def check_value(where, doc, value, problems):
    kind = doc.get('type')
    if kind in TYPES and not (value is None or isinstance(value, TYPES[kind])) or \
            (kind == 'int' and isinstance(value, bool)):
        problems.append('%s is %s, RETURN says %s' % (where, type(value).__name__, kind))
        return
    if kind == 'list' and doc.get('elements') in TYPES:
        for i, item in enumerate(value or []):
            if not isinstance(item, TYPES[doc['elements']]):
                problems.append('%s[%d] is %s, RETURN says %s' % (where, i, type(item).__name__, doc['elements']))
    contains = doc.get('contains')
    if contains:
        items = value if kind == 'list' else [value]
        for i, item in enumerate(items or []):
            check_keys('%s[%d]' % (where, i) if kind == 'list' else where, contains, item or {}, problems, top=False)


def check_keys(where, spec, result, problems, top=True):
    for key, value in result.items():
        if top and key in COMMON:
            continue
        if key not in spec:
            problems.append('%s.%s is returned but not in RETURN' % (where, key))
            continue
        check_value('%s.%s' % (where, key), spec[key] or {}, value, problems)
    for key, doc in spec.items():
        if (doc or {}).get('returned', 'success' if top else 'always') in ('always', 'success') and key not in result:
            problems.append('%s.%s is "returned: %s" but missing' % (where, key, (doc or {}).get('returned', 'always')))


def scratch_sshd(tmp_path, hostkey, fixture='debian12'):
    etc = materialize('sshd', fixture, tmp_path / fixture)
    config = etc / 'sshd_config'
    config.write_text('HostKey %s\n' % hostkey + config.read_text())
    return config


def sshd_results(tmp_path, hostkey, users):
    config = scratch_sshd(tmp_path, hostkey, 'ubuntu2404-cloud')
    base = dict(path=str(config), include_base=str(config.parent), sshd_binary=SSHD)
    return {
        'check mode': run_module('sshd_keepalive', dict(base, client_alive_interval=60), check=True),
        'changed with backup': run_module('sshd_keepalive', dict(base, client_alive_interval=60,
                                                                 client_alive_count_max=10, backup=True)),
        'unchanged': run_module('sshd_keepalive', dict(base, client_alive_interval=60, client_alive_count_max=10)),
        'match': run_module('sshd_keepalive', dict(base, match='Group contractors', client_alive_interval=30)),
        'absent': run_module('sshd_keepalive', dict(base, client_alive_interval=0, state='absent')),
    }


def client_results(tmp_path, hostkey, users):
    hosts = [dict(pattern='bastion', server_alive_interval=30), dict(pattern='*', server_alive_interval=60)]
    system = tmp_path / 'etc' / 'ssh_config'
    system.parent.mkdir()
    shutil.copy(os.path.join(FIXTURES, 'ssh', 'stock-debian', 'config'), str(system))
    (system.parent / 'ssh_config.d').mkdir()
    system.write_text(system.read_text().replace('/etc/ssh', str(system.parent)))
    own = tmp_path / 'own' / 'config'
    own.parent.mkdir()
    return {
        'user, check mode': run_module('client_keepalive', dict(user='kaalice', hosts=hosts), check=True),
        'user, changed': run_module('client_keepalive', dict(user='kaalice', hosts=hosts)),
        'user, unchanged, backup': run_module('client_keepalive', dict(user='kaalice', hosts=hosts, backup=True)),
        'user, changed, backup': run_module('client_keepalive', dict(
            user='kaalice', hosts=hosts[:1] + [dict(pattern='*', server_alive_interval=61)], backup=True)),
        'path': run_module('client_keepalive', dict(path=str(own), hosts=hosts)),
        'system_config': run_module('client_keepalive', dict(system_config=str(system), hosts=hosts)),
        'users': run_module('client_keepalive', dict(users=[dict(name='kaalice', hosts=hosts),
                                                            dict(name='kabob', hosts=hosts)])),
        'absent block': run_module('client_keepalive', dict(user='kaalice', hosts=[
            dict(pattern='bastion', server_alive_interval=30, state='absent')])),
    }


def info_results(tmp_path, hostkey, users):
    config = scratch_sshd(tmp_path, hostkey)
    server = dict(path=str(config), include_base=str(config.parent), sshd_binary=SSHD)
    user = [dict(name='kaalice', expect=[dict(pattern='bastion', server_alive_interval=30)])]
    return {
        'server only': run_module('keepalive_info', dict(server, system_config='')),
        'server and users, expectations': run_module('keepalive_info', dict(
            server, system_config='', users=user, expect_server=dict(client_alive_interval=60))),
        'users only': run_module('keepalive_info', dict(path="", system_config="", users=user,
                                                        host_names=['prod-1'])),
    }


SCENARIOS = {'sshd_keepalive': sshd_results, 'client_keepalive': client_results, 'keepalive_info': info_results}


@pytest.mark.parametrize('module', sorted(SCENARIOS))
def test_results_are_what_return_documents(tmp_path, hostkey, users, module):
    for pw in users.values():
        shutil.rmtree(os.path.join(pw.pw_dir, '.ssh'), ignore_errors=True)
    spec = returns(module)
    results = SCENARIOS[module](tmp_path, hostkey, users)
    problems = []
    for name, result in results.items():
        assert not result.get('failed'), (name, result)
        check_keys('%s (%s)' % (module, name), spec, result, problems)
    # every documented key is returned in at least one of the situations its `returned` names
    seen = set(k for r in results.values() for k in r)
    problems += ['%s: RETURN key %s was returned in none of %s' % (module, k, ', '.join(results))
                 for k in spec if k not in seen]
    assert not problems, '\n'.join(problems)


def test_every_module_with_return_has_scenarios():
    from docsyaml import MODULES
    # idle_probe measures a network path for minutes; its results are checked by its own tests
    assert set(MODULES) - set(SCENARIOS) == {'idle_probe'}
