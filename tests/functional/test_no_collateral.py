"""No collateral change (issue 11): the modules compare ssh -G / sshd -T before and after every edit,
and tell honestly whose configuration OpenSSH rejects.  The corpus property runs real OpenSSH on
hypothesis-generated edits of every fixture."""
import os
import shutil
import stat

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from ansible_collections.keepalive.ssh.plugins.module_utils.keepalive import (
    HostSpec,
    apply_client,
    apply_server,
    client_probe_hosts,
    collateral_changes,
    server_probe_connections,
)
from ansible_collections.keepalive.ssh.plugins.module_utils.sshconf import SSH, SSHD, Tree
from ansible_collections.keepalive.ssh.plugins.module_utils.staging import Stage
from kalib import FIXTURES, SSHD as SSHD_BIN, materialize, run, run_module, ssh_G

HOSTS = [dict(pattern='bastion', server_alive_interval=30, server_alive_count_max=20),
         dict(pattern='*', server_alive_interval=60)]


def script(path, text):
    path.write_text(text)
    path.chmod(stat.S_IRWXU)
    return str(path)


def test_issue_example_user_is_the_same_after_the_run(tmp_path):
    """Host * (User admin) first, 'Host swarm-0 swarm-1' (User root) later: ssh swarm-0 stays admin."""
    config = tmp_path / 'config'
    shutil.copy(os.path.join(FIXTURES, 'ssh', 'host-star-user-later', 'config'), str(config))
    assert ssh_G(config, 'swarm-0')['user'] == 'admin'
    result = run_module('client_keepalive', dict(path=str(config), hosts=[
        dict(pattern='swarm-0 swarm-1', server_alive_interval=30)]))
    assert result['changed'] and not result.get('failed'), result
    got = ssh_G(config, 'swarm-0')
    assert (got['user'], got['port'], got['serveraliveinterval']) == ('admin', '2222', '30')


def test_every_ssh_G_of_the_check_runs_as_the_user(user):
    """A user's Match exec logs who evaluated the file: validation and both sides of the check, all as them."""
    artifact = '/tmp/keepalive-place-whoami'
    if os.path.lexists(artifact):
        os.unlink(artifact)
    ssh_dir = os.path.join(user.pw_dir, '.ssh')
    os.makedirs(ssh_dir, mode=0o700)
    config = os.path.join(ssh_dir, 'config')
    with open(config, 'w') as f:
        f.write('Match exec "id -u >> %s"\n    User x\nHost bastion\n    User ops\nHost *\n    User y\n' % artifact)
    for path in (ssh_dir, config):
        os.chown(path, user.pw_uid, user.pw_gid)
    try:
        result = run_module('client_keepalive', dict(user=user.pw_name, hosts=HOSTS))
        assert result['changed'] and not result.get('failed'), result
        with open(artifact) as f:
            uids = f.read().split()
        names = 2 + 3  # bastion, x (for *), then localhost, example.org, keepalive-probe.invalid
        assert len(uids) >= 2 * names and set(uids) == {str(user.pw_uid)}, uids
    finally:
        if os.path.lexists(artifact):
            os.unlink(artifact)


def test_client_check_fails_naming_keyword_and_host(tmp_path):
    """An ssh whose answer for the candidate differs in 'user' (standing in for an engine bug)."""
    config = tmp_path / 'config'
    config.write_text('Host bastion\n    User ops\n\nHost *\n    ForwardAgent no\n')
    fake = script(tmp_path / 'ssh', '#!/bin/sh\nout=$(ssh "$@") || exit $?\n'
                  'if grep -q "ServerAliveCountMax 20" "$3"; then echo "$out" | sed "s/^user .*/user intruder/"; '
                  'else echo "$out"; fi\n')
    before = config.read_text()
    result = run_module('client_keepalive', dict(path=str(config), hosts=HOSTS, ssh_binary=fake))
    assert result.get('failed'), result
    assert 'no-collateral check failed, nothing was changed' in result['msg']
    assert 'effective user for host bastion' in result['msg']
    assert config.read_text() == before


