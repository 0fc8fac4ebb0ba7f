#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keepalive.ssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: client_keepalive
short_description: Manage ServerAliveInterval / ServerAliveCountMax in a user's ssh_config Host blocks
version_added: 0.1.0
description:
  - Manages all keepalive C(Host) blocks of one ssh_config file (a user's C(~/.ssh/config), or any
    path such as C(/etc/ssh/ssh_config)) in one call.
  - ssh uses the B(first) value it obtains for a keyword. The module orders blocks so that every
    managed pattern gets its values, for example C(Host bastion) before C(Host *), moves a managed
    block in front of a broader block that would shadow it, and reports what it could not fix.
  - Leaves other blocks, comments and keywords untouched; edits values in place.
  - The candidate is checked with C(ssh -G -F) before it replaces the file. As root in a user's home
    it never follows a symlink or hard link planted there, and writes atomically.
  - A user's files are read, and checked with C(ssh -G), B(as that user) (uid, gid, groups, no new
    privileges, clean environment, time limit), never with root's rights; see C(docs/security.md).
    A user whose files cannot be used is skipped with the reason in RV(skipped_users), unless O(strict=true).
  - Run without root (no C(become)) and without O(user), O(path), O(system_config) or O(users), it manages the
    running user's own C(~/.ssh/config). Run so, as the user whose file it is, a symlinked C(~/.ssh/config)
    or C(~/.ssh) (GNU stow, yadm, home-manager) is followed with only that user's rights and the file it
    points to is edited in place (the link stays a link); a file there the user cannot replace (a read-only
    store) skips it with that reason. Run as root for another user, symlinks are never followed.
author:
  - keepalive.ssh developers (@keepalive-ssh)
requirements:
  - Python 3.6 or newer on the target (older ones fail with a message saying so)
  - OpenSSH C(ssh) on the target (for validation with C(ssh -G))
