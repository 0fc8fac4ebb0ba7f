"""A profile means the same on every OpenSSH version: firewall-5min keeps an idle session alive behind its
firewall on 8.4p1 (a keepalive every ClientAliveInterval) and on 9.2p1 (every 2 x ClientAliveInterval), with
the same number of keepalives on both, no more than the firewall needs.

The real parts, scaled down 30 times: the role's firewall-5min profile (nat_idle_timeout 300 → 10 s) goes
through the role's server_target filter to sshd_keepalive, which edits that version's sshd_config and asks
that version's sshd for its version (tests/lib/openssh_rootfs.py); the firewall is netfilter conntrack
forgetting a connection after 10 s of silence (tests/lib/conntrack.py).  A session silent for 26 s must still
echo, its packets must never have been dropped, and it must have got a keepalive every 8 s (240 s unscaled) on
both versions: 3, where keying the interval on one version's period would send 6 on 8.4 or let 9.2's
session die.
"""
import os
import threading

import yaml

from conntrack import IdleFirewall
from kalib import ROOT, run_module
from openssh_rootfs import Chroot

from ansible_collections.keepalive.ssh.plugins.filter.keepalive import server_target

SCALE = 30
SILENCE = 26
ECHO = 5
SERVER_KEEPALIVE = 'client_input_channel_req: channel 0 rtype keepalive@openssh.com reply 1'


def profiles():
    with open(os.path.join(ROOT, 'roles', 'sshd', 'defaults', 'main.yml')) as f:
        return yaml.safe_load(f)['sshd_keepalive_profiles']


def scaled(profile):
    """The profile with its timeout in test seconds (300 s → 10 s)."""
    assert profile['nat_idle_timeout'] % SCALE == 0
    return dict(profile, nat_idle_timeout=profile['nat_idle_timeout'] // SCALE)


def run_profile(suite, work_dir, port, target, out):
    with IdleFirewall(target['nat_idle_timeout']) as fw, Chroot(suite, work_dir) as box:
        config = box.config(port)
        result = run_module('sshd_keepalive', dict(
            path=config, client_alive_count_max=target['client_alive_count_max'],
            nat_idle_timeout=target['nat_idle_timeout'], validate=False, sshd_binary=box.sshd_binary(work_dir)))
        assert not result.get('failed') and result['timing']['measured'], result
        box.sshd(port)
        seen = fw.silence(box.ssh_argv(port, ServerAliveInterval=0), port, SILENCE, ECHO)
        out[suite] = (box.version, int(result['effective']['ClientAliveInterval']['value']), result['timing'], seen)


def test_firewall_5min_keeps_the_same_promise_on_8_4_and_9_2(tmp_path):
    target = server_target({'firewall-5min': scaled(profiles()['firewall-5min'])}, 'firewall-5min')
    assert target['client_alive_interval'] is None  # left to the module: it knows the host's sshd version
    out, threads = {}, []
    for n, suite in enumerate(('bullseye', 'bookworm')):
        work = tmp_path / suite
        work.mkdir()
        thread = threading.Thread(target=run_profile, args=(suite, str(work), 2760 + n, target, out), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(120)
    assert set(out) == {'bullseye', 'bookworm'}, 'a version failed to run: see the captured output'

    every = 8  # (10 s - 20 %): a keepalive at 8 s, 16 s, 24 s of the 26 s silence
    intervals = {}
    for suite, (version, interval, timing, seen) in out.items():
        intervals[version] = interval
        assert timing['keepalive_every_intervals'] * interval == every, (version, timing)
        assert seen.alive and seen.dropped == 0 and seen.entry['state'] == 'ESTABLISHED', (version, seen.log)
        assert seen.log.count(SERVER_KEEPALIVE) == SILENCE // every, (version, seen.log)
    assert intervals == {'8.4p1': 8, '9.2p1': 4}
