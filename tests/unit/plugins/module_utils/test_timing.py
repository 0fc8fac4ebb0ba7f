"""The timing model keyed on the host's OpenSSH version (plugins/module_utils/timing.py).

The table itself is checked against the wire by tests/e2e/test_openssh_timing.py; here: what the derivation and
the checks make of it, and that every error hint names the true bound.
"""
import re

import pytest

from ansible_collections.keepalive.ssh.plugins.module_utils.keepalive import InputError
from ansible_collections.keepalive.ssh.plugins.module_utils.timing import (
    CONSERVATIVE,
    MEASURED,
    assumed,
    dead_peer_time,
    derive_interval,
    openssh_version,
    resolve_timing,
    timing_names,
)

SERVER = timing_names('client_alive_interval')
CLIENT = timing_names('server_alive_interval', 'hosts[1].')


@pytest.mark.parametrize('timeout,interval', [(300, 240), (30, 24), (2, 1), (3600, 2880)])
def test_derive_interval_keeps_a_margin(timeout, interval):
    assert derive_interval(timeout) == interval < timeout


@pytest.mark.parametrize('text,version', [
    ('unknown option -- V\nOpenSSH_8.4p1 Debian-5+deb11u3, OpenSSL 1.1.1w  11 Sep 2023\nusage: sshd [-46DdeiqTt]', '8.4'),
    ('OpenSSH_9.2, OpenSSL 3.0.20 7 Apr 2026\n', '9.2'),
    ('OpenSSH_10.0p2 Debian-7+deb13u4, OpenSSL 3.5.9 29 Sep 2026\n', '10.0'),
    ('OpenSSH_9.2p1', '9.2'),
    ('sshd: command not found', None),
    ('', None),
])
def test_openssh_version_from_v_output_and_old_usage_messages(text, version):
    assert openssh_version(text) == version


def test_the_host_version_picks_the_period_and_the_interval():
    """Behind a 300 s firewall: 240 on 8.4 and 10.x, 120 on 9.2 (it sends every 2 x interval), so a keepalive
    comes every 240 s on every version."""
    for version in ('8.4', '10.0', '10.6'):
        assert resolve_timing(SERVER, None, 3, 300, None, assumed(version)) == 240
    assert resolve_timing(SERVER, None, 3, 300, None, assumed('9.2')) == 120
    for version in MEASURED:
        timing = assumed(version)
        assert timing.measured and timing.period * resolve_timing(SERVER, None, 3, 300, None, timing) == 240


def test_a_version_outside_the_table_gets_the_longest_period_and_says_so():
    for version in ('8.0', '9.6', None):
        timing = assumed(version)
        assert not timing.measured and timing.period == 2 == CONSERVATIVE.server_period
        assert 'not among the measured versions' in timing.as_result()['message']
        assert resolve_timing(SERVER, None, 3, 300, None, timing) == 120
    assert CONSERVATIVE.server_period == max(t.server_period for t in MEASURED.values())


def test_the_client_side_needs_no_version():
    """ssh sends a keepalive every ServerAliveInterval on every measured version: the client modules derive and
    check with period 1.  A measured version that differs must key the client side on ssh's version too."""
    assert set(t.client_period for t in MEASURED.values()) == {1} == {CONSERVATIVE.client_period}


def test_dead_peer_time_is_count_max_plus_one_keepalive_periods():
    assert dead_peer_time(60, 4) == 300
    assert dead_peer_time(60, 4, 2) == 600


def test_interval_60_count_4_fits_300_s_where_sshd_sends_every_interval():
    """The example of issue 18: accepted where the model says 300 s, refused on 9.2 with the true formula."""
    for version in ('8.4', '10.0'):
        assert resolve_timing(SERVER, 60, 4, None, 300, assumed(version)) == 60
    with pytest.raises(InputError, match=re.escape(
            '(client_alive_count_max + 1) × 2 × client_alive_interval = (4 + 1) × 2 × 60 = 600 s exceeds '
            'dead_peer_timeout=300 s')):
        resolve_timing(SERVER, 60, 4, None, 300, assumed('9.2'))


def test_client_messages_name_the_parameters():
    assert resolve_timing(CLIENT, None, 5, 300) == 240
    assert resolve_timing(CLIENT, 60, None) == 60
    with pytest.raises(InputError, match=r'hosts\[1\].server_alive_interval=300 is not below hosts\[1\].nat_idle_timeout'):
        resolve_timing(CLIENT, 300, 3, 300)
    with pytest.raises(InputError, match=re.escape('(hosts[1].server_alive_count_max + 1) × hosts[1].server_alive_interval '
                                                   '= (10 + 1) × 60 = 660 s exceeds')):
        resolve_timing(CLIENT, 60, 10, None, 659)
    with pytest.raises(InputError, match='nat_idle_timeout must be between 2'):
        resolve_timing(CLIENT, None, 3, 1)


def _refusal(*args):
    with pytest.raises(InputError) as caught:
        resolve_timing(*args)
    return str(caught.value)


def test_a_timeout_no_interval_can_beat_says_so():
    """2 s behind an sshd that sends every 2 x interval: not even interval 1 (derived or given) is in time."""
    for interval in (None, 1):
        assert 'is too short for this sshd' in _refusal(SERVER, interval, 3, 2, None, assumed('9.2'))
    assert resolve_timing(SERVER, None, 3, 2, None, assumed('8.4')) == 1


@pytest.mark.parametrize('version', ['8.4', '9.2', None])
@pytest.mark.parametrize('nat', [3, 10, 299, 300, 301, 3600])
def test_the_nat_hint_is_the_longest_accepted_interval(version, nat):
    timing = assumed(version)
    hinted = int(re.search(r'use at most (\d+)', _refusal(SERVER, nat * 2, 3, nat, None, timing)).group(1))
    assert resolve_timing(SERVER, hinted, 3, nat, None, timing) == hinted
    assert 'is not below' in _refusal(SERVER, hinted + 1, 3, nat, None, timing)


@pytest.mark.parametrize('version', ['8.4', '9.2', None])
@pytest.mark.parametrize('interval,count,dead', [(60, 4, 299), (60, 10, 600), (30, 20, 599), (300, 3, 1000),
                                                 (60, 1, 100)])
def test_the_dead_peer_hints_are_the_largest_values_that_fit(version, interval, count, dead):
    timing = assumed(version)
    message = _refusal(SERVER, interval, count, None, dead, timing)
    hints = dict(re.findall(r'(client_alive_interval|client_alive_count_max) at most (\d+)', message))
    assert hints, message
    if 'client_alive_interval' in hints:
        best = int(hints['client_alive_interval'])
        assert resolve_timing(SERVER, best, count, None, dead, timing) == best
        assert 'exceeds' in _refusal(SERVER, best + 1, count, None, dead, timing)
    if 'client_alive_count_max' in hints:
        best = int(hints['client_alive_count_max'])
        assert resolve_timing(SERVER, interval, best, None, dead, timing) == interval
        assert 'exceeds' in _refusal(SERVER, interval, best + 1, None, dead, timing)
