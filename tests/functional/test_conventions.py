"""ansible-core's conventions: validate (a command with %s, shell-split; default; off), one name per meaning
(no old names: nothing was released before), and state=absent that says what it found."""
import os
import stat
import subprocess
import sys

from kalib import reachable_by_users, run_module, ssh_G, sshd_T

CLIENT_HOSTS = [dict(pattern='bastion', server_alive_interval=30), dict(pattern='*', server_alive_interval=60)]


def deprecations(result):
    """The deprecation texts (ansible-core 2.19 returns structured summaries, older cores dicts with msg)."""
    return [d['event']['msg'] if 'event' in d else d['msg'] for d in result.get('deprecations', [])]


def checker(directory, name='check file.sh'):
    """A validation script in a directory with a space in its name; it logs each argument it got."""
    os.makedirs(str(directory), exist_ok=True)
    script = directory / name
    log = directory / 'args.log'
    script.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a" >> "%s"; done\ngrep -q ClientAlive "$2" || '
                      'grep -q ServerAlive "$2"\n' % log)
    script.chmod(stat.S_IRWXU)
    return script, log


def sshd_config(tmp_path, text='Port 22\n'):
    path = tmp_path / 'sshd_config'
    path.write_text(text)
    return path


def test_validate_is_a_shell_split_command_with_percent_s(tmp_path, hostkey, monkeypatch):
    config = sshd_config(tmp_path)
    script, log = checker(tmp_path / 'dir with space')
    monkeypatch.setenv('KEEPALIVE_TEST_WORD', 'expanded')  # the module inherits it, as on a host
    result = run_module('sshd_keepalive', dict(path=str(config), client_alive_interval=60,
                                               validate='"%s" --flag="two words $KEEPALIVE_TEST_WORD" %%s' % script))
    assert result['changed'] and not deprecations(result), result
    args = log.read_text().splitlines()
    assert args[0] == '--flag=two words expanded' and args[1] != str(config) and args[1].endswith('sshd_config')
    assert sshd_T(config, hostkey)['clientaliveinterval'] == '60'


def test_validate_command_that_fails_changes_nothing(tmp_path):
    config = sshd_config(tmp_path)
    result = run_module('sshd_keepalive', dict(path=str(config), client_alive_interval=60, validate='false %s'))
    assert result['failed'] and result['msg'] == ('validation failed, nothing was changed: false already rejected the '
                                                  'configuration before any change: exit status 1, no output')
    assert config.read_text() == 'Port 22\n'


def test_validate_default_is_sshd_t(tmp_path, hostkey):
    """Omitted: sshd -t (which refuses this file without a host key it can read: the default really runs)."""
    config = sshd_config(tmp_path, 'Port 22\nHostKey %s\n' % hostkey)
    assert run_module('sshd_keepalive', dict(path=str(config), client_alive_interval=60))['changed']
    broken = sshd_config(tmp_path, 'Port 22\nHostKey /nonexistent/key\n')
    result = run_module('sshd_keepalive', dict(path=str(broken), client_alive_interval=60))
    assert result['failed'] and result['msg'] == ('validation failed, nothing was changed: sshd already rejected the '
                                                  'configuration before any change: Unable to load host key: '
                                                  '/nonexistent/key'), result['msg']


def test_validate_false_turns_it_off(tmp_path, hostkey):
    config = sshd_config(tmp_path)
    result = run_module('sshd_keepalive', dict(path=str(config), client_alive_interval=60, validate=False,
                                               sshd_binary='/nonexistent/sshd'))
    assert result['changed'] and not deprecations(result)
    assert sshd_T(config, hostkey)['clientaliveinterval'] == '60'


def test_validate_without_percent_s_or_unbalanced_quotes_is_refused(tmp_path):
    config = sshd_config(tmp_path)
    for value, message in (('/usr/sbin/sshd -t', "validate must contain %s for the file to check, got '/usr/sbin/sshd -t'"),
                           ('"unclosed %s', 'validate=\'"unclosed %s\' cannot be split like a shell command line')):
        result = run_module('sshd_keepalive', dict(path=str(config), client_alive_interval=60, validate=value))
        assert result['failed'] and result['msg'].startswith(message), result['msg']
    assert config.read_text() == 'Port 22\n'


