# -*- coding: utf-8 -*-
# Copyright: keepalive.ssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The thresholds of the live-sessions view, written once: keepalive_info (sessions) and stale_sessions."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  session_options:
    description:
      - Thresholds and bounds of the live-sessions view (module_utils/sessions.py).
    type: dict
    default: {}
    suboptions:
      path_timeout:
        description:
          - Seconds after which the network path (NAT gateway, firewall) forgets a silent connection; an idle
            session with no keepalive more often than this is C(at_risk) (sshd's come every 2 x its
            C(ClientAliveInterval), as the roles reckon). M(keepalive.ssh.idle_probe) measures it.
        type: int
        default: 300
      active_within:
        description: A session whose user typed (tty) or sent data (no tty) this many seconds ago or less is C(active).
        type: int
        default: 60
      unanswered_after:
        description:
          - Seconds data (or TCP keepalive probes) may stay unacknowledged, with at least 3 retransmissions,
            before the peer counts as having stopped answering.
        type: int
        default: 30
      users:
        description:
          - Users whose ssh client processes are reported (all users when not given) and whose
            O(session_options.control_dirs) are searched for ControlMaster sockets (none when not given).
        type: list
        elements: str
      control_dirs:
        description:
          - Directories (C(~/) is each user's home) searched, with their direct subdirectories, for
            ControlMaster sockets; listed and tested as the user, links never followed.
        type: list
        elements: str
        default: ['~/.ssh']
      max_rows:
        description: Most rows of each list returned (server sessions, clients, sockets); counts cover all.
        type: int
        default: 200
'''
