"""Docs that are executed: every YAML example of README.md, docs/*.md and the modules' EXAMPLES passes
ansible-playbook --syntax-check and names only options the code knows; the modules' EXAMPLES run for real
against scratch files; the docs pages name only real options and return keys."""
import os
import re
import shutil

import pytest
import yaml

from docsyaml import (DOC_FILES, MODULES, argument_spec, doc_examples, module_examples, returns, role_variables,
                      tasks_of, unknown_args)
from kalib import FIXTURES, ROOT, SSHD, materialize, playbook, reachable_by_users, sshd_T

EXAMPLES = doc_examples() + [module_examples(m) for m in MODULES]
# Play-level variables of the collection's playbooks (keepalive_targets, keepalive_serial, ...).
PLAYBOOK_VARS = set()
for _name in os.listdir(os.path.join(ROOT, 'playbooks')):
    with open(os.path.join(ROOT, 'playbooks', _name)) as _f:
        PLAYBOOK_VARS |= set(re.findall(r'\b(keepalive_[a-z_]+)\b', _f.read()))
# The collection's variables: the playbooks' keepalive_*, the roles' <role>_keepalive_*
OUR_PREFIXES = ('keepalive_', 'sshd_keepalive_', 'client_keepalive_')
# Keys every module result may have without RETURN naming them: ansible-core's common return values, and
# the file attributes AnsibleModule.exit_json adds to a result with a `path` (as test_return_contract.py)
COMMON_RETURNS = {'changed', 'failed', 'msg', 'diff', 'warnings', 'deprecations', 'invocation', 'skipped', 'rc',
                  'stdout', 'stderr', 'cmd', 'uid', 'gid', 'owner', 'group', 'mode', 'state', 'size', 'secontext'}


def test_every_doc_file_with_yaml_has_its_examples_collected():
    # guards the fence parser: each ```yaml fence in a doc file is one collected example
    for path in DOC_FILES:
        with open(path) as f:
            fences = len(re.findall(r'^[ \t]*```yaml', f.read(), re.M))
        assert fences == sum(1 for e in EXAMPLES if e.source == path), path
    assert len(EXAMPLES) > len(MODULES)


@pytest.mark.parametrize('example', EXAMPLES, ids=lambda e: e.id)
def test_example_passes_syntax_check(tmp_path, example):
    play = tmp_path / 'example.yml'
    play.write_text(yaml.safe_dump(example.playbook(), sort_keys=False))
    rc, out, _recap = playbook(play, '--syntax-check', '-i', 'localhost,')
    assert rc == 0, '%s:\n%s\n%s' % (example.id, example.text, out)


@pytest.mark.parametrize('example', EXAMPLES, ids=lambda e: e.id)
def test_example_names_only_real_options_and_variables(example):
    specs = {'keepalive.ssh.%s' % m: argument_spec(m) for m in MODULES}
    known_vars = set(role_variables()) | PLAYBOOK_VARS
    bad = []
    if example.kind == 'vars':
        bad += [k for k in example.data if k.startswith(OUR_PREFIXES) and k not in known_vars]
    for play in example.playbook():
        bad += [k for k in play.get('vars') or {} if k.startswith(OUR_PREFIXES) and k not in known_vars]
        for role in play.get('roles') or []:
            if isinstance(role, dict):
                bad += [k for k in (role.get('vars') or {}) if k not in known_vars]
    for task in tasks_of(example.playbook()):
        for module, spec in specs.items():
            if module in task:
                bad += unknown_args(spec, task[module], module)
        if 'ansible.builtin.include_role' in task or 'ansible.builtin.import_role' in task:
            bad += [k for k in (task.get('vars') or {}) if k.startswith(OUR_PREFIXES) and k not in known_vars]
    assert not bad, '%s names what the code does not know: %s\n%s' % (example.id, ', '.join(bad), example.text)


def module_page(module):
    path = os.path.join(ROOT, 'docs', module + '.md')
    assert os.path.exists(path), 'docs/%s.md: every module has a page' % module
    with open(path) as f:
        return f.read()


