"""client_keepalive run for real; the truth comes from `ssh -G`."""
import os
import pathlib
import shutil

import pytest

from kalib import FIXTURES, owner, refusal, run_module, ssh_G

PROFILE_HOSTS = [
    dict(pattern='bastion', server_alive_interval=30, server_alive_count_max=20),
    dict(pattern='prod-*', server_alive_interval=120, server_alive_count_max=5),
    dict(pattern='*.internal', server_alive_interval=30, options=dict(ProxyJump='bastion')),
    dict(pattern='*', server_alive_interval=60, server_alive_count_max=10),
]


def alive(config, host):
    g = ssh_G(config, host)
    return g['serveraliveinterval'], g['serveralivecountmax']


def test_creates_ssh_dir_and_config_owned_by_the_user(user):
    result = run_module('client_keepalive', dict(user=user.pw_name, hosts=PROFILE_HOSTS))
    ssh_dir = os.path.join(user.pw_dir, '.ssh')
    config = os.path.join(ssh_dir, 'config')
    assert result['changed'] and result['path'] == config
    assert owner(ssh_dir) == (user.pw_name, user.pw_name, '0o700')
    assert owner(config) == (user.pw_name, user.pw_name, '0o600')
    assert alive(config, 'bastion') == ('30', '20')
    assert alive(config, 'prod-web1') == ('120', '5')
    assert alive(config, 'db.internal') == ('30', '10')
    assert ssh_G(config, 'db.internal')['proxyjump'] == 'bastion'
    assert alive(config, 'example.org') == ('60', '10')
    again = run_module('client_keepalive', dict(user=user.pw_name, hosts=PROFILE_HOSTS))
    assert again['changed'] is False and again['diff'] == []


def test_host_star_first_mistake_is_fixed(user, tmp_path):
    config = tmp_path / 'config'
    shutil.copy(os.path.join(FIXTURES, 'ssh', 'host-star-first', 'config'), str(config))
    assert alive(config, 'bastion')[0] == '60'  # the mistake: Host * first makes Host bastion's value dead
    result = run_module('client_keepalive', dict(path=str(config), hosts=PROFILE_HOSTS))
    assert alive(config, 'bastion') == ('30', '20')
    assert alive(config, 'prod-web1') == ('120', '5')
    assert ssh_G(config, 'bastion')['user'] == 'ops'  # the user's own keywords still apply
    assert any('added before "Host *"' in m and 'no block was moved' in m for m in result['messages'])


def test_existing_mode_and_owner_are_kept(user, tmp_path):
    ssh_dir = os.path.join(user.pw_dir, '.ssh')
    os.makedirs(ssh_dir)
    config = os.path.join(ssh_dir, 'config')
    with open(config, 'w') as f:
        f.write('Host gitlab\n    User git\n')
    # root-owned, group the user's, 0640: not ours to change (and readable by the user, as whom it is read)
    os.chown(config, 0, user.pw_gid)
    os.chmod(config, 0o640)
    run_module('client_keepalive', dict(user=user.pw_name, hosts=PROFILE_HOSTS[:1]))
    assert owner(config) == ('root', user.pw_name, '0o640')
    run_module('client_keepalive', dict(user=user.pw_name, hosts=PROFILE_HOSTS[:1], mode='0600'))
    assert owner(config)[2] == '0o600'


def test_check_mode_creates_nothing(user):
    result = run_module('client_keepalive', dict(user=user.pw_name, hosts=PROFILE_HOSTS), check=True)
    assert result['changed'] and result['diff'][0]['after'].startswith('Host bastion\n')
    assert not os.path.exists(os.path.join(user.pw_dir, '.ssh'))


def test_check_mode_diff_equals_real_diff(user, tmp_path):
    config = tmp_path / 'config'
    shutil.copy(os.path.join(FIXTURES, 'ssh', 'host-star-first', 'config'), str(config))
    before = config.read_text()
    predicted = run_module('client_keepalive', dict(path=str(config), hosts=PROFILE_HOSTS), check=True)
    assert config.read_text() == before
    real = run_module('client_keepalive', dict(path=str(config), hosts=PROFILE_HOSTS))
    assert predicted['diff'] == real['diff']


def test_backup_has_same_owner_and_mode(user):
    ssh_dir = os.path.join(user.pw_dir, '.ssh')
    os.makedirs(ssh_dir, mode=0o700)
    os.chown(ssh_dir, user.pw_uid, user.pw_gid)
    config = os.path.join(ssh_dir, 'config')
    with open(config, 'w') as f:
        f.write('Host old\n    User x\n')
    os.chown(config, user.pw_uid, user.pw_gid)
    os.chmod(config, 0o600)
    result = run_module('client_keepalive', dict(user=user.pw_name, hosts=PROFILE_HOSTS, backup=True))
    assert owner(result['backup_file']) == (user.pw_name, user.pw_name, '0o600')
    assert open(result['backup_file']).read() == 'Host old\n    User x\n'