def test_server_check_fails_naming_keyword_and_connection(tmp_path, hostkey):
    config = materialize('sshd', 'match-blocks', tmp_path / 'm') / 'sshd_config'
    fake = script(tmp_path / 'sshd', '#!/bin/sh\nfor a; do [ "$prev" = -f ] && f=$a; prev=$a; done\n'
                  'out=$(%s "$@") || exit $?\n'
                  'if grep -q "ClientAliveCountMax 10" "$f"; then echo "$out" | sed "s/^x11forwarding .*/x11forwarding flip/"; '
                  'else echo "$out"; fi\n' % SSHD_BIN)
    before = config.read_text()
    result = run_module('sshd_keepalive', dict(path=str(config), include_base=str(config.parent),
                                               client_alive_interval=60, client_alive_count_max=10,
                                               validate='%s -t -f %%s -h %s' % (fake, hostkey)))
    assert result.get('failed'), result
    assert 'effective x11forwarding for connection user=root,host=localhost' in result['msg']
    assert config.read_text() == before


def test_client_check_passes_and_runs_only_when_the_file_changes(tmp_path):
    config = tmp_path / 'config'
    shutil.copy(os.path.join(FIXTURES, 'ssh', 'host-star-user-later', 'config'), str(config))
    log = tmp_path / 'calls'
    counting = script(tmp_path / 'ssh', '#!/bin/sh\nfor a; do last=$a; done\necho "$last" >> %s\nexec ssh "$@"\n' % log)
    args = dict(path=str(config), hosts=[dict(pattern='swarm-0', server_alive_interval=30)], ssh_binary=counting)
    first = run_module('client_keepalive', args)
    assert first['changed'] and not first.get('failed'), first
    names = log.read_text().split()
    # validation (swarm-0), then every name of the file and the generic ones, after and before the change
    assert names.count('swarm-1') == 2 and names.count('bastion') == 2 and names.count('localhost') == 2
    log.write_text('')
    assert run_module('client_keepalive', args)['changed'] is False
    assert log.read_text() == ''


def test_file_rejected_before_any_change_is_said_so(tmp_path):
    config = tmp_path / 'config'
    config.write_text('Host old\n    Colour blue\n')
    result = run_module('client_keepalive', dict(path=str(config), hosts=HOSTS))
    assert result['msg'] == (
        'validation failed, nothing was changed: ssh already rejected the configuration before any change: '
        "%s line 2: Bad configuration option: colour; the installed OpenSSH does not know colour: remove or "
        "comment out that line, or let ssh skip it with 'IgnoreUnknown colour' above that line (as for another "
        "OpenSSH's options, such as macOS's UseKeychain), then run again" % config)
    assert config.read_text() == 'Host old\n    Colour blue\n'


def test_every_line_ssh_rejects_is_named_in_one_run(tmp_path):
    text = 'Host mac\n    UseKeychain yes\n    ServerAliveInterval soon\n    RSAAuthentication yes\n'
    config = tmp_path / 'config'
    config.write_text(text)
    result = run_module('client_keepalive', dict(path=str(config), hosts=HOSTS))
    assert result['msg'] == (
        "validation failed, nothing was changed: ssh already rejected the configuration before any change: "
        "%s line 2: Bad configuration option: usekeychain; %s line 3: invalid time value.; the installed "
        "OpenSSH does not know usekeychain: remove or comment out that line, or let ssh skip it with "
        "'IgnoreUnknown usekeychain' above that line (as for another OpenSSH's options, such as macOS's "
        "UseKeychain), then run again" % (config, config))
    assert config.read_text() == text


def test_our_change_rejected_names_the_line_of_the_real_file(tmp_path):
    config = tmp_path / 'config'
    config.write_text('Host *\n    ServerAliveInterval 300\n\nHost web\n    User w\n')
    result = run_module('client_keepalive', dict(path=str(config), hosts=[
        dict(pattern='web', server_alive_interval=30, options=dict(Colour='blue'))]))
    assert result['msg'] == (
        'validation failed, nothing was changed: our change would make ssh reject the configuration: '
        '%s, the line we would add at the top: Bad configuration option: colour; the installed OpenSSH does '
        'not know colour: leave it out of options, or install an OpenSSH that supports it' % config)


