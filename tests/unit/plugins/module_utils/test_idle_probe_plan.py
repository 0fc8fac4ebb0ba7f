# -*- coding: utf-8 -*-
"""The idle probe's planning: ladder, bisection, limits, ssh command line, recommended values."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from hypothesis import given, strategies as st

from ansible_collections.keepalive.ssh.plugins.module_utils.idle_probe import (
    ProbeError,
    banner_version,
    bisection,
    ladder,
    max_rounds,
    recommended,
    ssh_argv,
    time_limit,
)
from ansible_collections.keepalive.ssh.plugins.module_utils.timing import assumed, derive_interval


def test_ladder_is_geometric_up_to_max_idle():
    assert ladder(10, 1800, 8) == [10, 21, 44, 93, 194, 408, 857, 1800]
    assert ladder(1, 6, 3) == [1, 2, 6]
    assert ladder(5, 5, 8) == [5]


@given(st.integers(1, 600), st.integers(1, 86400), st.integers(1, 32))
def test_ladder_bounds(start, max_idle, rungs):
    steps = ladder(start, max_idle, rungs)
    assert steps == sorted(set(steps)) and steps[-1] == max_idle and len(steps) <= rungs
    assert all(1 <= s <= max_idle for s in steps)


@given(st.integers(0, 5000), st.integers(1, 5000), st.integers(1, 60), st.integers(1, 32))
def test_bisection_points_lie_strictly_inside(lower, width, resolution, sessions):
    upper = lower + width
    points = bisection(lower, upper, resolution, sessions)
    assert all(lower < p < upper for p in points) and len(points) <= sessions
    if width > resolution:
        assert points
        gaps = [b - a for a, b in zip([lower] + points, points + [upper])]
        if len(points) < sessions:  # enough sessions: one round reaches the resolution
            assert max(gaps) <= resolution
    else:
        assert points == []


def test_bisection_examples():
    assert bisection(4, 8, 1, 6) == [5, 6, 7]
    assert bisection(194, 408, 10, 8) == [218, 242, 265, 289, 313, 337, 360, 384]


def test_time_limit_covers_ladder_and_bisection():
    assert max_rounds(1800, 10, 8) == 4
    assert time_limit(1800, 10, 8, 30, 5) == 4 * (1800 + 35)


def test_recommended_uses_the_modules_margin_and_the_probed_servers_period():
    assert recommended(300, '9.2') == {'nat_idle_timeout': 300, 'server_alive_interval': derive_interval(300),
                                       'server_alive_count_max': 3, 'client_alive_interval': derive_interval(300, 2),
                                       'server_timing': assumed('9.2').as_result()}
    assert recommended(300, '9.2')['server_alive_interval'] == 240
    assert recommended(300, '9.2')['client_alive_interval'] == 120  # sshd 9.2 sends every 2 x interval
    assert recommended(300, '10.0')['client_alive_interval'] == 240
    unknown = recommended(300, None)
    assert unknown['client_alive_interval'] == 120 and not unknown['server_timing']['measured']
    assert recommended(1) is None


def test_the_server_version_comes_from_its_banner_not_from_the_local_ssh():
    log = ('OpenSSH_10.0p2 Debian-7, OpenSSL 3.5.9 29 Sep 2026\n'
           'debug1: Remote protocol version 2.0, remote software version OpenSSH_9.2p1 Debian-2+deb12u10\n')
    assert banner_version(log) == '9.2'
    assert banner_version('OpenSSH_10.0p2 Debian-7\n') is None


def test_ssh_argv_is_silent_and_separate():
    argv = ssh_argv('/usr/bin/ssh', 'gw.example', 2222, 'probe', '/k', ['ProxyJump=jump'], 15)
    assert argv[:3] == ['/usr/bin/ssh', '-v', '-T'] and argv[-3:] == ['--', 'gw.example', 'cat']
    for opt in ('BatchMode=yes', 'ControlMaster=no', 'ControlPath=none', 'ServerAliveInterval=0',
                'TCPKeepAlive=no', 'ConnectTimeout=15', 'IdentitiesOnly=yes', 'ProxyJump=jump'):
        assert opt in argv
    assert argv[argv.index('-p') + 1] == '2222' and argv[argv.index('-l') + 1] == 'probe'


@pytest.mark.parametrize('host,options,msg', [
    ('-oProxyCommand=x', [], 'host must be'),
    ('a b', [], 'host must be'),
    ('h', ['TCPKeepAlive=yes'], 'must not set TCPKeepAlive'),
    ('h', ['controlpath=/tmp/x'], 'must not set controlpath'),
    ('h', ['NoEquals'], 'must look like'),
    ('h', ['Key=a\nb'], 'must look like'),
])
def test_ssh_argv_refuses(host, options, msg):
    with pytest.raises(ProbeError, match=msg):
        ssh_argv('ssh', host, options=options)
