"""sshd_keepalive run for real on scratch trees; the truth comes from `sshd -T`."""
import os

import pytest

from kalib import SSHD, run, run_module, sshd_T

from ansible_collections.keepalive.ssh.plugins.module_utils.timing import assumed, openssh_version

# Every stock/realistic server fixture: after one run sshd really uses 60/10, and a second run is a no-op.
SERVER_FIXTURES = ['debian12', 'debian13', 'ubuntu2204', 'ubuntu2404', 'ubuntu2404-cloud',
                   'ubuntu2204-cloud-two-dropins', 'rhel9', 'rocky9', 'fedora40', 'amazonlinux2023', 'alpine',
                   'freebsd14', 'match-blocks', 'global-after-match', 'duplicates', 'equals-syntax', 'mixed-case',
                   'quoted', 'crlf', 'tabs', 'no-trailing-newline', 'utf8-comments', 'trailing-comments', 'empty',
                   'comments-only', 'tcpkeepalive-set', 'include-in-match']


def args(config, hostkey, **kw):
    base = dict(path=str(config), client_alive_interval=60, client_alive_count_max=10,
                validate='%s -t -f %%s -h %s' % (SSHD, hostkey))
    base.update(kw)
    return base


@pytest.mark.parametrize('fixture', SERVER_FIXTURES)
def test_values_are_effective_and_second_run_is_noop(fixture, sshd_tree, hostkey):
    config = sshd_tree(fixture)
    first = run_module('sshd_keepalive', args(config, hostkey))
    assert first['changed'] is True, first
    eff = sshd_T(config, hostkey)
    assert (eff['clientaliveinterval'], eff['clientalivecountmax']) == ('60', '10')
    assert first['effective']['ClientAliveInterval']['value'] == '60'
    second = run_module('sshd_keepalive', args(config, hostkey))
    assert second['changed'] is False and second['diff'] == [] and second['files'] == []


def test_cloud_init_dropin_is_reported_as_changed_file(sshd_tree, hostkey):
    config = sshd_tree('ubuntu2404-cloud')
    dropin = str(config.parent / 'sshd_config.d' / '50-cloud-init.conf')
    assert sshd_T(config, hostkey)['clientaliveinterval'] == '0'
    result = run_module('sshd_keepalive', args(config, hostkey))
    assert result['files'] == [str(config), dropin]
    assert result['effective']['ClientAliveInterval']['file'] == dropin
    assert sshd_T(config, hostkey)['clientaliveinterval'] == '60'


def test_check_mode_changes_nothing_and_predicts_the_diff(sshd_tree, hostkey):
    config = sshd_tree('ubuntu2404-cloud')
    before = {p: open(p).read() for p in (str(config), str(config.parent / 'sshd_config.d' / '50-cloud-init.conf'))}
    predicted = run_module('sshd_keepalive', args(config, hostkey), check=True)
    assert {p: open(p).read() for p in before} == before
    real = run_module('sshd_keepalive', args(config, hostkey))
    assert predicted['changed'] and predicted['diff'] == real['diff'] and predicted['files'] == real['files']
    assert [d['before_header'] for d in real['diff']] == real['files']


def test_backup_keeps_the_original(sshd_tree, hostkey):
    config = sshd_tree('match-blocks')
    original = config.read_text()
    result = run_module('sshd_keepalive', args(config, hostkey, backup=True))
    assert open(result['backup_file']).read() == original
    assert set(result['backup_files']) == {str(config)}


def test_match_scope_is_what_sshd_uses_for_that_connection(sshd_tree, hostkey):
    config = sshd_tree('match-blocks')
    run_module('sshd_keepalive', args(config, hostkey, match='User deploy', client_alive_interval=15,
                                      client_alive_count_max=4))
    deploy = sshd_T(config, hostkey, 'user=deploy,host=h,addr=192.0.2.1')
    other = sshd_T(config, hostkey, 'user=other,host=h,addr=192.0.2.1')
    assert (deploy['clientaliveinterval'], deploy['clientalivecountmax']) == ('15', '4')
    assert other['clientaliveinterval'] == '300'


def test_global_after_match_is_fixed_and_warned(sshd_tree, hostkey):
    config = sshd_tree('global-after-match')
    assert sshd_T(config, hostkey)['clientaliveinterval'] == '0'  # the trap: those lines are inside the Match
    result = run_module('sshd_keepalive', args(config, hostkey))
    assert sshd_T(config, hostkey)['clientaliveinterval'] == '60'
    assert any('Match User backup' in w for w in result.get('warnings', []))


def test_tcp_keepalive_only_when_asked(sshd_tree, hostkey):
    config = sshd_tree('debian12')
    run_module('sshd_keepalive', args(config, hostkey))
    assert 'TCPKeepAlive' not in config.read_text().replace('#TCPKeepAlive', '')
    run_module('sshd_keepalive', args(config, hostkey, tcp_keepalive=False))
    assert sshd_T(config, hostkey)['tcpkeepalive'] == 'no'