def return_names(spec):
    """Return keys of a RETURN, nested ones (contains) included."""
    names = set()
    for key, info in spec.items():
        names.add(key)
        names |= return_names((info or {}).get('contains') or {})
    return names


def option_names(spec):
    names = set()
    for option, info in spec.items():
        names.update([option] + list(info.get('aliases') or []))
        names |= option_names(info.get('options') or {})
    return names


# Ansible's own task keywords, which a module page may show next to the module's options.
TASK_KEYWORDS = {'async', 'poll', 'register', 'notify', 'become', 'delegate_to', 'run_once', 'when', 'loop',
                 'check_mode', 'diff', 'vars', 'failed_when', 'changed_when', 'ignore_errors'}
# `name: value` / `name=value` spans with one value: a {..}, [..] or "..." value, or one word
NAMED = re.compile(r'`([a-z][a-z_]*)(?::\s*|=)(?:\{[^`]*\}|\[[^`]*\]|"[^`"]*"|[^`\s]*)`')


@pytest.mark.parametrize('module', MODULES)
def test_module_page_names_only_real_options_and_returns(module):
    """`name: value` and `name=value` in a module's page are its options (suboptions) or return keys."""
    claimed = set(NAMED.findall(module_page(module)))
    known = option_names(argument_spec(module)) | return_names(returns(module)) | set(role_variables()) | TASK_KEYWORDS
    assert claimed - known == set(), 'docs/%s.md names options or return keys %s does not have' % (module, module)


@pytest.mark.parametrize('module', MODULES)
def test_module_page_returns_are_in_return(module):
    text = module_page(module)
    section = re.search(r'^## (Returns?|Reading the result)\n(.*?)(?=^## |\Z)', text, re.M | re.S)
    assert section, 'docs/%s.md has a "## Returns" section' % module
    # the key of each table row; in a "Returns" paragraph also each of a comma-separated list:
    # `files` (changed files), `diff` (...), `backup_file` / `backup_files`, ...
    claimed = set(re.findall(r'^\| `([a-z][a-z_]*)(?:`|:)', section.group(2), re.M))
    if section.group(1).startswith('Return'):
        claimed |= set(re.findall(r'(?:^|^- |,\s*|/\s*)`([a-z][a-z_]*)`', section.group(2), re.M))
    documented = return_names(returns(module)) | COMMON_RETURNS
    assert claimed, 'docs/%s.md: no return key found in its Returns section' % module
    assert claimed - documented == set(), 'docs/%s.md returns what RETURN does not have' % module


def test_role_pages_name_only_role_variables():
    known = role_variables()
    for role in sorted(set(known.values())):
        with open(os.path.join(ROOT, 'docs', 'role_%s.md' % role)) as f:
            text = f.read()
        named = set(re.findall(r'^\| `((?:sshd|client)_keepalive_[a-z_]+)`', text, re.M))
        # a row may name a pair: `sshd_keepalive_client_alive_interval` / `_count_max`
        for stem, suffix in re.findall(r'^\| `((?:sshd|client)_keepalive_[a-z_]+?)_[a-z]+` / `(_[a-z_]+)`', text, re.M):
            named.add(stem + suffix)
        mine = {v for v, r in known.items() if r == role}
        assert named - mine == set(), 'docs/role_%s.md names unknown variables' % role
        assert mine - named == set(), 'docs/role_%s.md does not document %s' % (role, mine - named)


# -- the modules' EXAMPLES, run for real ----------------------------------------------------------

def scratch_host(tmp_path, hostkey):
    """An /etc/ssh-like tree (Debian's stock files) with /etc/ssh paths pointing into it."""
    etc = materialize('sshd', 'debian12', tmp_path / 'etc' / 'ssh')
    for suffix in ('', '.pub'):  # where the examples expect it: /etc/ssh/ssh_host_ed25519_key
        shutil.copy(str(hostkey) + suffix, str(etc / 'ssh_host_ed25519_key') + suffix)
    config = etc / 'sshd_config'
    config.write_text('HostKey %s\n' % (etc / 'ssh_host_ed25519_key') + config.read_text())
    (etc / 'ssh_config.d').mkdir()
    with open(os.path.join(FIXTURES, 'ssh', 'stock-debian', 'config')) as f:
        (etc / 'ssh_config').write_text(f.read().replace('/etc/ssh', str(etc)))
    return etc


