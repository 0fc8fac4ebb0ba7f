#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keepalive.ssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: sshd_keepalive
short_description: Make sshd send keepalives (ClientAliveInterval, ClientAliveCountMax) where they take effect
version_added: 0.1.0
description:
  - Sets C(ClientAliveInterval), C(ClientAliveCountMax) and optionally C(TCPKeepAlive) in
    C(sshd_config) so that sshd really uses them.
  - sshd uses the B(first) value it reads for these keywords, with C(Include) files expanded in
    place. The module edits the line sshd reads first, even when it is in a drop-in such as
    C(/etc/ssh/sshd_config.d/50-cloud-init.conf), and inserts new global lines before the first
    C(Match) block.
  - Every changed file is validated as a whole tree with C(sshd -t) on a private copy before any
    real file is replaced; each file is replaced atomically.
  - Does not reload sshd. Use the C(keepalive.ssh.sshd) role, or a handler, to reload on change.
author:
  - keepalive.ssh developers (@keepalive-ssh)
requirements:
  - Python 3.6 or newer on the target (older ones fail with a message saying so)
  - OpenSSH C(sshd) on the target (for validation with C(sshd -t))
options:
  path:
    description:
      - Main sshd configuration file (the file this module manages, with the files it includes).
      - C(sshd -t) and C(sshd -T) read it as root, so a file whose C(Include)s reach a file or directory root
        does not control alone (another owner, or writable by group or others) is refused with the reason.
    type: path
    default: /etc/ssh/sshd_config
  client_alive_interval:
    description:
      - Seconds of silence from the client before sshd sends a keepalive request. C(0) disables them.
      - Omit to leave the keyword untouched, unless O(nat_idle_timeout) is given.
    type: int
  client_alive_count_max:
    description:
      - Unanswered keepalive requests before sshd drops the session.
      - Omit to leave the keyword untouched.
    type: int
  tcp_keepalive:
    description:
      - Value of C(TCPKeepAlive). Omit (the default) to leave it untouched; the kernel's TCP
        keepalive is too slow to keep NAT state alive and is not what this module is for.
    type: bool
  match:
    description:
      - Criteria of a C(Match) block (for example C(User alice) or C(Address 10.0.0.0/8)) to set the
        values in, instead of globally. The block is created at the end of the file if missing.
      - Only C(ClientAliveInterval) and C(ClientAliveCountMax) are allowed inside C(Match).
    type: str
  nat_idle_timeout:
    description:
      - Idle timeout in seconds of the shortest NAT or firewall on the path, if known.
      - A silent session gets a keepalive every I(period) x C(ClientAliveInterval), where I(period) is measured per
        OpenSSH version (C(sshd -V) on the host) - 2 on OpenSSH 9.2, 1 on 8.4 and 10.x (docs/timing.md). A version
        outside that table gets the longest measured period, with a warning, and RV(timing) says so.
      - When O(client_alive_interval) is omitted it is derived from this with a 20% margin, divided by the period
        (300 gives 240 on 8.4 and 10.x, 120 on 9.2) - a keepalive every 240 s on every version.
        An explicit interval with I(period) x interval not below it is an error, whose message names the
        longest interval that is accepted.
    type: int
  dead_peer_timeout:
    description:
      - Longest time in seconds a client that stopped answering may keep its session. sshd drops it at the
        (count-max + 1)-th unanswered keepalive, after (count-max + 1) x I(period) x interval (count-max defaults
        to OpenSSH's 3); the module fails when that is longer, naming the largest interval and count-max that fit.
    type: int
  options:
    description:
      - Other single-valued sshd keywords to set in the same scope with the same first-value-wins
        placement, for example C(LoginGraceTime). Keywords that may appear several times and add up
        (C(AllowUsers), C(HostKey), C(Port) …) are not meant for this.
      - One of O(client_alive_interval), O(client_alive_count_max), O(tcp_keepalive), O(nat_idle_timeout)
        or a non-empty O(options) is required; a call that asks for nothing fails.
    type: dict
  state:
    description:
      - C(present) makes the given values effective; C(absent) removes the given keywords from the
        scope (global or O(match)) in every file of the tree, so sshd's defaults apply.
      - With C(absent), the values of the options only select the keywords; any value works.
      - C(absent) reports every line it removed in RV(removed) and RV(messages); a keyword that was not
        set is named in RV(messages) ("C(ClientAliveInterval is not set globally) ...").
    type: str
    choices: [present, absent]
    default: present
  backup:
    description: Keep a timestamped copy of every file before it is changed (C(FILE.PID.DATE@TIME~)).
    type: bool
    default: false
  backup_keep:
    description:
      - With O(backup), how many backups of each changed file are kept; older ones (named as this module
        and ansible-core's C(backup) name them) are removed after the new one is written. V(0) keeps all.
      - The default keeps a week of nightly drift corrections without piling up files forever.
    type: int
    default: 5
  validate:
    description:
      - How the changed tree is checked before any file is replaced. It is always checked as a whole, on a
        private copy of the Include tree, so a drop-in that breaks the main file is caught.
      - Omitted (the default) runs C(sshd -t -f %s) with O(sshd_binary).
      - A command containing C(%s), as the O(ansible.builtin.template#module:validate) option of
        ansible-core's C(template) and C(lineinfile) modules. It is split into words like a
        shell command line (quotes work; no shell runs it, so no pipes), C(~) and C($VAR) in a word are
        expanded as ansible-core does, and C(%s) in any word is replaced by the staged copy of O(path).
        The file is accepted when the command exits 0.
        For example C(/usr/sbin/sshd -t -f %s -h /etc/ssh/ssh_host_ed25519_key).
      - The default check, and a command with C(-t), also compare the effective settings before and after
        the change (C(sshd -T), that command with C(-t) turned into C(-T)), for a default connection and
        one per C(Match) block; the run fails, changing nothing, if any keyword other than the managed
        ones would change. When the tree is rejected, the original is checked too, so the message says
        whether it was rejected before any change.
      - V(false) turns validation off, for example to prepare a file for an image on a host without sshd.
        Any other value than a command or V(false) (V(true) included) is an error; omit the option for
        the default check.
    type: raw
  sshd_binary:
    description: sshd executable used for validation. Looked up in C(PATH) and sbin directories.
    type: str
    default: sshd
  include_base:
    description:
      - Directory that relative C(Include) paths are resolved against. sshd uses its compiled-in
        configuration directory, C(/etc/ssh) on every common distribution.
    type: path
    default: /etc/ssh
  command_timeout:
    description: Seconds the validation (C(sshd -t) or the O(validate) command) may take before it is killed.
    type: int
    default: 30
extends_documentation_fragment:
  - keepalive.ssh.attributes
  - keepalive.ssh.attributes.writer
seealso:
  - module: keepalive.ssh.client_keepalive
  - module: keepalive.ssh.keepalive_info
'''

EXAMPLES = r'''
- name: Keep idle sessions alive through 5-minute NAT timeouts
  keepalive.ssh.sshd_keepalive:
    client_alive_interval: 60
    client_alive_count_max: 10
    backup: true
  notify: Reload sshd

- name: Behind a firewall that drops idle connections after 5 minutes (a keepalive every 240 s on every version)
  keepalive.ssh.sshd_keepalive:
    nat_idle_timeout: 300        # interval 240, or 120 on OpenSSH 9.2 (it sends every 2 x interval)
    client_alive_count_max: 3
    dead_peer_timeout: 960       # (3 + 1) x 240 s

- name: Shorter dead-peer detection for one group of users only
  keepalive.ssh.sshd_keepalive:
    match: Group contractors
    client_alive_interval: 30
    client_alive_count_max: 4

- name: Remove the global settings again (sshd defaults apply)
  keepalive.ssh.sshd_keepalive:
    client_alive_interval: 0
    client_alive_count_max: 0
    state: absent
  register: removal

- name: Say what was removed
  ansible.builtin.debug:
    msg: "{{ removal.removed | map(attribute='keyword') | list }} removed; {{ removal.messages }}"

- name: Validate with an explicit host key (sshd -t needs one)
  keepalive.ssh.sshd_keepalive:
    client_alive_interval: 60
    validate: /usr/sbin/sshd -t -f %s -h /etc/ssh/ssh_host_ed25519_key
'''

RETURN = r'''
files:
  description: Files that were (or in check mode would be) changed.
  returned: always
  type: list
  elements: str
  sample: [/etc/ssh/sshd_config.d/50-cloud-init.conf]
backup_file:
  description: Backup of the first changed file, when O(backup=true).
  returned: changed and backup requested
  type: str
  sample: /etc/ssh/sshd_config.12345.2026-11-25@14:07:31~
backup_files:
  description: Backup path for every changed file, by file.
  returned: changed and backup requested
  type: dict
effective:
  description:
    - The value sshd will use for each managed keyword in the scope, and the file and line it comes
      from, as computed from the configuration after the change. Lines that set it too but are
      never used are listed under C(shadowed).
  returned: always
  type: dict
  sample:
    ClientAliveInterval: {value: "60", file: /etc/ssh/sshd_config, line: 12, shadowed: []}
timing:
  description:
    - The keepalive period the timeouts were resolved with, for the host's sshd version (docs/timing.md).
      C(measured) is false when the version is not in the measured table (or sshd is missing); then the longest
      measured period is assumed and C(message) says so.
  returned: when nat_idle_timeout or dead_peer_timeout is given
  type: dict
  sample: {openssh: "9.2", measured: true, keepalive_every_intervals: 2,
           message: "sshd (OpenSSH 9.2) sends a keepalive every 2 × ClientAliveInterval (measured)"}
messages:
  description:
    - What the module did beyond changing values, e.g. that a drop-in was edited because sshd reads it first.
    - With O(state=absent), each removed line, or that a keyword was not set.
  returned: always
  type: list
  elements: str
removed:
  description: With O(state=absent), every line removed (or that would be in check mode), as found before the change.
  returned: when state is absent
  type: list
  elements: dict
  sample: [{keyword: ClientAliveInterval, value: "60", file: /etc/ssh/sshd_config, line: 12}]
  contains:
    keyword:
      description: The keyword as written in the file.
      type: str
    value:
      description: Its value.
      type: str
    file:
      description: The file it was in.
      type: str
    line:
      description: Its line number before the change.
      type: int
'''

import os
import tempfile

# first: a clear failure on a too-old target Python instead of a SyntaxError from the engine
from ansible_collections.keepalive.ssh.plugins.module_utils import target_python  # noqa: F401  pylint: disable=unused-import
from ansible.module_utils.basic import AnsibleModule
from ansible_collections.keepalive.ssh.plugins.module_utils.keepalive import InputError, server_probe_connections
from ansible_collections.keepalive.ssh.plugins.module_utils.plans import (
    DEFAULT_VALIDATION,
    SERVER_SPEC,
    NotRootsAlone,
    command_for,
    roots_reader,
    needs_sshd_version,
    server_plan,
    server_result,
    server_settings,
    server_warnings,
    validation,
)
from ansible_collections.keepalive.ssh.plugins.module_utils.platforms import (
    SSHD_CONFIG,
    VENDOR_SSHD_CONFIG,
    server_layout,
)
from ansible_collections.keepalive.ssh.plugins.module_utils.safefile import SafeDir, UnsafePath, prune_backups
from ansible_collections.keepalive.ssh.plugins.module_utils.sshconf import SSHD, ConfigError
from ansible_collections.keepalive.ssh.plugins.module_utils.support import (
    SBIN_DIRS,
    diff_entries,
    escaped,
    find_binary,
    openssh_version_of,
    validate_tree,
)
from ansible_collections.keepalive.ssh.plugins.module_utils.timing import assumed, openssh_version


def validators(command, sshd):
    """argv for a staged tree: the user's command (see plans.validation) or sshd -t."""
    if command == DEFAULT_VALIDATION:
        return lambda staged: [[sshd, '-t', '-f', staged]]
    return lambda staged: [command_for(command, staged)]


def collateral_probes(command, sshd, tree):
    """'sshd -T' for a default connection and one per Match block, before and after the edit.

    A validate command is used with -t turned into -T (it names the binary and
    host keys that work here); without -t there is no way to ask it for the
    effective settings, and the comparison is left out.
    """
    if command == DEFAULT_VALIDATION:
        base = [sshd, '-T', '-f', '%s']
    elif '-t' in command:
        base = ['-T' if word == '-t' else word for word in command]
    else:
        return []
    return [('connection %s' % spec, lambda staged, spec=spec: command_for(base, staged) + ['-C', spec])
            for spec in server_probe_connections(tree)]


def write_temp(doc):
    """The new content in a temp file next to the target (same filesystem: the rename is atomic)."""
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(doc.path), dir=os.path.dirname(doc.path))
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(doc.to_bytes())
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def replace_files(module, docs, backup, keep):
    """Write every candidate first, then back up and rename each over its target.

    Disk full, read-only filesystems and permission errors all surface while
    writing the temp files, before any target has changed; the renames that
    follow do not allocate space.
    """
    temps = {}
    try:
        for doc in docs:
            temps[doc.path] = write_temp(doc)
    except OSError as e:
        for tmp in temps.values():
            os.unlink(tmp)
        module.fail_json(msg='could not write a new %s next to %s: %s; nothing was changed'
                         % (os.path.basename(e.filename or doc.path), doc.path, e.strerror or e))
    backups = {}
    try:
        for doc in docs:
            if backup:
                backups[doc.path] = module.backup_local(doc.path)
    except Exception as e:  # backup_local raises a bare Exception
        # the temps, the finished backups and the partial one (backup_local names it PATH.PID.DATE~)
        partial = [os.path.join(os.path.dirname(d.path), f) for d in docs for f in os.listdir(os.path.dirname(d.path))
                   if f.startswith('%s.%d.' % (os.path.basename(d.path), os.getpid())) and f.endswith('~')]
        for path in set(list(temps.values()) + list(backups.values()) + partial):
            if os.path.exists(path):
                os.unlink(path)
        module.fail_json(msg='%s (%s); nothing was changed' % (e, e.__cause__ or 'no detail'))
    for doc in docs:
        module.atomic_move(temps.pop(doc.path), doc.path)
    for path in backups:
        prune_backups(os.path.dirname(path), os.path.basename(path), keep)
    return backups


def run_module():
    module = escaped(AnsibleModule(supports_check_mode=True, **SERVER_SPEC))
    p = module.params
    path = p['path']
    timing = None
    if needs_sshd_version(p):  # how often this host's sshd really sends keepalives
        sshd = p['sshd_binary']
        if not os.path.isabs(sshd):
            sshd = module.get_bin_path(sshd, opt_dirs=SBIN_DIRS)  # missing: version unknown, the conservative period
        timing = assumed(openssh_version(openssh_version_of(sshd, p['command_timeout'])))
        if not timing.measured:
            module.warn(timing.describe())
    try:
        settings = server_settings(p, timing)
        command = validation(p)
    except InputError as e:
        module.fail_json(msg=str(e))
    if os.path.isdir(path):
        module.fail_json(msg='path=%s is a directory; give the sshd_config file itself' % path)
    layout = server_layout(path)
    if not os.path.exists(layout.main):
        module.fail_json(msg='path=%s does not exist (nor does SUSE\'s vendor file %s below the same root); '
                             'is openssh-server installed?' % (path, path[:-len(SSHD_CONFIG)] + VENDOR_SSHD_CONFIG
                                                               if path.endswith(SSHD_CONFIG) else VENDOR_SSHD_CONFIG))
    for msg in server_warnings(p, settings):
        module.warn(msg)

    with SafeDir(os.path.dirname(path) or '.') as directory:
        try:
            directory.lock()
            # sshd -T and -t read it as root: only a tree root alone controls (plans.roots_reader)
            tree, report = server_plan(p, settings, layout, **roots_reader(SSHD))
        except (InputError, ConfigError, UnsafePath, NotRootsAlone) as e:
            module.fail_json(msg='%s: %s' % (path, e))
        changed_docs = tree.changed_docs()
        if changed_docs and command is not None:
            sshd = None
            if command == DEFAULT_VALIDATION:
                sshd = find_binary(module, p['sshd_binary'], 'sshd_binary', 'openssh-server')
            validate_tree(module, tree, validators(command, sshd), probes=collateral_probes(command, sshd, tree),
                          managed_keywords=[k for k, v in settings.items() if v is not None],
                          timeout=p['command_timeout'])
        backups = {}
        if changed_docs and not module.check_mode:
            backups = replace_files(module, changed_docs, p['backup'], p['backup_keep'])

    for msg in report.warnings:
        module.warn(msg)
    result = server_result(p, settings, tree, report, timing)
    if backups:
        result['backup_file'] = backups.get(changed_docs[0].path)
        result['backup_files'] = backups
    if module._diff:
        result['diff'] = diff_entries(changed_docs)
    module.exit_json(**result)


def main():
    run_module()


if __name__ == '__main__':
    main()