def test_absent_restores_sshd_defaults(sshd_tree, hostkey):
    config = sshd_tree('rocky9')
    assert sshd_T(config, hostkey)['clientaliveinterval'] == '300'
    result = run_module('sshd_keepalive', args(config, hostkey, state='absent'))
    assert result['changed']
    eff = sshd_T(config, hostkey)
    assert (eff['clientaliveinterval'], eff['clientalivecountmax']) == ('0', '3')


def test_sshd_t_rejection_leaves_files_untouched(sshd_tree, hostkey):
    config = sshd_tree('debian12')
    dropin = config.parent / 'sshd_config.d' / '99-broken.conf'
    dropin.parent.mkdir()
    dropin.write_text('NoSuchKeyword yes\n')
    before = config.read_text()
    result = run_module('sshd_keepalive', args(config, hostkey))
    assert result['failed'] and 'nothing was changed' in result['msg']
    assert 'NoSuchKeyword' in result['msg'] and str(dropin) in result['msg']  # real paths, not the staging copy
    assert config.read_text() == before
    assert not [f for f in os.listdir(str(config.parent)) if f.startswith('.')]


def test_default_validation_uses_the_sshd_binary(sshd_tree, hostkey):
    config = sshd_tree('match-blocks')
    config.write_text('HostKey %s\n' % hostkey + config.read_text())  # sshd -t needs a readable host key
    result = run_module('sshd_keepalive', dict(path=str(config), client_alive_interval=60, sshd_binary=SSHD))
    assert result['changed'] and not result.get('failed')


def test_missing_sshd_binary_is_a_clear_error(sshd_tree, hostkey):
    config = sshd_tree('debian12')
    before = config.read_text()
    result = run_module('sshd_keepalive', dict(path=str(config), client_alive_interval=60,
                                               sshd_binary='/nonexistent/sshd'))
    assert result['failed'] and 'sshd_binary=/nonexistent/sshd' in result['msg'] and 'openssh-server' in result['msg']
    assert config.read_text() == before


@pytest.mark.parametrize('extra,message', [
    (dict(client_alive_interval=-5), 'client_alive_interval must be between 0 and 2147483647, got -5'),
    (dict(client_alive_count_max=2 ** 31), 'client_alive_count_max must be between 0 and 2147483647'),
    (dict(client_alive_interval='ten'), "client_alive_interval"),
    (dict(match='User x', tcp_keepalive=True), 'TCPKeepAlive cannot be set inside a Match block'),
])
def test_bad_input_names_parameter_and_writes_nothing(sshd_tree, hostkey, extra, message):
    config = sshd_tree('debian12')
    before = config.read_text()
    result = run_module('sshd_keepalive', args(config, hostkey, **extra))
    assert result['failed'] and message in result['msg'], result['msg']
    assert config.read_text() == before


@pytest.mark.parametrize('extra,message', [
    (dict(), 'one of the following is required: client_alive_interval, client_alive_count_max, tcp_keepalive, '
             'nat_idle_timeout, options'),
    (dict(options={}), 'nothing to set: give client_alive_interval, client_alive_count_max, tcp_keepalive, '
                       'nat_idle_timeout or options'),
    (dict(options={}, state='absent'), 'nothing to remove: give client_alive_interval'),
])
def test_a_call_that_asks_for_nothing_fails(sshd_tree, hostkey, extra, message):
    config = sshd_tree('debian12')
    before = config.read_text()
    result = run_module('sshd_keepalive', dict(path=str(config), include_base=str(config.parent), **extra))
    assert result.get('failed') and message in result['msg'], result
    assert config.read_text() == before


def test_path_that_is_a_directory(tmp_path):
    result = run_module('sshd_keepalive', dict(path=str(tmp_path), client_alive_interval=60))
    assert result['failed'] and 'is a directory' in result['msg']


def test_semantic_warnings_are_returned(sshd_tree, hostkey):
    config = sshd_tree('debian12')
    result = run_module('sshd_keepalive', args(config, hostkey, client_alive_interval=0, client_alive_count_max=0))
    warnings = ' '.join(result['warnings'])
    assert 'ClientAliveCountMax 0 disables the disconnect' in warnings and 'Interval 0 disables keepalive' in warnings


def local_sshd_version():
    return openssh_version(run([SSHD, '-V']).stderr)


def fake_sshd(tmp_path, says):
    """An 'sshd' that only answers -V (as OpenSSH 8.x's does: an error, then its version in the usage)."""
    path = tmp_path / 'fake-sshd'
    path.write_text('#!/bin/sh\nprintf "%%s\\n" "unknown option -- V" "%s" >&2\nexit 1\n' % says)
    path.chmod(0o755)
    return str(path)


