#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keepalive.ssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: stale_sessions
short_description: End the stale ssh clients and remove the dead ControlMaster sockets of named users
version_added: 0.1.0
description:
  - The opt-in cleanup of the live-sessions view (M(keepalive.ssh.keepalive_info) with C(sessions)). It looks
    at the C(ssh) client processes of O(session_options.users) and their ControlMaster sockets, and, only with
    O(terminate=true) outside check mode, ends the stale ones.
  - "Stale: its TCP connection is closed (C(CLOSE_WAIT) and the like), not established after 60 s, its server
    stopped answering (data unacknowledged for O(session_options.unanswered_after) seconds with at least 3
    retransmissions), or silent longer than its C(ServerAliveInterval) x C(ServerAliveCountMax). A client
    whose connection is alive is never ended; neither is one without a TCP connection in this network
    namespace (a C(ProxyCommand) or ControlMaster client: nothing to judge it by)."
  - A ControlMaster socket is dead when connecting to it is refused (no master behind it).
  - Without O(terminate), or in check mode, nothing is changed and the result lists what would be ended.
author:
  - keepalive.ssh developers (@keepalive-ssh)
requirements:
  - Python 3.6 or newer on the target; Linux C(/proc)
options:
  terminate:
    description:
      - End the stale clients (SIGTERM, SIGKILL after 2 s) and remove the dead sockets. C(false) only reports.
    type: bool
    default: false
  ssh_binary:
    description: ssh executable, for C(ssh -G) (run as the user) of a client's destination address.
    type: str
    default: ssh
  command_timeout:
    description: Seconds the whole look may take, and each C(ssh -G).
    type: int
    default: 30
extends_documentation_fragment:
  - keepalive.ssh.attributes
  - keepalive.ssh.sessions
attributes:
  check_mode:
    support: full
    details: Check mode reports what would be ended, as O(terminate=false) does.
  diff_mode:
    support: none
  action:
    support: none
  async:
    support: full
notes:
  - O(session_options.users) is required here (the cleanup never applies to every user by default).
  - A process is ended only if it is still the one judged (same start time and owner; through a pidfd
    where Python has C(os.pidfd_open)), so a reused pid is left alone.
  - Sockets are listed, tested and removed by a child running as their user, never following a link.
  - Only this network namespace is looked at; of a process only its name, owner, start time and socket
    inodes are read, never its command line or environment.
seealso:
  - module: keepalive.ssh.keepalive_info
'''

EXAMPLES = r'''
- name: What would be ended for alice and bob (nothing is changed)
  keepalive.ssh.stale_sessions:
    session_options: {users: [alice, bob]}
  register: stale

- name: End them
  keepalive.ssh.stale_sessions:
    session_options: {users: [alice, bob]}
    terminate: true
'''

RETURN = r'''
stale:
  description:
    - The stale clients, each with C(user), C(pid), C(start), C(destination), C(state), C(silent), C(reason)
      and C(ended) (true when it was signalled; false in check mode, without O(terminate), or when the pid
      had meanwhile become another process).
  returned: always
  type: list
  elements: dict
  contains:
    user:
      description: "Owner."
      type: str
    pid:
      description: "The ssh process."
      type: int
    start:
      description: "Its start (epoch seconds)."
      type: int
    destination:
      description: "Peer address:port of its TCP socket."
      type: str
    state:
      description: "Its TCP state."
      type: str
    silent:
      description: "Seconds since the server last sent data (null when unknown)."
      type: int
    reason:
      description: "Why it is stale."
      type: str
    ended:
      description: "True when it was signalled."
      type: bool
  sample: [{user: alice, pid: 5151, start: 1796376100, destination: "198.51.100.4:22", state: ESTABLISHED,
            silent: 912, reason: "server stopped answering (unacknowledged data, 9 retransmissions)",
            ended: true}]
dead_control_sockets:
  description: ControlMaster sockets nobody accepts on, with C(user), C(path) and C(removed).
  returned: always
  type: list
  elements: dict
  contains:
    user:
      description: "Owner of the directory it was found in."
      type: str
    path:
      description: "The socket."
      type: str
    removed:
      description: "True when it was removed."
      type: bool
  sample: [{user: alice, path: /home/alice/.ssh/cm-alice@db1:22, removed: true}]
kept:
  description: How many ssh clients of the users were left alone (connection alive, or nothing to judge by).
  returned: always
  type: int
  sample: 3
truncated:
  description: True when a list was cut at O(session_options.max_rows) or the look stopped at O(command_timeout).
  returned: always
  type: bool
skipped_users:
  description: Users whose files could not be looked at, with the reason.
  returned: always
  type: list
  elements: dict
'''

import time

# first: a clear failure on a too-old target Python instead of a SyntaxError from the engine
from ansible_collections.keepalive.ssh.plugins.module_utils import target_python  # noqa: F401  pylint: disable=unused-import
from ansible.module_utils.basic import AnsibleModule
from ansible_collections.keepalive.ssh.plugins.module_utils import sessionscan
from ansible_collections.keepalive.ssh.plugins.module_utils.support import escaped

GRACE = 2   # seconds between SIGTERM and SIGKILL


def end(row, uid):
    """SIGTERM, then SIGKILL while it is still the same process; True when it was signalled."""
    if not sessionscan.end_process(row['pid'], row['start'], uid):
        return False
    deadline = time.time() + GRACE
    while time.time() < deadline and sessionscan.end_process(row['pid'], row['start'], uid, 0):
        time.sleep(0.1)
    sessionscan.end_process(row['pid'], row['start'], uid, 9)
    return True


def main():
    module = escaped(AnsibleModule(
        argument_spec=dict(
            terminate=dict(type='bool', default=False),
            ssh_binary=dict(type='str', default='ssh'),
            command_timeout=dict(type='int', default=30),
            session_options=sessionscan.SESSION_OPTIONS,
        ),
        supports_check_mode=True,
    ))
    p = module.params
    options = p['session_options']
    problem = sessionscan.check_options(options)
    if problem or not options['users']:
        module.fail_json(msg=problem or 'session_options.users is required: name the users whose stale '
                                        'sessions may be ended')
    act = p['terminate'] and not module.check_mode
    ssh = module.get_bin_path(p['ssh_binary'], opt_dirs=['/usr/bin', '/usr/local/bin'])
    alive_limit_of = sessionscan.ssh_alive_limit(ssh, p['command_timeout']) if ssh else (lambda key: None)
    view = sessionscan.report(sessionscan.policy_of(options), None, None, alive_limit_of, options['users'],
                              options['control_dirs'], options['max_rows'], p['command_timeout'], remove=act)
    if not view['available']:
        module.fail_json(msg='cannot look at the sessions: %s' % view['reason'])
    uids = sessionscan.user_ids(options['users'])
    stale = []
    for row in view['clients']:
        if row['stale']:
            stale.append(dict(row, ended=bool(act and end(row, uids[row['user']]))))
    stale = [dict((k, v) for k, v in row.items() if k != 'stale') for row in stale]
    dead = [dict(user=s['user'], path=s['path'], removed=s['removed']) for s in view['control_sockets']
            if s['dead']]
    module.exit_json(changed=any(r['ended'] for r in stale) or any(d['removed'] for d in dead) or
                     (p['terminate'] and module.check_mode and bool(stale or dead)),
                     stale=stale, dead_control_sockets=dead, kept=view['counts']['clients'] - view['counts']['stale_clients'],
                     truncated=view['truncated'], skipped_users=view['skipped_users'])


if __name__ == '__main__':
    main()