def test_absent_removes_what_present_added(user):
    run_module('client_keepalive', dict(user=user.pw_name, hosts=PROFILE_HOSTS))
    result = run_module('client_keepalive', dict(user=user.pw_name, hosts=PROFILE_HOSTS, state='absent'))
    assert result['changed']
    assert open(os.path.join(user.pw_dir, '.ssh', 'config')).read() == ''


def test_unknown_user_is_a_clear_error():
    result = run_module('client_keepalive', dict(user='no-such-user-ka', hosts=PROFILE_HOSTS))
    assert result['failed'] and result['msg'] == 'user=no-such-user-ka does not exist in the passwd database'


@pytest.mark.parametrize('host,message', [
    (dict(pattern='bastion\nPermitRootLogin yes'), 'hosts[0].pattern must be a single line'),
    (dict(pattern='a#b'), 'hosts[0].pattern must not contain "#"'),
    (dict(pattern='x', server_alive_interval=-1), 'hosts[0].server_alive_interval must be between 0 and'),
    (dict(pattern='x', options={'Host': 'evil'}), "hosts[0].options: 'Host' is not a keyword"),
    (dict(pattern='x', options={'ProxyJump': 'a\nUser root'}), 'hosts[0].options.ProxyJump must be a single line'),
])
def test_bad_input_names_the_parameter(user, host, message):
    result = run_module('client_keepalive', dict(user=user.pw_name, hosts=[host]))
    assert result['failed'] and message in result['msg'], result['msg']
    assert not os.path.exists(os.path.join(user.pw_dir, '.ssh', 'config'))


@pytest.mark.parametrize('strict', [False, True])
def test_symlinked_config_is_refused(user, strict):
    ssh_dir = os.path.join(user.pw_dir, '.ssh')
    os.makedirs(ssh_dir)
    os.symlink('/etc/passwd', os.path.join(ssh_dir, 'config'))
    before = open('/etc/passwd').read()
    result = run_module('client_keepalive', dict(user=user.pw_name, hosts=PROFILE_HOSTS, strict=strict))
    assert 'is a symlink' in refusal(result, user.pw_name, strict)
    assert open('/etc/passwd').read() == before


def test_symlinked_ssh_dir_is_refused(user, tmp_path):
    target = tmp_path / 'elsewhere'
    target.mkdir()
    os.symlink(str(target), os.path.join(user.pw_dir, '.ssh'))
    result = run_module('client_keepalive', dict(user=user.pw_name, hosts=PROFILE_HOSTS))
    assert 'symlink or not a directory' in refusal(result, user.pw_name)
    assert os.listdir(str(target)) == []


def test_hard_linked_config_is_refused(user):
    ssh_dir = os.path.join(user.pw_dir, '.ssh')
    os.makedirs(ssh_dir)
    # on the home's filesystem: hard links cannot cross mounts (the test's /tmp is a bind mount)
    victim = pathlib.Path(os.path.dirname(user.pw_dir)) / '.keepalive-victim'
    victim.write_text('secret\n')
    try:
        os.link(str(victim), os.path.join(ssh_dir, 'config'))
        result = run_module('client_keepalive', dict(user=user.pw_name, hosts=PROFILE_HOSTS))
        assert 'hard links' in refusal(result, user.pw_name)
        assert victim.read_text() == 'secret\n'
    finally:
        victim.unlink()


def test_invalid_existing_config_fails_validation_untouched(user, tmp_path):
    config = tmp_path / 'config'
    config.write_text('Host x\n    NoSuchOption yes\n')
    result = run_module('client_keepalive', dict(path=str(config), hosts=PROFILE_HOSTS))
    assert result['failed'] and 'nosuchoption' in result['msg'].lower() and 'nothing was changed' in result['msg']
    assert config.read_text() == 'Host x\n    NoSuchOption yes\n'
    assert os.listdir(str(tmp_path)) == ['config']


def test_system_wide_goes_to_the_included_drop_in(tmp_path):
    etc = tmp_path / 'etc-ssh'
    (etc / 'ssh_config.d').mkdir(parents=True)
    main = etc / 'ssh_config'
    main.write_text('Include %s/ssh_config.d/*.conf\n\nHost *\n    SendEnv LANG LC_*\n    ServerAliveInterval 5\n' % etc)
    result = run_module('client_keepalive', dict(system_config=str(main), hosts=[PROFILE_HOSTS[0], PROFILE_HOSTS[3]]))
    dropin = str(etc / 'ssh_config.d' / '50-keepalive.conf')
    assert result['path'] == dropin and owner(dropin) == ('root', 'root', '0o644')
    assert main.read_text().endswith('ServerAliveInterval 5\n')  # the packaged file is not edited
    assert 'ServerAliveInterval at %s:5 is never used for "Host *": %s sets it first' % (main, dropin) \
        in result['messages'], result['messages']
    assert alive(main, 'bastion') == ('30', '20') and alive(main, 'other') == ('60', '10')