def test_interval_derived_from_nat_idle_timeout_for_this_hosts_sshd(sshd_tree, hostkey):
    config = sshd_tree('debian12')
    result = run_module('sshd_keepalive', dict(args(config, hostkey, nat_idle_timeout=300), client_alive_interval=None))
    timing = assumed(local_sshd_version())
    assert timing.measured and result['timing'] == timing.as_result()
    # 300 - 20 %, divided by the intervals between two keepalives of this sshd (9.2: 2, so 120)
    assert result['effective']['ClientAliveInterval']['value'] == str(240 // timing.period)
    assert sshd_T(config, hostkey)['clientaliveinterval'] == str(240 // timing.period)


@pytest.mark.parametrize('banner,interval,measured', [
    ('OpenSSH_8.4p1 Debian-5+deb11u3, OpenSSL 1.1.1w  11 Sep 2023', 240, True),
    ('OpenSSH_9.2, OpenSSL 3.0.20 7 Apr 2026', 120, True),
    ('OpenSSH_7.4p1, OpenSSL 1.0.2k-fips  26 Jan 2017', 120, False),   # not measured: the longest period
    ('not an OpenSSH at all', 120, False),
])
def test_the_derivation_follows_the_sshd_version_of_the_host(sshd_tree, tmp_path, banner, interval, measured):
    config = sshd_tree('debian12')
    result = run_module('sshd_keepalive', dict(path=str(config), nat_idle_timeout=300, validate=False,
                                               sshd_binary=fake_sshd(tmp_path, banner)))
    assert result['effective']['ClientAliveInterval']['value'] == str(interval), result
    assert result['timing']['measured'] is measured
    assert ('not among the measured versions' in ' '.join(result.get('warnings', []))) is not measured


def test_dead_peer_budget_is_count_max_plus_one_periods_of_the_hosts_sshd(sshd_tree, tmp_path):
    """interval 60, count-max 4, budget 300 s: dropped after (4 + 1) x 60 = 300 s on 8.4 (accepted); 61 on 9.2:
    after (4 + 1) x 2 x 61 = 610 s, refused, naming the largest interval and count-max that fit."""
    values = dict(client_alive_interval=60, client_alive_count_max=4, dead_peer_timeout=300, validate=False)
    config = str(sshd_tree('debian12'))
    old = run_module('sshd_keepalive', dict(values, path=config,
                                            sshd_binary=fake_sshd(tmp_path, 'OpenSSH_8.4p1 Debian-5')))
    assert not old.get('failed') and old['effective']['ClientAliveInterval']['value'] == '60', old
    new = run_module('sshd_keepalive', dict(values, path=config, client_alive_interval=61,
                                            sshd_binary=fake_sshd(tmp_path, 'OpenSSH_9.2, OpenSSL 3.0.20')))
    assert new['failed'] and ('(client_alive_count_max + 1) × 2 × client_alive_interval = (4 + 1) × 2 × 61 = 610 s '
                              'exceeds dead_peer_timeout=300 s') in new['msg']
    assert 'client_alive_interval at most 30 or client_alive_count_max at most 1' in new['msg']


@pytest.mark.parametrize('extra,message', [
    (dict(client_alive_interval=150, nat_idle_timeout=300),
     '2 × client_alive_interval=150 is not below nat_idle_timeout=300: the path drops an idle connection before the '
     'first keepalive (sshd (OpenSSH 9.2) sends a keepalive every 2 × ClientAliveInterval (measured)); use at most '
     '149, or omit the interval to derive 120'),
    (dict(client_alive_interval=30, client_alive_count_max=10, dead_peer_timeout=300),
     '(client_alive_count_max + 1) × 2 × client_alive_interval = (10 + 1) × 2 × 30 = 660 s exceeds '
     'dead_peer_timeout=300 s'),
    (dict(client_alive_interval=60, client_alive_count_max=None, dead_peer_timeout=300),
     '= (3 + 1) × 2 × 60 = 480 s exceeds'),
])
def test_timing_contradictions_on_this_hosts_sshd_fail_clearly(sshd_tree, hostkey, extra, message):
    assert local_sshd_version() == '9.2'  # the messages below are 9.2's (Debian 12, this machine)
    config = sshd_tree('debian12')
    before = config.read_text()
    result = run_module('sshd_keepalive', args(config, hostkey, **extra))
    assert result['failed'] and message in result['msg'], result['msg']
    assert config.read_text() == before


def test_other_options_in_the_same_scope(sshd_tree, hostkey):
    config = sshd_tree('match-blocks')
    run_module('sshd_keepalive', args(config, hostkey, options={'LoginGraceTime': '30'}))
    assert sshd_T(config, hostkey)['logingracetime'] == '30'
    result = run_module('sshd_keepalive', args(config, hostkey, options={'Port': '22'}, match='User deploy'))
    assert result['failed'] and 'Port cannot be set inside a Match block' in result['msg']
