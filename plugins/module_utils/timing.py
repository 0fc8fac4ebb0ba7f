# -*- coding: utf-8 -*-
# Copyright: keepalive.ssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How often each OpenSSH version really sends keepalives, and when it drops a dead peer: measured, one model.

Every number here comes from the source repository's timing test, which runs each version's sshd and ssh
and times their keepalives on the wire; it fails when this table and the measurement disagree.  The model:

- a silent session gets a keepalive every ``period`` × interval (sshd: ClientAliveInterval, ssh:
  ServerAliveInterval), the first one ``period`` × interval after the last packet heard;
- a peer that stopped answering is dropped at the (count-max + 1)-th keepalive that would be sent, after
  (count-max + 1) × period × interval (ssh up to a second earlier: it counts whole seconds).

The derivation from a NAT idle timeout and the nat_idle_timeout / dead_peer_timeout checks use the row of the
host's version; a version outside the table gets ``CONSERVATIVE``, the row that keeps sessions alive: the
longest period (a firewall must see a keepalive even if sshd waits that long; a dead-peer budget must hold
even then).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import re

from ansible_collections.keepalive.ssh.plugins.module_utils.keepalive import InputError, check_int

# Intervals between two keepalives of a silent session: sshd (ClientAliveInterval), ssh (ServerAliveInterval).
Timing = collections.namedtuple('Timing', 'server_period client_period')

# Keyed on the OpenSSH release: 9.2's sshd -V names no portable suffix ("OpenSSH_9.2, OpenSSL …"), and a portable
# patch release (p1, p2) carries its release's server and client loops.
MEASURED = {
    '8.4': Timing(server_period=1, client_period=1),    # 8.4p1, Debian 11 bullseye
    '9.2': Timing(server_period=2, client_period=1),    # 9.2p1, Debian 12 bookworm
    '10.0': Timing(server_period=1, client_period=1),   # 10.0p2, Debian 13 trixie
    '10.6': Timing(server_period=1, client_period=1),   # 10.6p1, Debian sid / forky, 2026-12
}
CONSERVATIVE = Timing(server_period=max(t.server_period for t in MEASURED.values()),
                      client_period=max(t.client_period for t in MEASURED.values()))
DEAD_PEER_EXTRA = 1  # a peer is dropped at keepalive number count-max + 1 (measured on every version above)
MARGIN = 5           # the derivation keeps a keepalive at least 1/MARGIN of the timeout before it (20 %)


class Assumed(collections.namedtuple('Assumed', 'version measured period')):
    """The sshd period used for one host: its version's measured one, or the conservative one when not measured.
    (The client side needs none: ssh's period is 1 on every measured version, the conservative value too.)"""

    def describe(self):
        every = 'every %s' % ('%d × ClientAliveInterval' % self.period if self.period != 1 else 'ClientAliveInterval')
        if self.measured:
            return 'sshd (OpenSSH %s) sends a keepalive %s (measured)' % (self.version, every)
        return ('sshd (OpenSSH %s) is not among the measured versions (%s): assumed a keepalive %s, the longest '
                'measured' % (self.version or 'of unknown version', ', '.join(MEASURED), every))

    def as_result(self):
        return {'openssh': self.version, 'measured': self.measured, 'keepalive_every_intervals': self.period,
                'message': self.describe()}


def openssh_version(text):
    """The release, '9.2', from '-V' output or an SSH banner ('OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL …',
    sshd 9.2's 'OpenSSH_9.2, OpenSSL …'); None if there is none."""
    found = re.search(r'OpenSSH_(\d+\.\d+)', text or '')
    return found.group(1) if found else None


def assumed(version):
    """The sshd period of OpenSSH ``version`` (a release such as '9.2'; None: unknown)."""
    row = MEASURED.get(version)
    return Assumed(version, row is not None, (row or CONSERVATIVE).server_period)


def derive_interval(nat_idle_timeout, period=1):
    """An interval whose keepalives come safely below a known idle timeout: 20 % margin, divided by the
    intervals between two keepalives (300 s → 240 s; an sshd that sends every 2 × interval: 120 s)."""
    return max((nat_idle_timeout - max(nat_idle_timeout // MARGIN, 1)) // period, 1)


def dead_peer_time(interval, count_max, period=1):
    """Seconds after which a peer that stopped answering is dropped: (count-max + 1) × period × interval."""
    return (count_max + DEAD_PEER_EXTRA) * period * interval


def max_interval_below(nat_idle_timeout, period=1):
    """The longest interval whose first keepalive still comes before the path forgets the connection."""
    return (nat_idle_timeout - 1) // period


def timing_names(interval_param, prefix=''):
    """Parameter names for resolve_timing() errors: ('client_alive_interval', …) or ('hosts[0].server_alive_interval', …)."""
    base = interval_param[:-len('_interval')]
    return {'interval': prefix + interval_param, 'count': prefix + base + '_count_max',
            'nat': prefix + 'nat_idle_timeout', 'dead': prefix + 'dead_peer_timeout'}


def _times(period):
    return '' if period == 1 else '%d × ' % period


def resolve_timing(names, interval, count_max, nat_idle_timeout=None, dead_peer_timeout=None, timing=None):
    """The interval to use, derived from or checked against declared timeouts.

    ``names`` (see timing_names) are the parameter names errors quote; ``timing`` (an Assumed) is the host's
    period, None for one keepalive per interval.
    Raises InputError when the values contradict the declared timeouts; each message names the true bound: the
    value it hints at is accepted, one more is not.
    """
    period = timing.period if timing else 1
    why = ' (%s)' % timing.describe() if timing and timing.period != 1 else ''
    nat = check_int(names['nat'], nat_idle_timeout, minimum=2)
    dead = check_int(names['dead'], dead_peer_timeout, minimum=1)
    if interval is None and nat is not None:
        interval = derive_interval(nat, period)
    every = _times(period)
    if nat is not None and interval and interval * period >= nat:
        if max_interval_below(nat, period) < 1:
            raise InputError('%s=%d is too short for this sshd: even %s=1 sends its first keepalive after %d s%s'
                             % (names['nat'], nat, names['interval'], period, why))
        raise InputError('%s%s=%d is not below %s=%d: the path drops an idle connection before the first '
                         'keepalive%s; use at most %d, or omit the interval to derive %d (20 %% margin)'
                         % (every, names['interval'], interval, names['nat'], nat, why,
                            max_interval_below(nat, period), derive_interval(nat, period)))
    if dead is not None and interval:
        count = 3 if count_max is None else count_max  # OpenSSH's default
        if count and dead_peer_time(interval, count, period) > dead:
            hints = []
            if dead // ((count + DEAD_PEER_EXTRA) * period) >= 1:
                hints.append('%s at most %d' % (names['interval'], dead // ((count + DEAD_PEER_EXTRA) * period)))
            if dead // (period * interval) - DEAD_PEER_EXTRA >= 1:
                hints.append('%s at most %d' % (names['count'], dead // (period * interval) - DEAD_PEER_EXTRA))
            raise InputError('(%s + %d) × %s%s = (%d + %d) × %s%d = %d s exceeds %s=%d s: a peer that stopped '
                             'answering is dropped at the (count-max + %d)-th unanswered keepalive%s, too late; %s'
                             % (names['count'], DEAD_PEER_EXTRA, every, names['interval'], count, DEAD_PEER_EXTRA,
                                every, interval,
                                dead_peer_time(interval, count, period), names['dead'], dead, DEAD_PEER_EXTRA, why,
                                ' or '.join(hints) or 'raise %s' % names['dead']))
    return interval