def test_validate_true_and_the_old_name_are_refused(tmp_path):
    """The first release has no old forms: validate=true and validate_command fail, naming the way."""
    config = sshd_config(tmp_path)
    for value in (True, 'yes'):
        result = run_module('sshd_keepalive', dict(path=str(config), client_alive_interval=60, validate=value))
        assert result['failed'] and result['msg'] == (
            'validate must be a command containing %%s, or false (omit it for the default check); got %r' % True)
    result = run_module('sshd_keepalive', dict(path=str(config), client_alive_interval=60, validate_command='x %s'))
    assert result['failed'] and 'Unsupported parameters' in result['msg'] and 'validate_command' in result['msg']
    assert config.read_text() == 'Port 22\n'


def test_client_validate_command_and_off(tmp_path):
    script, log = checker(tmp_path / 'a b')
    config = tmp_path / 'config'
    result = run_module('client_keepalive', dict(path=str(config), hosts=CLIENT_HOSTS,
                                                 validate="'%s' -v %%s" % script))
    assert result['changed'] and log.read_text().splitlines()[0] == '-v'
    assert ssh_G(config, 'bastion')['serveraliveinterval'] == '30'
    result = run_module('client_keepalive', dict(path=str(tmp_path / 'other'), hosts=CLIENT_HOSTS, validate=False,
                                                 ssh_binary='/nonexistent/ssh'))
    assert result['changed']
    result = run_module('client_keepalive', dict(path=str(tmp_path / 'third'), hosts=CLIENT_HOSTS, validate='false %s'))
    assert result['failed'] and result['msg'].startswith('validation failed, nothing was changed')
    assert not (tmp_path / 'third').exists()


def test_sshd_absent_reports_what_it_removed_and_what_was_not_there(tmp_path):
    config = sshd_config(tmp_path, 'Port 22\nClientAliveInterval 5\nClientAliveCountMax 3\nClientAliveInterval 9\n')
    args = dict(path=str(config), client_alive_interval=0, client_alive_count_max=0, state='absent', validate=False)
    result = run_module('sshd_keepalive', args, check=True)
    assert result['changed'] and config.read_text().count('ClientAlive') == 3  # check mode reports, keeps
    result = run_module('sshd_keepalive', args)
    assert result['removed'] == [
        {'keyword': 'ClientAliveInterval', 'value': '5', 'file': str(config), 'line': 2},
        {'keyword': 'ClientAliveInterval', 'value': '9', 'file': str(config), 'line': 4},
        {'keyword': 'ClientAliveCountMax', 'value': '3', 'file': str(config), 'line': 3}]
    assert 'removed ClientAliveCountMax 3 (%s:3)' % config in result['messages']
    assert config.read_text() == 'Port 22\n'
    again = run_module('sshd_keepalive', args)
    assert again['changed'] is False and again['removed'] == []
    assert again['messages'] == ['ClientAliveInterval is not set globally: nothing to remove',
                                 'ClientAliveCountMax is not set globally: nothing to remove']
    match = run_module('sshd_keepalive', dict(args, match='User alice'))
    assert match['messages'][0] == 'ClientAliveInterval is not set in Match User alice: nothing to remove'


def test_client_absent_reports_what_it_removed_and_what_was_not_there(tmp_path):
    config = tmp_path / 'config'
    run_module('client_keepalive', dict(path=str(config), hosts=CLIENT_HOSTS, validate=False))
    gone = [dict(pattern='bastion'), dict(pattern='never-there')]
    result = run_module('client_keepalive', dict(path=str(config), hosts=gone, state='absent'))
    assert result['changed'] and result['removed'] == [
        {'keyword': 'ServerAliveInterval', 'value': '30', 'file': str(config), 'line': 2}]
    assert 'Host never-there: no such block, nothing to remove' in result['messages']
    again = run_module('client_keepalive', dict(path=str(config), hosts=gone, state='absent'))
    assert again['changed'] is False and again['removed'] == []
    assert again['messages'] == ['Host bastion: no such block, nothing to remove',
                                 'Host never-there: no such block, nothing to remove']
    empty_star = run_module('client_keepalive', dict(path=str(config), state='absent',
                                                     hosts=[dict(pattern='*', options=dict(ProxyJump='x'))]))
    assert 'removed ServerAliveInterval 60' in empty_star['messages'][0]