def test_sshd_rejection_before_any_change(tmp_path, hostkey):
    config = materialize('sshd', 'debian12', tmp_path / 'd') / 'sshd_config'
    with open(str(config), 'a') as f:
        f.write('NoSuchOption yes\n')
    lines = config.read_text().count('\n')
    result = run_module('sshd_keepalive', dict(path=str(config), include_base=str(config.parent),
                                               client_alive_interval=60,
                                               validate='%s -t -f %%s -h %s' % (SSHD_BIN, hostkey)))
    assert ('sshd already rejected the configuration before any change: %s line %d: Bad configuration option: '
            'NoSuchOption; the installed OpenSSH does not know NoSuchOption' % (config, lines)) in result['msg']


def test_rejected_include_outside_the_managed_file_is_not_echoed(tmp_path):
    """A user's Include of a file they cannot read themselves: its text never reaches the result."""
    secret = tmp_path / 'secret'
    secret.write_text('root:$6$notsosecret:19000:0:99999:7:::\n')
    config = tmp_path / 'config'
    config.write_text('Include %s\nHost a\n    User b\n' % secret)
    result = run_module('client_keepalive', dict(path=str(config), hosts=HOSTS))
    assert result.get('failed') and 'already rejected' in result['msg'], result
    assert '%s line 1' % secret in result['msg']
    assert 'notsosecret' not in repr(result)


# -- the property over the corpus, judged by OpenSSH -------------------------------------------

def tool_output(argv):
    proc = run(argv)
    assert proc.returncode == 0, (argv, proc.stderr)
    return proc.stdout


def outputs(tree, argv_for, original):
    with Stage(tree, original=original) as staged:
        return [tool_output(argv) for argv in argv_for(staged)]


SSH_FIXTURES = sorted(os.listdir(os.path.join(FIXTURES, 'ssh')))
SSHD_FIXTURES = sorted(os.listdir(os.path.join(FIXTURES, 'sshd')))
PATTERNS = st.sampled_from(['*', 'bastion', 'prod-*', 'swarm-0', 'swarm-0 swarm-1', 'vinci', 'vinci vinci.example.org',
                            'host03', 'web1', 'web1 web2 !web3', 'gitlab', '*.example.com', 'legacy.example.com',
                            'build-*', 'home', 'new-host'])
VALUES = st.integers(min_value=0, max_value=600)
SLOW = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                      HealthCheck.too_slow])


@pytest.mark.parametrize('name', SSH_FIXTURES)
@SLOW
@given(edits=st.lists(st.tuples(PATTERNS, VALUES, st.one_of(st.none(), VALUES)), min_size=1, max_size=3,
                      unique_by=lambda e: e[0]))
def test_client_edits_change_no_other_keyword(tmp_path_factory, name, edits):
    dest = tmp_path_factory.mktemp('c') / name
    materialize('ssh', name, dest)
    specs = [HostSpec(tuple(p.split()), {'ServerAliveInterval': i, 'ServerAliveCountMax': c}) for p, i, c in edits]
    tree = Tree(str(dest / 'config'), SSH)
    apply_client(tree, specs)
    if not tree.main.changed:
        return
    names = client_probe_hosts(tree)

    def argv_for(staged):
        return [['ssh', '-G', '-F', staged, n] for n in names]

    before, after = outputs(tree, argv_for, True), outputs(tree, argv_for, False)
    for host, old, new in zip(names, before, after):
        assert collateral_changes(old, new, ['ServerAliveInterval', 'ServerAliveCountMax']) == [], (name, host)


@pytest.mark.parametrize('name', SSHD_FIXTURES)
@SLOW
@given(interval=VALUES, count=st.one_of(st.none(), VALUES), tcp=st.sampled_from([None, 'yes', 'no']),
       match=st.sampled_from([None, 'User backup', 'Address 10.0.0.0/8', 'User alice']))
def test_server_edits_change_no_other_keyword(tmp_path_factory, hostkey, name, interval, count, tcp, match):
    dest = tmp_path_factory.mktemp('s') / name
    materialize('sshd', name, dest)
    settings_ = {'ClientAliveInterval': interval, 'ClientAliveCountMax': count,
                 'TCPKeepAlive': None if match else tcp}  # sshd takes TCPKeepAlive globally only
    tree = Tree(str(dest / 'sshd_config'), SSHD, base_dir=str(dest))
    apply_server(tree, settings_, match=match)
    if not tree.changed_docs():
        return
    specs = server_probe_connections(tree)

    def argv_for(staged):
        return [[SSHD_BIN, '-T', '-f', staged, '-h', str(hostkey), '-C', s] for s in specs]

    before, after = outputs(tree, argv_for, True), outputs(tree, argv_for, False)
    for spec, old, new in zip(specs, before, after):
        assert collateral_changes(old, new, [k for k, v in settings_.items() if v is not None]) == [], (name, spec)


