#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keepalive.ssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: idle_probe
short_description: Measure after how many seconds of silence the network path to an SSH server forgets a connection
version_added: 0.1.0
description:
  - Runs on the client side of the path (usually the controller with C(delegate_to), or a bastion) as the
    invoking user, with the system C(ssh).
  - Opens several authenticated SSH sessions in parallel to O(host), each running C(cat) on the server
    (C(BatchMode=yes), no C(ControlMaster), C(ServerAliveInterval=0), C(TCPKeepAlive=no), C(-T)). Each
    session echoes one line, stays silent for its own planned number of seconds, then sends a line and
    waits O(reply_timeout) seconds for the echo. An echo means the path still knew the connection.
  - "Round 1 is a geometric ladder of at most O(max_sessions) silences from O(resolution) to O(max_idle).
    Later rounds bisect between the longest silence that survived and the shortest that killed a session
    until they are at most O(resolution) apart. A session that dies cancels the longer ones of its round
    (a path that forgot after N seconds forgets after more, too)."
  - Returns the bounds, the keepalive settings the collection's modules would derive from the lower bound,
    every session's planned and measured silence and outcome, and how dead sessions ended (silent drop or
    TCP reset).
  - Detects the server's own keepalives (C(ClientAliveInterval)). They keep sessions alive, so the probe
    stops and says that the measurement needs them off for the probe user.
  - Every ssh runs in its own process group and is killed with SIGKILL when its session ends, when the probe
    ends, fails or receives SIGTERM/SIGINT/SIGHUP, and (C(PR_SET_PDEATHSIG)) when the module process itself
    is killed, for example by an C(async) timeout.
  - Nothing is written anywhere and no ssh output is returned except ssh's last error line of a failed login.
author:
  - keepalive.ssh developers (@keepalive-ssh)
