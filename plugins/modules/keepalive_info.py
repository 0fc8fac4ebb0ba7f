#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keepalive.ssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: keepalive_info
short_description: Report the keepalive settings OpenSSH really uses on a host, and where they come from
version_added: 0.1.0
description:
  - Read-only. Server side from C(sshd -T) (optionally with a connection spec so C(Match) blocks are
    evaluated), client side from C(ssh -G) for listed users and host names.
  - For every value also returns the file and line it comes from and the lines it shadows, computed
    by the collection's config engine on the same files.
  - Optionally compares the effective values with expected ones and reports C(compliant) and the
    reasons for any drift.
author:
  - keepalive.ssh developers (@keepalive-ssh)
requirements:
  - Python 3.6 or newer on the target (older ones fail with a message saying so)
  - OpenSSH C(sshd) and C(ssh) on the target
options:
  path:
    description:
      - Main sshd configuration file (the file the server side reads, as O(keepalive.ssh.sshd_keepalive#module:path)).
        An empty string (C('')) skips the server side.
    type: path
    default: /etc/ssh/sshd_config
  include_base:
    description: Directory relative C(Include) paths in sshd_config resolve against.
    type: path
    default: /etc/ssh
  connection:
    description:
      - "Connection spec for C(sshd -T -C) so C(Match) blocks are honoured, for example
        C({user: alice, host: laptop.example.com, addr: 203.0.113.7})."
      - "Keys: C(user), C(host), C(addr), C(laddr), C(lport), C(rdomain)."
    type: dict
  sshd_binary:
    description: sshd executable.
    type: str
    default: sshd
  ssh_binary:
    description: ssh executable.
    type: str
    default: ssh
  system_config:
    description:
      - System-wide ssh_config, read after each user's file as ssh does. An empty string (C('')) leaves it out.
    type: path
    default: /etc/ssh/ssh_config
  users:
    description: Users whose client settings are reported.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Local user name.
        type: str
        required: true
      path:
        description:
          - The user's ssh_config. Defaults to C(~name/.ssh/config) from the passwd database.
        type: path
      expect:
        description:
          - Expected Host blocks (as for M(keepalive.ssh.client_keepalive)'s O(keepalive.ssh.client_keepalive#module:hosts)),
            compared with C(ssh -G) for each block's first pattern.
        type: list
        elements: dict
        aliases: [hosts]
      state:
        description: Users with C(absent) are skipped, so a role's plan can be passed as it is.
        type: str
        choices: [present, absent]
        default: present
  host_names:
    description:
      - Host names to ask C(ssh -G) about for every user (in addition to the expected blocks' patterns).
        In this collection C(hosts) means C(Host) blocks, as in
        O(keepalive.ssh.client_keepalive#module:hosts) and O(users[].expect).
    type: list
    elements: str
    default: []
  expect_server:
    description:
      - "Expected server values, C({client_alive_interval: 60, client_alive_count_max: 10})."
      - With C(nat_idle_timeout) and no C(client_alive_interval) (what the sshd role's C(server_target) gives for
        a profile defined by its firewall), the expected interval is the one M(keepalive.ssh.sshd_keepalive)
        derives for this host's sshd version.
    type: dict
  command_timeout:
    description:
      - Seconds C(sshd -T) may take, and one user's audit in all (the reading of their files and every
        C(ssh -G) of all O(host_names) together).
    type: int
    default: 30
  max_file_size:
    description: Largest file, in bytes, read of a user's config or of a file it includes.
    type: int
    default: 1048576
  strict:
    description:
      - Fail when a user's files cannot be used instead of reporting that user not compliant with the
        reason (RV(clients), RV(skipped_users)) and going on.
    type: bool
    default: false
  sessions:
    description:
      - Also report the live SSH sessions of the host (RV(sessions)). Server side, every session of the sshd
        of O(path) with user, address, start, idle time, the C(ClientAliveInterval) sshd applies to it (its
        C(Match) context, C(sshd -T -C)) and a class; client side, every C(ssh) process with its destination
        (the socket's peer) and whether it is stale; dead ControlMaster sockets of O(session_options.users).
    type: bool
    default: false
extends_documentation_fragment:
  - keepalive.ssh.attributes
  - keepalive.ssh.attributes.info
  - keepalive.ssh.sessions
notes:
  - C(sshd -T) needs root (it reads the host keys).
  - With O(sessions), only this network namespace is looked at (its sockets and its processes); of a
    process only its name, parent, tty, owner, start time and socket inodes are read, never its command line
    or environment.
  - Each user's files, and the system ssh_config as that user sees it, are read and evaluated with
    C(ssh -G) B(as that user), never as root (see C(docs/security.md)).
seealso:
  - module: keepalive.ssh.sshd_keepalive
  - module: keepalive.ssh.client_keepalive
'''

EXAMPLES = r'''
- name: What does sshd use for alice coming from the VPN?
  keepalive.ssh.keepalive_info:
    connection: {user: alice, host: vpn-client, addr: 10.8.0.12}
  register: info

- name: Audit against the profile
  keepalive.ssh.keepalive_info:
    users:
      - name: alice
        expect:
          - {pattern: bastion, server_alive_interval: 30, server_alive_count_max: 20}
          - {pattern: "*", server_alive_interval: 60, server_alive_count_max: 10}
    expect_server: {client_alive_interval: 60, client_alive_count_max: 10}
  register: info
  failed_when: not info.compliant

- name: Live sessions, the ones at risk on a path that forgets idle connections after 5 minutes
  keepalive.ssh.keepalive_info:
    sessions: true
    session_options: {path_timeout: 300, users: [alice]}
  register: info
'''

RETURN = r'''
sshd:
  description: Server side; absent when O(path) is an empty string.
  returned: when path is set
  type: dict
  contains:
    version:
      description:
        - OpenSSH version of the sshd binary, as it prints it. 9.x's C(sshd -V) has no portable suffix
          (C(OpenSSH_9.2)); 8.4, which has no C(-V) and prints it in its usage message, and 10.x have one
          (C(OpenSSH_8.4p1), C(OpenSSH_10.0p2)).
      type: str
      sample: OpenSSH_9.2
    effective:
      description: Values from C(sshd -T), lower-case keywords.
      type: dict
      sample: {clientaliveinterval: "60", clientalivecountmax: "10", tcpkeepalive: "yes"}
    sources:
      description: File and line each managed keyword comes from, and the lines it shadows.
      type: dict
    connection:
      description: The connection spec given to C(sshd -T -C), or null without O(connection).
      type: dict
      sample: {user: alice, host: laptop.example.com, addr: 203.0.113.7}
clients:
  description:
    - By user, the config file, whether it exists, and by host name ServerAliveInterval/ServerAliveCountMax
      from C(ssh -G) with their source (keys C(config), C(exists), C(hosts) of each user's entry).
  returned: always
  type: dict
  sample:
    alice:
      config: /home/alice/.ssh/config
      exists: true
      hosts: {bastion: {ServerAliveInterval: {value: "30", file: /home/alice/.ssh/config, line: 2}}}
ssh_version:
  description: OpenSSH version of the ssh binary.
  returned: when users are listed
  type: str
skipped_users:
  description: Users whose files could not be audited (they are not compliant), with the reason.
  returned: always
  type: list
  elements: dict
  sample: [{user: mallory, path: /home/mallory/.ssh/config, reason: "ssh -G did not finish within 30 s (command_timeout)"}]
compliant:
  description: True when every expected value is what OpenSSH uses (always true without expectations).
  returned: always
  type: bool
drift:
  description: One sentence per value that differs from the expectation.
  returned: always
  type: list
  elements: str
  sample: ["sshd: ClientAliveInterval is 0, expected 60 (from /etc/ssh/sshd_config.d/50-cloud-init.conf:2)"]
sessions:
  description:
    - Live sessions (O(sessions)); see C(docs/keepalive_info.md). Only names, pids, addresses, ports and times.
  returned: when sessions is true
  type: dict
  contains:
    available:
      description: False when neither the kernel's socket information (netlink inet_diag) nor C(/proc/net/tcp) can be read.
      type: bool
    reason:
      description: Why the view is not available (only then).
      type: str
    source:
      description: C(inet_diag), or C(proc_net_tcp) (no per-socket times there; idle without a tty is unknown).
      type: str
    counts:
      description:
        - Over every session, also when the lists are truncated; C(sessions), one count per class, C(clients),
          C(stale_clients), C(dead_control_sockets).
      type: dict
      sample: {sessions: 2, active: 1, idle_kept_alive: 1, at_risk: 0, unresponsive: 0, unknown: 0, clients: 1,
               stale_clients: 0, dead_control_sockets: 0}
    server:
      description: Sessions of the sshd of O(path) (local address one of its listen addresses), oldest first.
      type: list
      elements: dict
      contains:
        user:
          description: "The logged-in user (C((unauthenticated)) before authentication)."
          type: str
        pid:
          description: "The session's sshd process."
          type: int
        addr:
          description: "Client address."
          type: str
        port:
          description: "Client port."
          type: int
        start:
          description: "Start of the session (epoch seconds)."
          type: int
        tty:
          description: "Its terminal (C(pts/3)) or null."
          type: str
        idle:
          description:
            - Seconds idle; tty, its access time (what C(w) shows); no tty, since the client last sent data.
          type: int
        idle_human:
          description: "The same as C(w) would print it (C(20m10s))."
          type: str
        client_alive_interval:
          description: ClientAliveInterval sshd applies to this session's Match context; null when not evaluated.
          type: int
        class:
          description:
            - C(active), C(idle_kept_alive), C(at_risk) (idle, no keepalive more often than
              O(session_options.path_timeout)), C(unresponsive) (the client stopped answering), or C(unknown)
              (no tty and a source without per-socket times, C(proc_net_tcp)).
          type: str
      sample:
        - {user: alice, pid: 4242, addr: 203.0.113.7, port: 50022, start: 1796376000, tty: pts/0, idle: 1210,
           idle_human: 20m10s, client_alive_interval: 60, class: idle_kept_alive}
    clients:
      description: ssh client processes (of O(session_options.users) when given).
      type: list
      elements: dict
      contains:
        destination:
          description: "Peer address:port of its TCP socket (never its command line); null without one."
          type: str
        state:
          description: "Its TCP state."
          type: str
        silent:
          description: "Seconds since the server last sent data."
          type: int
        stale:
          description: "True when its connection is dead (see M(keepalive.ssh.stale_sessions))."
          type: bool
        reason:
          description: "Why it is stale; null when not."
          type: str
      sample:
        - {user: alice, pid: 5151, start: 1796376100, destination: "198.51.100.4:22", state: ESTABLISHED,
           silent: 3, stale: false, reason: null}
    control_sockets:
      description: Sockets in the O(session_options.control_dirs) of O(session_options.users).
      type: list
      elements: dict
      contains:
        path:
          description: "The socket."
          type: str
        dead:
          description: "Nobody accepts on it (no master behind it)."
          type: bool
        removed:
          description: "Always false here (M(keepalive.ssh.stale_sessions) removes)."
          type: bool
    not_evaluated:
      description: Sessions whose Match context or destination was beyond the bound of 32 evaluations.
      type: int
    skipped_users:
      description: O(session_options.users) whose files could not be looked at, with the reason.
      type: list
      elements: dict
    truncated:
      description: True when a list was cut at O(session_options.max_rows) or the scan stopped at O(command_timeout).
      type: bool
'''

import contextlib
import os
import pwd

# first: a clear failure on a too-old target Python instead of a SyntaxError from the engine
from ansible_collections.keepalive.ssh.plugins.module_utils import target_python  # noqa: F401  pylint: disable=unused-import
from ansible.module_utils.basic import AnsibleModule
from ansible_collections.keepalive.ssh.plugins.module_utils.keepalive import (
    CLIENT_KEYWORDS,
    SERVER_KEYWORDS,
    InputError,
    check_host_name,
    check_patterns,
    client_effective,
    server_effective,
    tool_settings,
)
from ansible_collections.keepalive.ssh.plugins.module_utils.platforms import server_layout
from ansible_collections.keepalive.ssh.plugins.module_utils import sessionscan
from ansible_collections.keepalive.ssh.plugins.module_utils.sshconf import SSH, SSHD, ConfigError, Tree
from ansible_collections.keepalive.ssh.plugins.module_utils.staging import Stage
from ansible_collections.keepalive.ssh.plugins.module_utils.plans import NotRootsAlone, check_limits, roots_reader, unexpected
from ansible_collections.keepalive.ssh.plugins.module_utils.support import Limits, escaped, find_binary, openssh_version_of
from ansible_collections.keepalive.ssh.plugins.module_utils.timing import assumed, derive_interval, openssh_version
from ansible_collections.keepalive.ssh.plugins.module_utils.userread import (
    MAX_BYTES,
    TIMEOUT,
    Identity,
    PrivateDir,
    UserFileError,
    UserFiles,
    printable,
    reduce_openssh_error,
    run_bounded,
    ssh_g_argv,
)

SERVER_EXPECT = {'client_alive_interval': 'ClientAliveInterval', 'client_alive_count_max': 'ClientAliveCountMax'}
CLIENT_EXPECT = {'server_alive_interval': 'ServerAliveInterval', 'server_alive_count_max': 'ServerAliveCountMax'}
CONNECTION_KEYS = ('user', 'host', 'addr', 'laddr', 'lport', 'rdomain')


def version(module, binary):
    """The version as the binary prints it for '-V': 'OpenSSH_9.2' from 9.x's sshd (no portable suffix),
    'OpenSSH_9.2p1' from ssh; 8.4's sshd has no -V and prints 'OpenSSH_8.4p1' in its usage message."""
    return openssh_version_of(binary, module.params['command_timeout']) or 'unknown'


def parse_settings(text):
    """{lower-case keyword: first value} of sshd -T / ssh -G output (OpenSSH 10.6's sshd -T prints CamelCase keywords)."""
    return dict((key, values[0]) for key, values in tool_settings(text).items())


def where(info):
    return ' (from %s:%s)' % (info['file'], info['line']) if info else ' (not set: OpenSSH default)'


def server_side(module, p, drift):
    sshd = find_binary(module, p['sshd_binary'], 'sshd_binary', 'openssh-server')
    path = server_layout(p['path']).main  # SUSE: the vendor file when /etc/ssh/sshd_config is absent
    if not os.path.isfile(path):
        module.fail_json(msg="path=%s does not exist; give the sshd_config file, or path='' to skip the server side"
                             % p['path'])
    try:  # sshd -T reads it as root: only a tree root alone controls (plans.roots_reader)
        tree = Tree(path, SSHD, base_dir=p['include_base'], **roots_reader(SSHD))
        tree.files()
    except (ConfigError, NotRootsAlone) as e:
        module.fail_json(msg='%s: %s' % (path, e))
    argv = [sshd, '-T', '-f', path]
    conn = p['connection'] or {}
    unknown = set(conn) - set(CONNECTION_KEYS)
    if unknown:
        module.fail_json(msg='connection: unknown key(s) %s; use %s' % (', '.join(sorted(unknown)), ', '.join(CONNECTION_KEYS)))
    for key, value in conn.items():
        if value is not None and not sessionscan.ONE_WORD.match(str(value)):
            module.fail_json(msg='connection.%s must be one word without "," or "=", got %r' % (key, value))
    if conn:
        argv += ['-C', ','.join('%s=%s' % (k, conn[k]) for k in CONNECTION_KEYS if conn.get(k) is not None)]
    rc, out, err = run_bounded(argv, p['command_timeout'])
    if rc is None:
        module.fail_json(msg='sshd -T did not finish within %d s (command_timeout)' % p['command_timeout'],
                         cmd=' '.join(argv))
    if rc != 0:
        module.fail_json(msg='sshd -T could not read %s: %s' % (path, (err or out).strip()), rc=rc, cmd=' '.join(argv))
    effective = dict((k, v) for k, v in parse_settings(out).items()
                     if k in ('clientaliveinterval', 'clientalivecountmax', 'tcpkeepalive'))
    sources = server_effective(tree, SERVER_KEYWORDS)
    sshd_version = version(module, sshd)
    expect = dict(p['expect_server'] or {})
    if expect.get('client_alive_interval') is None and expect.get('nat_idle_timeout') is not None:
        expect['client_alive_interval'] = derive_interval(
            int(expect['nat_idle_timeout']), assumed(openssh_version(sshd_version)).period)
    for option, keyword in SERVER_EXPECT.items():
        want = expect.get(option)
        got = effective.get(keyword.lower())
        if want is not None and str(want) != got:
            drift.append('sshd: %s is %s, expected %s%s' % (keyword, got, want, where(sources.get(keyword))))
    return {'version': sshd_version, 'effective': effective, 'sources': sources,
            'connection': conn or None}


def user_config(module, entry):
    if entry.get('path'):
        return entry['path']
    try:
        return os.path.join(pwd.getpwnam(entry['name']).pw_dir, '.ssh', 'config')
    except KeyError:
        module.fail_json(msg='users: %s does not exist in the passwd database' % entry['name'])


def client_values(module, ssh, wrapper, trees, name, entry, expected, drift, limits, unstage):
    """ServerAlive* for one host name: value from ssh -G (run as the user), source from the engine, drift."""
    left = limits.left()
    rc, out, err = run_bounded(ssh_g_argv(ssh, wrapper, name), left, limits.identity) if left > 0 else (None, '', '')
    if rc is None:
        raise UserFileError('ssh -G did not finish within %d s (command_timeout)' % module.params['command_timeout'])
    if rc != 0:
        raise UserFileError('ssh -G could not read the configuration: %s' % reduce_openssh_error(err, unstage))
    values = parse_settings(out)
    sources = {}
    with limits.counted():  # the engine's work on the user's files is the user's time too
        for tree in trees:
            for keyword, info in client_effective(tree, name).items():
                sources.setdefault(keyword, info)
    for option, keyword in CLIENT_EXPECT.items():
        want = expected.get(name, {}).get(option)
        got = values.get(keyword.lower())
        if want is not None and str(want) != got:
            drift.append(printable('%s: %s for %s is %s, expected %s%s'
                                   % (entry['name'], keyword, name, got, want, where(sources.get(keyword)))))
    return dict((k, dict(sources.get(k, {}), value=values.get(k.lower()))) for k in CLIENT_KEYWORDS)


def client_side(module, p, ssh, entry, drift):
    """ssh -G for every host of interest, reading the user's file then the system file, as ssh does.

    Everything is read and evaluated as the user (module_utils/userread.py): their Match exec runs as
    them, a file they cannot read is refused as for their own ssh.  A user whose files cannot be
    used is reported not compliant, with the reason, and the audit goes on.
    """
    config = user_config(module, entry)
    expected = {}
    for n, block in enumerate(entry.get('expect') or []):
        probe = check_patterns('users.expect[%d].pattern' % n, block['pattern'])[0]
        expected[probe] = block
    names = list(dict.fromkeys(list(expected) + [check_host_name('host_names[%d]' % n, h)
                                                 for n, h in enumerate(p['host_names'])]))
    identity = Identity.of(entry['name'])
    limits = Limits(identity, p['command_timeout'])  # one budget for the user's read and all their ssh -G
    paths = [f for f in (config, p['system_config']) if f]
    hosts = {}
    exists = None
    private = PrivateDir(identity)
    try:
        files = UserFiles.read(identity, paths, SSH, p['max_file_size'], limits.left())
        exists = files.data(config) is not None
        with limits.counted():
            trees = [Tree(x, SSH, **files.reader()) for x in paths if files.data(x) is not None]
        # -F replaces both files: staged copies, included in ssh's order (user, then system) from a
        # wrapper, in a directory only the user can read
        with contextlib.ExitStack() as stack:
            stages = [Stage(tree, tmpdir=private.path) for tree in trees]
            staged = [stack.enter_context(stage) for stage in stages]
            wrapper = os.path.join(private.path, 'wrapper')
            with open(wrapper, 'w') as f:
                f.write(''.join('Include "%s"\n' % x for x in staged))
            private.give_away()

            def unstage(text):
                for stage in stages:
                    text = stage.unstage(text)
                return text
            for name in names:
                hosts[name] = client_values(module, ssh, wrapper, trees, name, entry, expected, drift,
                                            limits, unstage)
    except Exception as e:  # pylint: disable=broad-except
        # one user's files must not stop the audit of the host, whatever they make fail
        reason = printable(e if isinstance(e, (UserFileError, ConfigError)) else unexpected(e))
        if p['strict']:
            module.fail_json(msg='%s: %s' % (entry['name'], reason))
        drift.append('%s: not compliant, not audited: %s' % (entry['name'], reason))
        return {'config': config, 'exists': exists, 'hosts': {}, 'compliant': False, 'reason': reason}
    finally:
        private.remove()
    return {'config': config, 'exists': exists, 'hosts': hosts}


def sessions_view(module, p, sshd_version):
    """The live sessions of the host (module_utils/sessionscan.py reads, module_utils/sessions.py judges)."""
    options = p['session_options']
    listen = interval_of = None
    if p['path']:
        sshd = find_binary(module, p['sshd_binary'], 'sshd_binary', 'openssh-server')
        path = server_layout(p['path']).main
        listen = sessionscan.sshd_listen(sshd, path, p['command_timeout'])
        interval_of = sessionscan.sshd_interval(sshd, path, p['command_timeout'])
    ssh = module.get_bin_path(p['ssh_binary'], opt_dirs=['/usr/bin', '/usr/local/bin'])
    alive_limit_of = sessionscan.ssh_alive_limit(ssh, p['command_timeout']) if ssh else (lambda key: None)
    period = assumed(openssh_version(sshd_version)).period if sshd_version else None
    return sessionscan.report(sessionscan.policy_of(options, period), listen, interval_of or (lambda key: None),
                              alive_limit_of, options['users'], options['control_dirs'], options['max_rows'],
                              p['command_timeout'])


def main():
    module = escaped(AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', default='/etc/ssh/sshd_config'),
            include_base=dict(type='path', default='/etc/ssh'),
            connection=dict(type='dict'),
            sshd_binary=dict(type='str', default='sshd'),
            ssh_binary=dict(type='str', default='ssh'),
            system_config=dict(type='path', default='/etc/ssh/ssh_config'),
            users=dict(type='list', elements='dict', default=[], options=dict(
                name=dict(type='str', required=True),
                path=dict(type='path'),
                expect=dict(type='list', elements='dict', aliases=['hosts']),
                state=dict(type='str', choices=['present', 'absent'], default='present'),
            )),
            host_names=dict(type='list', elements='str', default=[]),
            expect_server=dict(type='dict'),
            command_timeout=dict(type='int', default=TIMEOUT),
            max_file_size=dict(type='int', default=MAX_BYTES),
            strict=dict(type='bool', default=False),
            sessions=dict(type='bool', default=False),
            session_options=sessionscan.SESSION_OPTIONS,
        ),
        supports_check_mode=True,
    ))
    p = module.params
    try:
        check_limits(p)
    except InputError as e:
        module.fail_json(msg=str(e))
    problem = sessionscan.check_options(p['session_options'])
    if problem:
        module.fail_json(msg=problem)
    drift = []
    result = dict(changed=False)
    if p['path']:
        result['sshd'] = server_side(module, p, drift)
    clients = {}
    if p['users']:
        ssh = find_binary(module, p['ssh_binary'], 'ssh_binary', 'openssh-client')
        result['ssh_version'] = version(module, ssh)
        for entry in p['users']:
            if entry['state'] == 'present':
                try:
                    clients[entry['name']] = client_side(module, p, ssh, entry, drift)
                except InputError as e:
                    module.fail_json(msg=str(e))
    skipped = [dict(user=n, path=c['config'], reason=c['reason']) for n, c in clients.items() if 'reason' in c]
    result.update(clients=clients, compliant=not drift, drift=drift, skipped_users=skipped)
    if p['sessions']:
        result['sessions'] = sessions_view(module, p, result.get('sshd', {}).get('version'))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