def localized(text, etc):
    """The example as it runs here: /etc/ssh and /srv are in the scratch tree, alice and bob are the test users."""
    text = text.replace('/etc/ssh', str(etc)).replace('/srv/', str(etc.parent.parent / 'srv') + '/')
    return re.sub(r'\b(alice|bob)\b', lambda m: 'ka' + m.group(1), text)


PREPARE = {
    # the audit example expects a compliant host: make it so with the other two modules first
    'keepalive_info': [
        {'name': 'Server as the example expects', 'keepalive.ssh.sshd_keepalive': {
            'client_alive_interval': 60, 'client_alive_count_max': 10}},
        {'name': 'Client as the example expects', 'keepalive.ssh.client_keepalive': {
            'user': 'kaalice', 'hosts': [
                {'pattern': 'bastion', 'server_alive_interval': 30, 'server_alive_count_max': 20},
                {'pattern': '*', 'server_alive_interval': 60, 'server_alive_count_max': 10}]}},
    ],
}
RUNNABLE = ['sshd_keepalive', 'client_keepalive', 'keepalive_info', 'stale_sessions']


@pytest.mark.parametrize('module', RUNNABLE)
def test_module_examples_run_against_scratch_files(tmp_path, hostkey, users, module):
    for pw in users.values():
        shutil.rmtree(os.path.join(pw.pw_dir, '.ssh'), ignore_errors=True)
    etc = scratch_host(tmp_path, hostkey)
    for name, pw in users.items():  # homes outside /home, as an example shows: /srv/home/NAME
        home = tmp_path / 'srv' / 'home' / name
        home.mkdir(parents=True)
        os.chown(str(home), pw.pw_uid, pw.pw_gid)
    reachable_by_users(tmp_path)  # users' files are read as the user
    tasks = yaml.safe_load(localized(module_examples(module).text, etc))
    defaults = {  # what the examples leave to the defaults (/etc/ssh/...) points at the scratch tree
        'keepalive.ssh.sshd_keepalive': {'path': str(etc / 'sshd_config'), 'include_base': str(etc),
                                         'sshd_binary': SSHD},
        'keepalive.ssh.keepalive_info': {'path': str(etc / 'sshd_config'), 'include_base': str(etc),
                                         'sshd_binary': SSHD, 'system_config': str(etc / 'ssh_config')},
    }
    play = [{'name': 'EXAMPLES of %s' % module, 'hosts': 'localhost', 'connection': 'local',
             'gather_facts': False, 'module_defaults': defaults, 'pre_tasks': PREPARE.get(module, []),
             'tasks': tasks,
             'handlers': [{'name': 'Reload sshd', 'ansible.builtin.debug': {'msg': 'reload (scratch host)'}}]}]
    path = tmp_path / 'examples.yml'
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    rc, out, recap = playbook(path, '--diff')
    assert rc == 0 and recap['localhost']['failed'] == 0, out
    assert recap['localhost']['ok'] >= len(tasks), out
    if module == 'sshd_keepalive':
        # the examples ran in order and sshd agrees with the last global value and the Match block
        assert 'Match Group contractors' in (etc / 'sshd_config').read_text()
        assert sshd_T(etc / 'sshd_config', hostkey)['clientaliveinterval'] == '60'
        assert sshd_T(etc / 'sshd_config', hostkey, 'user=root,host=x,addr=127.0.0.1')['clientaliveinterval'] == '60'
    if module == 'client_keepalive':
        with open(os.path.join(users['kaalice'].pw_dir, '.ssh', 'config')) as f:
            assert 'Host bastion' in f.read()
        assert os.listdir(str(etc / 'ssh_config.d')) == ['50-keepalive.conf']