# -- keywords ssh derives from managed ones (the false positive of b04a5d8) ----------------------

def guarded_options(tmp_path):
    """What tests/e2e/test_idle_sessions.py asked the client role for before b04a5d8: a new block whose
    options include a UserKnownHostsFile of its own."""
    return dict(HostName='127.0.0.1', Port='2522', User='root', IdentityFile=str(tmp_path / 'key'),
                UserKnownHostsFile=str(tmp_path / 'known_hosts'), BatchMode='yes', TCPKeepAlive='no')


def test_requested_known_hosts_file_may_change_the_derived_updatehostkeys(tmp_path):
    """ssh derives UpdateHostKeys (when not set) from UserKnownHostsFile and VerifyHostKeyDNS: a block
    we were asked to give its own known_hosts file turns it from true to false for that host, which is
    the requested change, not a collateral one."""
    (tmp_path / '.ssh').mkdir(mode=0o700)
    config = tmp_path / '.ssh' / 'config'  # does not exist yet, as in the idle tests before b04a5d8
    (tmp_path / 'empty').write_text('')
    assert ssh_G(tmp_path / 'empty', 'guarded')['updatehostkeys'] == 'true'
    result = run_module('client_keepalive', dict(path=str(config), hosts=[
        dict(pattern='guarded', server_alive_interval=1, server_alive_count_max=3, options=guarded_options(tmp_path))]))
    assert not result.get('failed') and result['changed'], result
    got = ssh_G(config, 'guarded')
    assert (got['serveraliveinterval'], got['userknownhostsfile'], got['updatehostkeys']) == (
        '1', str(tmp_path / 'known_hosts'), 'false')
    for other in ('localhost', 'example.org'):  # every other host keeps ssh's defaults
        assert ssh_G(config, other)['updatehostkeys'] == 'true'


def test_derived_updatehostkeys_is_still_checked_when_its_sources_change(tmp_path):
    """An ssh whose candidate output says 'updatehostkeys ask' whatever the sources are (standing in for an
    engine bug that writes or moves an UpdateHostKeys line): the sources changed too, but pinning them on
    both sides still shows a difference, so the check fails."""
    config = tmp_path / 'config'
    config.write_text('Host bastion\n    User ops\n')
    fake = script(tmp_path / 'ssh', '#!/bin/sh\nfor a; do [ "$prev" = -F ] && f=$a; prev=$a; done\n'
                  'out=$(ssh "$@") || exit $?\n'
                  'if grep -q "ServerAliveCountMax 3" "$f"; then echo "$out" | sed "s/^updatehostkeys .*/updatehostkeys ask/"; '
                  'else echo "$out"; fi\n')
    result = run_module('client_keepalive', dict(path=str(config), ssh_binary=fake, hosts=[
        dict(pattern='guarded', server_alive_interval=1, server_alive_count_max=3, options=guarded_options(tmp_path))]))
    assert result.get('failed'), result
    assert 'effective updatehostkeys for host' in result['msg'], result['msg']
    assert config.read_text() == 'Host bastion\n    User ops\n'


def test_users_entry_with_its_own_known_hosts_file_is_not_skipped(tmp_path):
    """The same request as one entry of ``users`` (what the client role passes, checked as that user):
    before the fix the user was skipped with a warning while the play still succeeded."""
    (tmp_path / '.ssh').mkdir(mode=0o700)
    config = tmp_path / '.ssh' / 'config'
    result = run_module('client_keepalive', dict(users=[dict(name='root', path=str(config), hosts=[
        dict(pattern='guarded', server_alive_interval=1, server_alive_count_max=3,
             options=guarded_options(tmp_path))])]))
    assert not result.get('failed') and result['changed'], result
    assert result['skipped_users'] == [] and not result.get('warnings'), result
    assert ssh_G(config, 'guarded')['serveraliveinterval'] == '1'