@pytest.mark.parametrize('check', [False, True])
def test_system_wide_drop_in_directory_missing_is_refused_in_check_mode_too(tmp_path, check):
    etc = tmp_path / 'etc-ssh'
    etc.mkdir()
    main = etc / 'ssh_config'
    main.write_text('Include %s/ssh_config.d/*.conf\n\nHost *\n    SendEnv LANG LC_*\n' % etc)
    result = run_module('client_keepalive', dict(system_config=str(main), hosts=[PROFILE_HOSTS[3]]), check=check)
    assert result.get('failed'), result
    assert result['msg'] == '%s does not exist; create it first (only a missing .ssh directory is created)' % (
        etc / 'ssh_config.d')
    assert os.listdir(str(etc)) == ['ssh_config']


def test_system_wide_without_drop_in_support_edits_the_file(tmp_path):
    main = tmp_path / 'ssh_config'
    main.write_text('Host *\n    SendEnv LANG LC_*\n')
    result = run_module('client_keepalive', dict(system_config=str(main), hosts=[PROFILE_HOSTS[3]]))
    assert result['path'] == str(main) and alive(main, 'x') == ('60', '10')


def test_home_outside_passwd_gets_a_user_owned_ssh_dir(user):
    # a home the user can reach (the file is read as the user), elsewhere than the passwd entry says
    home = pathlib.Path(os.path.dirname(user.pw_dir)) / '.keepalive-simhome'
    shutil.rmtree(str(home), ignore_errors=True)
    home.mkdir()
    try:
        config = home / '.ssh' / 'config'
        run_module('client_keepalive', dict(user=user.pw_name, path=str(config), hosts=PROFILE_HOSTS))
        assert owner(str(home / '.ssh')) == (user.pw_name, user.pw_name, '0o700')
        assert owner(str(config)) == (user.pw_name, user.pw_name, '0o600')
    finally:
        shutil.rmtree(str(home))


def test_interval_derived_from_nat_idle_timeout(tmp_path):
    config = tmp_path / 'config'
    run_module('client_keepalive', dict(path=str(config), hosts=[dict(pattern='legacy-*', nat_idle_timeout=300)]))
    assert ssh_G(config, 'legacy-1')['serveraliveinterval'] == '240'
    result = run_module('client_keepalive', dict(path=str(config), hosts=[
        dict(pattern='x', server_alive_interval=400, nat_idle_timeout=300)]))
    assert result['failed'] and 'hosts[0].server_alive_interval=400 is not below hosts[0].nat_idle_timeout=300' in result['msg']


def test_several_users_in_one_call(users, tmp_path):
    for pw in users.values():
        shutil.rmtree(os.path.join(pw.pw_dir, '.ssh'), ignore_errors=True)
    call = dict(users=[dict(name='kaalice', hosts=PROFILE_HOSTS),
                       dict(name='kabob', hosts=PROFILE_HOSTS[:1])])
    result = run_module('client_keepalive', call)
    assert result['changed'] and len(result['results']) == 2 and len(result['diff']) == 2
    alice = os.path.join(users['kaalice'].pw_dir, '.ssh', 'config')
    bob = os.path.join(users['kabob'].pw_dir, '.ssh', 'config')
    assert result['files'] == [alice, bob]
    assert owner(bob) == ('kabob', 'kabob', '0o600') and alive(alice, 'prod-web1') == ('120', '5')
    assert run_module('client_keepalive', call)['changed'] is False
    bad = run_module('client_keepalive', dict(users=[dict(name='kaalice', hosts=PROFILE_HOSTS),
                                                     dict(name='kabob', hosts=[dict(pattern='a#b')])]))
    assert bad['failed'] and bad['msg'].startswith('users[1].hosts[0].pattern must not contain "#"')
    missing = run_module('client_keepalive', dict(users=[dict(name='nobody-here', hosts=PROFILE_HOSTS)]))
    assert missing['msg'] == 'users[0] (nobody-here): user=nobody-here does not exist in the passwd database'
    for pw in users.values():
        shutil.rmtree(os.path.join(pw.pw_dir, '.ssh'), ignore_errors=True)


def test_unknown_user_in_a_batch_touches_no_file(users):
    alice = users['kaalice']
    shutil.rmtree(os.path.join(alice.pw_dir, '.ssh'), ignore_errors=True)
    result = run_module('client_keepalive', dict(users=[dict(name='kaalice', hosts=PROFILE_HOSTS),
                                                        dict(name='nobody-here', hosts=PROFILE_HOSTS)]))
    assert result['failed'] and result['msg'].startswith('users[1] (nobody-here): user=nobody-here does not exist')
    assert not os.path.exists(os.path.join(alice.pw_dir, '.ssh'))