options:
  user:
    description:
      - Local user whose C(~/.ssh/config) is managed (home directory from the passwd database).
      - Omitted together with O(path), O(system_config) and O(users), the user running the module (see O(as_root)).
      - C(~/.ssh) (0700) and C(config) (0600) are created, owned by the user, when missing.
    type: str
  path:
    description:
      - ssh_config file to manage. Defaults to C(~user/.ssh/config) when O(user) is given.
      - With O(user), a C(.ssh) directory in the path is created for and owned by the user.
      - Without O(user), new files are owned by the user running the module.
      - Without O(user), a file a local user controls (the file or a directory above it is theirs, or
        it is below their home) is read and checked as that user, never as root; an error fails the task.
        So is a file whose C(Include)s reach a file or directory root does not control alone (it is read as
        the owner of the first one, or refused when group or others may write it).
    type: path
  system_config:
    description:
      - Manage system-wide client settings instead of a user's. When this file (normally
        C(/etc/ssh/ssh_config)) includes C(ssh_config.d/*.conf), as Debian, Ubuntu and Fedora ship
        it, the settings go to the drop-in O(drop_in) there; otherwise into the file itself.
      - A value of the system file that the drop-in now sets first for a managed block's hosts is
        named in RV(messages) (it is never used again).
      - New files are created 0644 (ssh reads it as every user).
    type: path
  drop_in:
    description: File name of the drop-in used with O(system_config).
    type: str
    default: 50-keepalive.conf
  hosts:
    description: The Host blocks to manage. Required unless O(users) is given.
    type: list
    elements: dict
    suboptions: &host_options
      pattern:
        description: Host pattern list as written after C(Host), for example C(bastion), C(prod-*) or C(a b !c).
        type: str
        required: true
      server_alive_interval:
        description: C(ServerAliveInterval) in seconds; C(0) disables keepalives.
        type: int
      server_alive_count_max:
        description: C(ServerAliveCountMax), unanswered keepalives before ssh disconnects.
        type: int
      nat_idle_timeout:
        description:
          - Idle timeout in seconds of the shortest NAT or firewall on the way to these hosts.
          - Without O(hosts[].server_alive_interval) the interval is derived from it with a 20% margin
            (300 gives 240); an explicit interval that is not below it is an error.
        type: int
      dead_peer_timeout:
        description:
          - Fail when (count-max + 1) × interval (default count-max 3) is longer than this many seconds.
          - ssh drops a server that stopped answering at its (count-max + 1)-th unanswered keepalive, on every
            measured OpenSSH version (docs/timing.md).
        type: int
      options:
        description: "Other keywords for this block, for example C({ProxyJump: bastion})."

        type: dict
        default: {}
      state:
        description: Per-block override of O(state).
        type: str
        choices: [present, absent]
  users:
    description:
      - Manage several users' files in one call, as the C(keepalive.ssh.client) role does (one module
        call per host). Each entry is handled like O(user) with its own O(users[].hosts); all entries are
        checked before any file is touched. Results per user are in RV(results).
      - Mutually exclusive with O(user), O(path), O(system_config) and O(hosts).
    type: list
    elements: dict
    suboptions:
      name:
        description: Local user name.
        type: str
        required: true
      path:
        description:
          - The user's ssh_config (as O(path)); defaults to C(~name/.ssh/config).
        type: path
      hosts:
        description: The Host blocks, with the same keys as O(hosts).
        type: list
        elements: dict
        required: true
        suboptions: *host_options
      state:
        description: C(absent) removes this user's managed keywords.
        type: str
        choices: [present, absent]
        default: present
  nat_idle_timeout:
    description: Default of O(hosts[].nat_idle_timeout) for every block that does not set its own.
    type: int
  dead_peer_timeout:
    description: Default of O(hosts[].dead_peer_timeout) for every block that does not set its own.
    type: int
  state:
    description:
      - C(present) makes the values effective. C(absent) removes the managed keywords (and the listed
        O(hosts[].options) keys) from those blocks, and a block left empty.
      - C(absent) reports every line it removed in RV(removed) and RV(messages); a block that does not
        exist or has none of the keywords is named in RV(messages) (C(... nothing to remove)).
    type: str
    choices: [present, absent]
    default: present
  mode:
    description:
      - Mode of the file. Existing files keep theirs unless this is set.
      - With O(user), a mode that would loosen an existing file (add a permission bit) is refused.
    type: raw
  backup:
    description: Keep a timestamped copy (same owner and mode) before changing the file (C(FILE.PID.DATE@TIME~)).
    type: bool
    default: false
  backup_keep:
    description:
      - With O(backup), how many backups of each changed file are kept; older ones (named as this module
        and ansible-core's C(backup) name them) are removed after the new one is written, in a user's
        directory through its descriptor. V(0) keeps all.
      - The default keeps a week of nightly drift corrections without piling up files forever.
    type: int
    default: 5
  validate:
    description:
      - How the candidate file is checked before it replaces the file.
      - Omitted (the default) runs C(ssh -G -F %s PATTERN) with O(ssh_binary) for every managed pattern,
        which also warns when ssh would still use another value than the one requested. It also compares
        C(ssh -G) before and after the change for every name in the file's C(Host)/C(Match) patterns and a
        few generic names; the run fails, changing nothing, if any keyword other than the managed ones
        would change. When the candidate is rejected, the original is checked too, so the message says
        whether it was rejected before any change, with line numbers of the real file.
      - A command containing C(%s), as the O(ansible.builtin.template#module:validate) option of
        ansible-core's C(template) and C(lineinfile) modules. It is split into words like a
        shell command line (quotes work; no shell runs it), C(~) and C($VAR) in a word are expanded as
        ansible-core does, and C(%s) in any word is replaced by the staged copy of the file. The file is
        accepted when the command exits 0.
      - V(false) turns validation off. Any other value than a command or V(false) (V(true) included) is
        an error; omit the option for the default check.
    type: raw
  ssh_binary:
    description: ssh executable used for validation.
    type: str
    default: ssh
  command_timeout:
    description:
      - Seconds one user's files may cost in all, the wait for another run's lock on the user's C(.ssh)
        directory, the read, the engine's work on the files and every C(ssh -G) together; the whole
        process group is killed after that and the user is skipped (see O(strict)).
    type: int
    default: 30
  max_file_size:
    description:
      - Largest file, in bytes, read of a user's config or of a file it includes. A larger file, a
        FIFO, a device, a symlink or a hard-linked file skips the user (see O(strict)).
    type: int
    default: 1048576
  as_root:
    description:
      - What a run as root without O(user), O(path), O(system_config) and O(users) does; run as any other user
        it manages that user's own C(~/.ssh/config).
      - V(fail) (root has no own file to default to) or V(nothing) (the C(keepalive.ssh.client) role's choice,
        so that a play as root manages only the users it lists).
    type: str
    choices: [fail, nothing]
    default: fail
  strict:
    description:
      - Fail the task when a user's files cannot be used (unsafe, locked, unreadable, unparsable, too
        big, too slow) instead of skipping that user and going on with the others (RV(skipped_users)).
    type: bool
    default: false
extends_documentation_fragment:
  - keepalive.ssh.attributes
  - keepalive.ssh.attributes.writer
seealso:
  - module: keepalive.ssh.sshd_keepalive
  - module: keepalive.ssh.keepalive_info
'''

EXAMPLES = r'''
- name: Keepalives for alice, bastion and prod first, then a default for everything
  keepalive.ssh.client_keepalive:
    user: alice
    hosts:
      - pattern: bastion
        server_alive_interval: 15
        server_alive_count_max: 60
      - pattern: prod-*
        server_alive_interval: 120
        server_alive_count_max: 5
      - pattern: "*.internal"
        server_alive_interval: 30
        options:
          ProxyJump: bastion
      - pattern: "*"
        server_alive_interval: 60
        server_alive_count_max: 10

- name: System-wide defaults (in /etc/ssh/ssh_config.d/50-keepalive.conf where the distro includes it)
  keepalive.ssh.client_keepalive:
    system_config: /etc/ssh/ssh_config
    hosts:
      - pattern: "*"
        server_alive_interval: 60

- name: Hosts behind a firewall that drops idle connections after 5 minutes
  keepalive.ssh.client_keepalive:
    user: alice
    hosts:
      - pattern: "legacy-*"
        nat_idle_timeout: 300

- name: Several users in one call, one of them with a file outside their home
  keepalive.ssh.client_keepalive:
    users:
      - name: alice
        hosts: [{pattern: "*", server_alive_interval: 60}]
      - name: bob
        path: /srv/home/bob/.ssh/config
        hosts: [{pattern: "*", server_alive_interval: 60}]
'''

RETURN = r'''
path:
  description: The managed file (with O(users), each user's is in RV(results)).
  returned: when users is not given and a file is managed (not as root with as_root=nothing and no target)
  type: str
  sample: /home/alice/.ssh/config
files:
  description: Files changed (or that would be in check mode).
  returned: always
  type: list
  elements: str
backup_file:
  description: Backup of the file, when O(backup=true) and it changed.
  returned: changed and backup requested
  type: str
effective:
  description:
    - For each managed pattern, the values ssh will use as computed by the collection's config engine from
      the file after the change, with the file and line each comes from (with O(users), in RV(results)).
  returned: when users is not given
  type: dict
  sample: {bastion: {ServerAliveInterval: {value: "15", file: /home/alice/.ssh/config, line: 2}}}
messages:
  description:
    - Blocks added, blocks extended for other names too, or lines relocated so the values take effect.
    - With O(state=absent), each removed line, or a block with nothing to remove.
  returned: always
  type: list
  elements: str
skipped_users:
  description:
    - Users whose files were left alone, with the file and the reason (names files, never quotes them).
      Not named C(skipped), which Ansible would read as "task skipped".
  returned: always
  type: list
  elements: dict
  sample: [{user: mallory, path: /home/mallory/.ssh/config, reason: "/home/mallory/.ssh/fifo is not a regular file"}]
removed:
  description:
    - When a block is C(absent), every line removed (or that would be in check mode), as found before the
      change; with O(users), every user's.
  returned: when a block is absent
  type: list
  elements: dict
  sample: [{keyword: ServerAliveInterval, value: "30", file: /home/alice/.ssh/config, line: 2}]
results:
  description:
    - With O(users), the result of each user's file, with the keys of a single-file run
      (C(changed), C(path), C(files), C(effective), C(messages), and C(removed), C(backup_file), C(diff) as there).
  returned: when users is given
  type: list
  elements: dict
'''

import os

# first: a clear failure on a too-old target Python instead of a SyntaxError from the engine
from ansible_collections.keepalive.ssh.plugins.module_utils import target_python  # noqa: F401  pylint: disable=unused-import
from ansible.module_utils.basic import AnsibleModule
from ansible_collections.keepalive.ssh.plugins.module_utils.keepalive import (
    CLIENT_KEYWORDS,
    InputError,
    apply_client,
    client_probe_hosts,
)
from ansible_collections.keepalive.ssh.plugins.module_utils.plans import (
    CLIENT_SPEC,
    DEFAULT_VALIDATION,
    ClientPlan,
    JobError,
    NotRootsAlone,
    adopt_owner,
    check_home,
    unexpected,
    client_result,
    check_limits,
    client_warnings,
    command_for,
    file_mode,
    host_specs,
    jobs,
    nothing_as_root,
    parse_mode,
    roots_reader,
    skip_entry,
    target,
    validation,
)
from ansible_collections.keepalive.ssh.plugins.module_utils.safefile import SafeDir, UnsafePath, running_as
from ansible_collections.keepalive.ssh.plugins.module_utils.sshconf import SSH, ConfigError, Document, Tree
from ansible_collections.keepalive.ssh.plugins.module_utils.staging import Stage
from ansible_collections.keepalive.ssh.plugins.module_utils.support import (
    Limits,
    diff_entries,
    escaped,
    find_binary,
    run_tool,
    validate_tree,
)
from ansible_collections.keepalive.ssh.plugins.module_utils.userread import (
    Identity,
    UserFiles,
    UserFileError,
    own_rights,
    ssh_g_argv,
)


def custom(command):
    """Validators: the user's command (see plans.validation) on the staged file."""
    return lambda staged: [command_for(command, staged)]


def ssh_g(ssh, specs):
    """Validators: one 'ssh -G -F' per managed pattern, which also tells the values ssh will use."""
    probes = [s.probe for s in specs if s.state == 'present'] or ['localhost']
    return lambda staged: [ssh_g_argv(ssh, staged, probe) for probe in probes]


def collateral_probes(ssh, names):
    """'ssh -G' for every name of keepalive.client_probe_hosts (the file's Host/Match names and a few generic
    ones), before and after."""
    return [('host %s' % name, lambda staged, name=name: ssh_g_argv(ssh, staged, name)) for name in names]


def managed_keywords(specs):
    """ServerAlive* (state=absent removes them even when no value is given) and every host's options."""
    return set(k.lower() for k in CLIENT_KEYWORDS) | set(k.lower() for spec in specs for k in spec.settings)


def disagreements(specs, outputs):
    """Where 'ssh -G' would use another value than requested (a shadowing we could not fix)."""
    for spec, out in zip([s for s in specs if s.state == 'present'], outputs):
        seen = dict(line.split(None, 1) for line in out.splitlines() if ' ' in line)
        for keyword in CLIENT_KEYWORDS:
            want = spec.settings.get(keyword)
            got = seen.get(keyword.lower(), '').strip()
            if want is not None and got != want:
                yield 'Host %s: ssh -G reports %s %s, not %s' % (spec.pattern, keyword, got, want)


def run_module():
    module = escaped(AnsibleModule(supports_check_mode=True, **CLIENT_SPEC))
    # exit_json would stat a result's `path` as root, following a user's links (size, owner and mode of a
    # file they cannot see) and failing the task when a racer removes it: the result says what it says
    module.add_path_info = lambda kwargs: kwargs
    results, skipped = [], []
    label = ''
    try:
        command = validation(module.params)
    except InputError as e:
        module.fail_json(msg=str(e))
    try:
        # every job's input and user is checked before any file is touched (errors name the parameter path)
        prepared = []
        todo = jobs(module.params)
        if not todo:  # as root with as_root=nothing and no target: the client role on a host without users
            module.exit_json(**nothing_as_root())
        for job in todo:
            job = adopt_owner(job)  # a file a user controls is read and checked as that user (finding 6)
            specs = host_specs(job['hosts'], job['state'], module.params, job['prefix'])
            label = job['label']
            prepared.append((job, specs, target(job, module.params['drop_in'])))
        check_limits(module.params)
        if command == DEFAULT_VALIDATION:
            check_requested(module, [(job['prefix'], specs) for job, specs, _where in prepared if job['user']])
        for job, specs, where in prepared:
            label = job['label']
            try:
                results.append(run_job(module, job, specs, where, command))
            except Exception as e:  # pylint: disable=broad-except
                if not job['user'] or job.get('adopted'):
                    raise
                # one user's file must not stop the host, whatever it makes fail: skip it, say why (strict
                # turns this into a failure)
                skipped.append(skip_entry(job, where, e if isinstance(e, EXPECTED) else unexpected(e)))
                if module.params['strict']:
                    raise JobError(skipped[-1]['reason'])
    except InputError as e:
        module.fail_json(msg=str(e))
    except EXPECTED as e:
        module.fail_json(msg='%s%s' % (label, e), skipped_users=skipped)
    for entry in skipped:
        module.warn('%s: skipped (%s)' % (entry['user'], entry['reason']))
    module.exit_json(**client_result(module.params, results, skipped))


EXPECTED = (JobError, UnsafePath, UserFileError, ConfigError, NotRootsAlone)


def check_requested(module, requests):
    """The requested blocks alone, in an otherwise empty file, checked with ssh -G as root (their text is
    the admin's, nothing of a user's): a rejection is the admin's input error and fails the task, where
    it would otherwise be every user's candidate rejected and every user skipped.  ``requests``:
    (parameter prefix, specs) of each user's job; each distinct request is checked once."""
    seen = set()
    for prefix, specs in requests:
        key = repr([(s.patterns, sorted(s.settings.items()), s.state) for s in specs])
        if key in seen or not any(s.state == 'present' for s in specs):
            continue
        seen.add(key)
        ssh = find_binary(module, module.params['ssh_binary'], 'ssh_binary', 'openssh-client')
        tree = Tree('/%shosts' % prefix, SSH, loader=lambda p: Document('', SSH, p), matcher=lambda p: [])
        apply_client(tree, specs)
        stage = Stage(tree, tmpdir=module.tmpdir)
        with stage as staged:
            for argv in ssh_g(ssh, specs)(staged):
                rc, _out, err = run_tool(module, argv, Limits(None, module.params['command_timeout']))
                if rc != 0:
                    said = [line for line in stage.unstage(err).splitlines() if line.strip()] or ['exit %d' % rc]
                    raise InputError('%shosts: ssh rejects the requested blocks on their own, in an empty file '
                                     '(ssh -G %s): %s' % (prefix, argv[-1], said[0]))


def run_job(module, job, specs, where, command):
    """Manage one file (``where``: see target()): lock, read, edit, validate, write."""
    for msg in client_warnings(job, specs):
        module.warn(msg)
    trusted, relative, uid, gid, default_mode = where
    mode = parse_mode(job['mode'])  # a bad mode fails before any directory is created
    path = os.path.join(trusted, relative)
    # as root for a user, a directory there is refused by SafeDir.stat (no link of theirs followed here)
    if (not job['user'] or own_rights()) and os.path.isdir(path) and not os.path.islink(path):
        raise JobError('path=%s is a directory; give the ssh_config file itself' % path)
    owners = None
    if job['user'] and not own_rights():
        check_home(trusted, uid)
        owners = (0, uid)
    if own_rights():
        trusted, relative = link_target(trusted, relative)
    directory_part, name = os.path.split(relative)
    create = None if module.check_mode else (uid, gid, 0o700)
    try:
        directory = SafeDir(trusted, directory_part, create=create, owners=owners)
    except FileNotFoundError:
        # only directories below the trusted one are created (a user's .ssh): check mode predicts the
        # refusal of a missing trusted one (a home, the ssh_config.d of a system-wide drop-in)
        if not module.check_mode or not os.path.isdir(trusted):
            raise JobError('%s does not exist; create it first (only a missing .ssh directory is created)' % trusted)
        directory = None  # check mode: the directory and the file would be new
    try:
        return edit(module, job, directory, path, name, specs, uid, gid, mode, default_mode, command)
    finally:
        if directory is not None:
            directory.close()


def link_target(trusted, relative):
    """Run by a user (not root: userread.own_rights), a symlinked ~/.ssh/config or ~/.ssh (GNU stow, yadm,
    home-manager) is followed: the file it points to is edited in place, so the link stays a link.  Root
    never comes here (SafeDir refuses a user's links).  (directory the file is replaced in, path below it)."""
    real = os.path.realpath(os.path.join(trusted, relative))
    if real == os.path.normpath(os.path.join(os.path.realpath(trusted), relative)):
        return trusted, relative  # no link below the trusted directory: .ssh is created there when missing
    return os.path.dirname(real), os.path.basename(real)


def unwritable(path, target):
    """Why this process (not root) cannot replace ``target`` (a new file is renamed over it in its directory),
    or None.  A read-only store (home-manager's /nix/store) is a skip with this reason, not a failure."""
    directory = os.path.dirname(target)
    if os.access(directory, os.W_OK | os.X_OK):
        return None
    try:
        readonly = os.statvfs(directory).f_flag & os.ST_RDONLY
    except OSError:
        readonly = False
    why = ('its directory %s is on a read-only file system' % directory if readonly
           else '%s may not write its directory %s' % (running_as(), directory))
    link = ', which %s links to,' % path if path != target else ''
    return ('%s%s cannot be replaced (%s); nothing was changed. Change it where it is generated (a dotfiles '
            'or home-manager source), or replace it with a file of your own' % (target, link, why))


def reader_for(module, job, path, limits):
    """How the job's files are read: a user's as that user, within the limits (userread); root's own as root.

    (reader, the bytes of ``path`` the plan is made from or None when root reads them itself later)."""
    if not job['user']:
        return (roots_reader(SSH) if not own_rights() else {}), None
    files = UserFiles.read(limits.identity, [path], SSH, module.params['max_file_size'], limits.left(),
                           follow=own_rights())
    return files.reader(), files.data(path)


def edit(module, job, directory, path, name, specs, uid, gid, mode, default_mode, command):
    # one time budget for this user: lock wait, read and every ssh -G of the validation together
    identity = Identity.of(job['user']) if job['user'] else None
    limits = Limits(identity, module.params['command_timeout'])
    st = None
    if directory is not None:
        directory.lock(max(limits.left(), 0.1))
        st = directory.stat(name)
    reader, data = reader_for(module, job, path, limits)
    default = command == DEFAULT_VALIDATION
    with limits.counted():  # the engine's work on a user's file is that user's time (see Limits.counted)
        plan = ClientPlan(job, specs, path, file_mode(st), mode, default_mode, **reader)
        names = client_probe_hosts(plan.tree) if default and plan.changed else ()
        result = plan.result()
    # OpenSSH's words are quoted only for the managed file, and for a user's only when it is theirs
    shown = [path] if identity is None or st is None or st.st_uid == identity.uid else []
    if default and plan.changed:
        ssh = find_binary(module, module.params['ssh_binary'], 'ssh_binary', 'openssh-client')
        outputs = validate_tree(module, plan.tree, ssh_g(ssh, specs), probes=collateral_probes(ssh, names),
                                managed_keywords=managed_keywords(specs), managed_files=shown, limits=limits)
        for warning in disagreements(specs, outputs):
            plan.report.warn(warning)
    elif command is not None and plan.changed:
        # the admin's command, but on a user's content: run as that user too (their Match exec, their rights)
        validate_tree(module, plan.tree, custom(command), managed_files=shown, limits=limits)
    main = plan.tree.main
    written = os.path.join(directory.path, name) if directory is not None else path
    if plan.changed and own_rights() and directory is not None and unwritable(path, written):
        raise JobError(unwritable(path, written))  # in check mode too: the real run would be skipped
    if plan.changed and written != path:
        result['messages'].append('%s%s links to %s: edited there, the link stays' % (job['label'], path, written))
    if plan.changed and not module.check_mode:
        # the edit was made from the bytes read at the start: a file changed since then is not replaced
        directory.unchanged(name, st)
        if module.params['backup'] and st is not None and main.changed:
            if data is None:  # root's own file, read by root, bounded
                data = directory.read(name, module.params['max_file_size'])
            result['backup_file'] = directory.backup(name, st, data)
            directory.prune(name, module.params['backup_keep'])
        owner = (st.st_uid, st.st_gid) if st is not None else (uid, gid)
        try:
            directory.write(name, main.to_bytes(), owner[0], owner[1], plan.mode)
        except OSError as e:
            raise JobError('could not write %s as %s: %s; the file is unchanged' % (written, running_as(), e.strerror or e))
    for msg in plan.warnings():
        module.warn(msg)
    if module._diff:
        result['diff'] = diff_entries([main] if plan.changed else [])
    return result


def main():
    run_module()


if __name__ == '__main__':
    main()