options:
  host:
    description: Host name or address to connect to, as given to C(ssh) (a C(Host) alias of the invoking user's ssh_config works).
    type: str
    required: true
  port:
    description: SSH port. Omitted, C(ssh)'s own configuration decides (22 by default).
    type: int
  user:
    description: Remote user. Omitted, C(ssh)'s own configuration decides.
    type: str
  identity_file:
    description: Private key to log in with (C(IdentitiesOnly=yes) is set with it). It must not need a passphrase (C(BatchMode)).
    type: path
  ssh_options:
    description:
      - Extra C(-o) options as C(Key=value) strings, for example C(UserKnownHostsFile=/path) or C(ProxyJump=bastion).
      - The options the probe sets itself (C(BatchMode), C(ControlMaster), C(ControlPath), C(ControlPersist),
        C(ServerAliveInterval), C(ServerAliveCountMax), C(TCPKeepAlive), C(LogLevel), C(RequestTTY), C(SessionType),
        C(RemoteCommand), C(ForkAfterAuthentication), C(StdinNull)) are refused.
    type: list
    elements: str
    default: []
  max_idle:
    description: Longest silence tried, in seconds. When even that survives the result is RV(no_timeout_below).
    type: int
    default: 1800
  resolution:
    description: The probe stops when the surviving and the deadly silence are at most this many seconds apart.
    type: int
    default: 10
  max_sessions:
    description:
      - At most this many sessions at once (and rungs in the ladder). Each is one SSH login on the server.
      - Keep it at or below the server's C(MaxStartups) start value (10 by default), all sessions log in at the same time.
    type: int
    default: 8
  reply_timeout:
    description: Seconds the echo may take after a silence before the session counts as dead.
    type: int
    default: 5
  connect_timeout:
    description: Seconds a session may take to connect and log in (also C(ssh -o ConnectTimeout)).
    type: int
    default: 30
extends_documentation_fragment:
  - keepalive.ssh.attributes
  - keepalive.ssh.attributes.info
notes:
  - A long probe (up to O(max_idle) plus bisection rounds) runs with C(async) and C(poll); an async timeout kills
    every ssh of the probe.
  - "Cost: every round opens up to O(max_sessions) SSH logins at the same time; the ladder lasts until the
    shortest deadly silence plus O(reply_timeout) (or O(max_idle) when nothing dies), each bisection round about
    as long as its upper bound. With the defaults and a path that forgets after 300 s, expect 3 rounds and about
    17 minutes. RV(time_limit) is the hard limit."
  - The server must not send its own keepalives to the probe user during the probe, see RV(server_keepalive).
  - The measured timeout is the one of this path at this time; asymmetric paths, several NAT gateways and
    load-dependent timeouts are discussed in the collection's docs/idle_probe.md.
seealso:
  - module: keepalive.ssh.client_keepalive
  - module: keepalive.ssh.sshd_keepalive
'''

EXAMPLES = r'''
- name: Measure the office NAT on the way to the bastion, from the controller, in the background
  keepalive.ssh.idle_probe:
    host: bastion.example.com
    user: probe
    identity_file: ~/.ssh/probe_ed25519
    max_idle: 1200
    resolution: 10
  delegate_to: localhost
  run_once: true
  async: 3600
  poll: 30
  register: probe

- name: Roll out what the path needs
  ansible.builtin.include_role:
    name: keepalive.ssh.client
  vars:
    client_keepalive_nat_idle_timeout: "{{ probe.idle_timeout.lower }}"
  when: probe.idle_timeout is not none

- name: Through a jump host, with a known_hosts file of its own
  keepalive.ssh.idle_probe:
    host: 10.20.0.7
    user: probe
    ssh_options:
      - ProxyJump=jump.example.com
      - UserKnownHostsFile=~/.ssh/known_hosts.lab
    max_idle: 600
  delegate_to: localhost
  register: lab_probe
'''

RETURN = r'''
idle_timeout:
  description:
    - The path's idle timeout is between these bounds (seconds). C(lower) is the longest silence a session
      survived, C(upper) the shortest that killed one. Null when nothing died or the server's keepalives interfered.
  returned: always
  type: dict
  sample: {lower: 290, upper: 300}
  contains:
    lower:
      description: A session silent this long still echoed.
      type: int
    upper:
      description: A session silent this long never echoed again.
      type: int
no_timeout_below:
  description: Every session survived; the longest silence tried (seconds). Null otherwise.
  returned: always
  type: int
  sample: 1800
server_keepalive:
  description:
    - Set when the server sent its own keepalive (C(keepalive@openssh.com) channel requests from its
      C(ClientAliveInterval)) during a silence. Such sessions are never silent, so no bound is reported; turn
      the server's keepalive off for the probe user and probe again. Null otherwise.
  returned: always
  type: dict
  contains:
    sessions:
      description: Sessions that received the server's keepalive.
      type: int
    first_after:
      description: Seconds of silence before the first one arrived (about the server's C(ClientAliveInterval), twice that on OpenSSH 9.2; docs/timing.md).
      type: float
    msg:
      description: What to do about it.
      type: str
recommended:
  description:
    - Keepalive settings for this path, derived from C(idle_timeout.lower) exactly as the modules derive them from
      O(keepalive.ssh.client_keepalive#module:nat_idle_timeout) and O(keepalive.ssh.sshd_keepalive#module:nat_idle_timeout).
      Null without a lower bound of at least 2 s.
  returned: always
  type: dict
  sample: {nat_idle_timeout: 290, server_alive_interval: 232, server_alive_count_max: 3, client_alive_interval: 116}
  contains:
    nat_idle_timeout:
      description: The lower bound, for the roles' C(nat_idle_timeout) variables.
      type: int
    server_alive_interval:
      description: C(ServerAliveInterval) safely below the lower bound.
      type: int
    server_alive_count_max:
      description: C(ServerAliveCountMax), OpenSSH's default.
      type: int
    client_alive_interval:
      description:
        - The server side's C(ClientAliveInterval) for this path, what M(keepalive.ssh.sshd_keepalive) derives from
          the same timeout on the probed server - C(server_alive_interval) divided by the intervals between two
          keepalives of that server's sshd version (RV(recommended.server_timing)); the measured periods per
          version are in docs/timing.md.
      type: int
    server_timing:
      description:
        - The probed server's OpenSSH version (from its SSH banner) and the keepalive period
          RV(recommended.client_alive_interval) is derived with; C(measured) is false for a version outside the
          measured table, which gets the longest measured period.
      type: dict
      sample: {openssh: "9.2", measured: true, keepalive_every_intervals: 2,
               message: "sshd (OpenSSH 9.2) sends a keepalive every 2 × ClientAliveInterval (measured)"}
drop:
  description:
    - How the dead sessions ended. C(silent) - the echo never came (the path dropped the packets, as most NAT
      gateways do); C(reset) - the connection was reset (a firewall answering with RST); C(closed) - ssh saw the
      connection closed; C(mixed) - more than one of these. Null when no session died.
  returned: always
  type: str
  sample: silent
sessions:
  description: Every session in start order.
  returned: always
  type: list
  elements: dict
  contains:
    number:
      description: Session number.
      type: int
    round:
      description: 1 for the ladder, then bisection rounds.
      type: int
    planned:
      description: Planned silence (seconds).
      type: int
    idle:
      description: Measured silence (seconds) before the probe line was sent or the connection ended; null if it never got that far.
      type: float
    outcome:
      description: C(alive), C(dead), C(login_failed) or C(cancelled) (longer than a silence that already killed a session, or the probe stopped).
      type: str
    detail:
      description: Why, in words (echo time, no echo within the deadline, ssh's last error line).
      type: str
    drop:
      description: For dead sessions C(silent), C(reset) or C(closed), else null.
      type: str
    server_keepalives:
      description: The server's keepalive requests this session received while silent.
      type: int
  sample:
    - {number: 1, round: 1, planned: 10, idle: 10.0, outcome: alive, detail: echoed after 0.01 s, drop: null, server_keepalives: 0}
elapsed:
  description: Seconds the probe took.
  returned: always
  type: float
time_limit:
  description: The hard wall-clock limit (seconds) computed from the options; the probe stops there.
  returned: always
  type: int
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.keepalive.ssh.plugins.module_utils.idle_probe import (
    Interrupted,
    Probe,
    ProbeError,
    ssh_argv,
)


def check_ranges(p):
    """Ranges the probe needs; returns an error message or None."""
    limits = (('max_idle', 1, 86400), ('resolution', 1, 86400), ('max_sessions', 1, 32),
              ('reply_timeout', 1, 600), ('connect_timeout', 1, 600), ('port', 1, 65535))
    for name, low, high in limits:
        if p[name] is not None and not low <= p[name] <= high:
            return '%s must be between %d and %d, got %d' % (name, low, high, p[name])
    if p['resolution'] > p['max_idle']:
        return 'resolution=%d must not exceed max_idle=%d' % (p['resolution'], p['max_idle'])
    return None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            host=dict(type='str', required=True),
            port=dict(type='int'),
            user=dict(type='str'),
            identity_file=dict(type='path'),
            ssh_options=dict(type='list', elements='str', default=[]),
            max_idle=dict(type='int', default=1800),
            resolution=dict(type='int', default=10),
            max_sessions=dict(type='int', default=8),
            reply_timeout=dict(type='int', default=5),
            connect_timeout=dict(type='int', default=30),
        ),
        supports_check_mode=True,
    )
    p = module.params
    error = check_ranges(p)
    if error:
        module.fail_json(msg=error)
    ssh = module.get_bin_path('ssh', required=True)
    try:
        argv = ssh_argv(ssh, p['host'], p['port'], p['user'], p['identity_file'], p['ssh_options'],
                        p['connect_timeout'])
        probe = Probe(argv, p['max_idle'], p['resolution'], p['max_sessions'], p['reply_timeout'],
                      p['connect_timeout'])
        result = probe.run()
    except ProbeError as exc:
        module.fail_json(msg=str(exc))
    except Interrupted as exc:
        module.fail_json(msg='idle probe %s; every ssh session was ended' % exc)
    for warning in probe.warnings:
        module.warn(warning)
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