def test_old_parameter_names_are_refused(tmp_path, hostkey, users):
    """path is the file a module manages (or reads) in all three; hosts means Host blocks in all three; the
    names of earlier drafts (never released) are not accepted."""
    config = sshd_config(tmp_path, 'Port 22\nHostKey %s\nClientAliveInterval 60\n' % hostkey)
    user_config = tmp_path / 'alice' / '.ssh' / 'config'
    user_config.parent.parent.mkdir()  # the home-like directory; .ssh is created for the user
    reachable_by_users(user_config.parent.parent)  # the user's file is read as the user
    old = run_module('client_keepalive', dict(users=[dict(name='kaalice', config=str(user_config), hosts=CLIENT_HOSTS)]))
    assert old['failed'] and 'config' in old['msg'] and not user_config.parent.exists(), old
    new = run_module('client_keepalive', dict(users=[dict(name='kaalice', path=str(user_config), hosts=CLIENT_HOSTS)]))
    assert new['changed'] and not deprecations(new)
    for name, value in (('sshd_config', str(config)), ('hosts', ['bastion'])):
        old = run_module('keepalive_info', dict({name: value}, system_config=None))
        assert old['failed'] and 'Unsupported parameters' in old['msg'] and name in old['msg'], old
    old = run_module('keepalive_info', dict(path='', users=[dict(name='kaalice', config=str(user_config))],
                                            system_config=None))
    assert old['failed'] and 'config' in old['msg'], old
    new = run_module('keepalive_info', dict(path=str(config), users=[dict(name='kaalice', path=str(user_config))],
                                            host_names=['bastion'], system_config=None))
    assert not deprecations(new)
    assert new['sshd']['effective']['clientaliveinterval'] == '60'
    assert new['clients']['kaalice']['hosts']['bastion']['ServerAliveInterval']['value'] == '30'


USERS_PLAYBOOK = """---
- name: Keepalives on every host
  hosts: all
  become: true
  roles:
    - role: keepalive.ssh.sshd
      vars:
        sshd_keepalive_profile: bastion
    - role: keepalive.ssh.client
      vars:
        client_keepalive_users: [{name: alice}]
"""


def test_a_users_playbook_with_both_roles_lints_clean_without_a_skip_list(tmp_path):
    """ansible-lint's production profile on a user's project: our roles' files (their variable names
    included: var-naming[no-role-prefix]) add no finding, and no skip list is needed."""
    (tmp_path / 'site.yml').write_text(USERS_PLAYBOOK)
    (tmp_path / '.ansible-lint').write_text('---\nprofile: production\noffline: true\n')
    lint = os.path.join(os.path.dirname(sys.executable), 'ansible-lint')
    done = subprocess.run([lint, '--nocolor', 'site.yml'], cwd=str(tmp_path), capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert 'var-naming' not in done.stdout + done.stderr


def test_every_role_variable_is_named_role_keepalive():
    """defaults and argument_specs of each role: <role>_keepalive_* (docs/conventions.md, Role variables)."""
    import yaml
    roles = os.path.join(os.path.dirname(__file__), '..', '..', 'roles')
    for role in ('sshd', 'client'):
        with open(os.path.join(roles, role, 'defaults', 'main.yml')) as f:
            names = set(yaml.safe_load(f))
        with open(os.path.join(roles, role, 'meta', 'argument_specs.yml')) as f:
            names |= set(yaml.safe_load(f)['argument_specs']['main']['options'])
        wrong = sorted(n for n in names if not n.startswith('%s_keepalive_' % role))
        assert not wrong, wrong
        assert '%s_keepalive_%s' % (role, 'client_alive_interval' if role == 'sshd' else 'users') in names
