"""Simulated fleet: real sshd processes on loopback addresses, each with its own /etc/ssh-like tree.

One harness for the demo, molecule, the tests and the benchmark:

    python tools/fleet.py up --root /tmp/fleet --size 12     # create trees, start sshd, write inventory
    python tools/fleet.py down --root /tmp/fleet             # stop every process the fleet started

Every host gets a Debian-like layout under ROOT/hosts/NAME (etc/ssh with
sshd_config, sshd_config.d/, host key; home/USER/.ssh/config; run/sshd.pid;
log/sshd.log), an address 127.42.X.Y and a port, and starts from one of the
scenarios below — stock files from tests/fixtures, some of them drifted or
tricky (Include-first with a cloud-init drop-in, Match blocks, globals after a
Match, Host * first in a user's config).  Ansible reaches the hosts over real
SSH with a fleet key, as root or (--login-user, what the demo does) as a non-root
user with passwordless sudo, the way most fleets are run: the playbooks become
root where they need it.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, 'tests', 'fixtures')
EXAMPLE_GROUP_VARS = os.path.join(ROOT, 'examples', 'inventory', 'group_vars')
SSHD = shutil.which('sshd') or '/usr/sbin/sshd'
USERS = ('kaalice', 'kabob', 'kacarol')
# The roles as the idle proofs apply them: the client role for the controller's own user, the sshd
# role on the fleet (tests/e2e/test_idle_*.py, tools/idle_proof.py).
CLIENT_PLAY = '''
- name: Client keepalive for the local user
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - keepalive.ssh.client
'''
SERVER_PLAY = '''
- name: Server keepalive on the fleet
  hosts: all
  gather_facts: false
  roles:
    - keepalive.ssh.sshd
'''
# The non-root SSH login with passwordless sudo that the demo uses (playbooks need become).
ADMIN = 'kaadmin'
SUDOERS = '/etc/sudoers.d/keepalive-fleet'

# scenario → fixture of tests/fixtures/sshd it starts from
SERVER_SCENARIOS = {
    'cloud': 'ubuntu2404-cloud',         # Include first + 50-cloud-init.conf with ClientAliveInterval 0
    'debian': 'debian12',                # stock, nothing set
    'match': 'match-blocks',             # ClientAliveInterval 300 globally, Match blocks with own values
    'rhel': 'rhel9',                     # Include first + 50-redhat.conf
    'drifted': 'trailing-comments',      # 600 / 0 with trailing comments
    'after-match': 'global-after-match',  # "global" lines that are really inside a Match block
}
# user → cycle of ssh_config fixtures (None: no ~/.ssh/config yet)
USER_SCENARIOS = {
    'kaalice': ['host-star-first', None, 'many-hosts'],
    'kabob': [None, 'global-before-host', None],
    'kacarol': [None],
}
GROUPS = ['bastion', 'prod_web', 'prod_db', 'office', 'prod_web', 'prod_db']
PREFIX = {'bastion': 'bastion', 'prod_web': 'web', 'prod_db': 'db', 'office': 'office'}


def run(argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)


def ensure_users(names=USERS, shell='/usr/sbin/nologin'):
    """The fleet's and the tests' client-side users exist, each with a real home in /home.

    Simulated hosts keep their users' files below ROOT; the functional tests use the real homes.
    """
    import pwd
    for name in names:
        home = '/home/%s' % name
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            run(['useradd', '--create-home', '--home-dir', home, '--shell', shell, name])
            continue
        if pw.pw_dir != home or not os.path.isdir(home):
            run(['usermod', '--home', home, name])
            os.makedirs(home, mode=0o755, exist_ok=True)
            os.chown(home, pw.pw_uid, pw.pw_gid)


def ensure_admin(name=ADMIN):
    """A non-root user with a login shell and passwordless sudo, as an operator's account on a fleet."""
    ensure_users((name,), shell='/bin/bash')
    # useradd leaves the password field '!' (locked), which sshd without PAM refuses even for keys;
    # '*' is "no password" without the lock: key logins only
    run(['usermod', '-p', '*', name])
    if not shutil.which('sudo'):
        raise RuntimeError('sudo is not installed (apt-get install sudo; make deps does it)')
    rule = '%s ALL=(ALL) NOPASSWD: ALL\n' % name
    try:
        with open(SUDOERS) as f:
            if f.read() == rule:
                return
    except OSError:
        pass
    tmp = SUDOERS + '.tmp'
    with open(tmp, 'w') as f:
        f.write(rule)
    os.chmod(tmp, 0o440)
    run(['visudo', '-cf', tmp])
    os.rename(tmp, SUDOERS)


class Host:
    def __init__(self, fleet, index):
        self.index = index
        self.group = GROUPS[index % len(GROUPS)]
        if fleet.scenarios:
            self.scenario = fleet.scenarios[index % len(fleet.scenarios)]
        else:  # vary scenario against group so every group meets every scenario in larger fleets
            self.scenario = sorted(SERVER_SCENARIOS)[(index * 5 + index // len(GROUPS)) % len(SERVER_SCENARIOS)]
        count = sum(1 for i in range(index + 1) if GROUPS[i % len(GROUPS)] == self.group)
        self.name = '%s-%02d' % (PREFIX[self.group], count)
        self.address = '%s.%d.%d' % (fleet.net, index // 250, index % 250 + 1)
        self.port = fleet.port
        self.dir = os.path.join(fleet.root, 'hosts', self.name)
        self.etc = os.path.join(self.dir, 'etc', 'ssh')
        self.config = os.path.join(self.etc, 'sshd_config')
        self.hostkey = os.path.join(self.etc, 'ssh_host_ed25519_key')
        self.pidfile = os.path.join(self.dir, 'run', 'sshd.pid')
        self.log = os.path.join(self.dir, 'log', 'sshd.log')

    def user_fixture(self, user):
        """The ssh_config fixture this user starts with on this host (None: no ~/.ssh/config)."""
        cycle = USER_SCENARIOS[user]
        return cycle[self.index % len(cycle)]

    def user_config(self, user):
        return os.path.join(self.dir, 'home', user, '.ssh', 'config')

    def pid(self):
        try:
            with open(self.pidfile) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None


class Fleet:
    def __init__(self, root, size=12, port=2222, net='127.42', log_level='INFO', scenarios=None, login_user='root'):
        unknown = set(scenarios or ()) - set(SERVER_SCENARIOS)
        if unknown:
            raise ValueError('unknown scenario(s) %s; known: %s' % (', '.join(sorted(unknown)),
                                                                    ', '.join(sorted(SERVER_SCENARIOS))))
        self.root = os.path.abspath(root)
        self.size = size
        self.port = port
        self.net = net
        self.log_level = log_level
        self.scenarios = list(scenarios or ())
        self.login_user = login_user
        self.key = os.path.join(self.root, 'id_ed25519')
        self.known_hosts = os.path.join(self.root, 'known_hosts')
        self.inventory = os.path.join(self.root, 'inventory', 'hosts.yml')
        self.hosts = [Host(self, i) for i in range(size)]

    # -- building ----------------------------------------------------------------------
    def create(self):
        """Fresh trees, keys and inventory (any previous fleet at ROOT is stopped first)."""
        if os.path.exists(self.root):
            stop_processes(self.root)
            shutil.rmtree(self.root)
        os.makedirs(os.path.join(self.root, 'cp'), mode=0o700)
        reachable_by_users(self.root)
        os.makedirs('/run/sshd', exist_ok=True)
        ensure_users()
        if self.login_user != 'root':
            ensure_admin(self.login_user)
        run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'keepalive-fleet', '-f', self.key])
        shutil.copy(self.key + '.pub', os.path.join(self.root, 'authorized_keys'))
        if self.login_user != 'root':
            self._authorize_login_user()
        known = []
        for host in self.hosts:
            self._create_host(host)
            with open(host.hostkey + '.pub') as f:
                known.append('[%s]:%d %s' % (host.address, host.port, ' '.join(f.read().split()[:2])))
        with open(self.known_hosts, 'w') as f:
            f.write('\n'.join(known) + '\n')
        self._write_inventory()
        with open(os.path.join(self.root, 'fleet.json'), 'w') as f:
            json.dump({'size': self.size, 'port': self.port, 'net': self.net, 'log_level': self.log_level,
                       'scenarios': self.scenarios, 'login_user': self.login_user}, f)

    def _create_host(self, host):
        for sub in ('run', 'log'):
            os.makedirs(os.path.join(host.dir, sub))
        copy_fixture(os.path.join(FIXTURES, 'sshd', SERVER_SCENARIOS[host.scenario]), host.etc)
        os.makedirs(os.path.join(host.etc, 'sshd_config.d'), exist_ok=True)
        # the system-wide client config, Debian's (Include ssh_config.d/*.conf first)
        os.makedirs(os.path.join(host.etc, 'ssh_config.d'))
        with open(os.path.join(FIXTURES, 'ssh', 'stock-debian', 'config')) as f:
            system = f.read().replace('/etc/ssh', host.etc)
        with open(os.path.join(host.etc, 'ssh_config'), 'w') as f:
            f.write(system)
        with open(host.config) as f:
            scenario = f.read()
        with open(host.config, 'w') as f:
            f.write(self.harness_header(host) + scenario)
        run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', host.name, '-f', host.hostkey])
        for user in USERS:
            home = os.path.dirname(os.path.dirname(host.user_config(user)))
            os.makedirs(home)
            fixture = host.user_fixture(user)
            if fixture:
                ssh_dir = os.path.dirname(host.user_config(user))
                os.makedirs(ssh_dir, mode=0o700)
                shutil.copy(os.path.join(FIXTURES, 'ssh', fixture, 'config'), host.user_config(user))
                chown_tree(home, user)

    def login_user_keys(self):
        """The login user's authorized_keys for this fleet, in their home: sshd reads it with the user's
        rights, and ROOT may sit below a directory only root can enter (pytest's tmp_path)."""
        import hashlib
        with open(self.key + '.pub') as f:
            digest = hashlib.sha256(f.read().encode()).hexdigest()[:16]
        import pwd
        return os.path.join(pwd.getpwnam(self.login_user).pw_dir, '.ssh', 'keepalive-fleet-%s' % digest)

    def _authorize_login_user(self):
        path = self.login_user_keys()
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        shutil.copy(self.key + '.pub', path)
        chown_tree(os.path.dirname(path), self.login_user)

    def harness_header(self, host):
        """Lines every simulated host needs to run as a sandbox; first, so they win over the scenario."""
        return ('# --- keepalive.ssh fleet harness for %s (not part of the scenario) ---\n'
                'ListenAddress %s:%d\nHostKey %s\nPidFile %s\nAuthorizedKeysFile %s\n'
                'PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nLogLevel %s\n'
                # bash sources ~/.bashrc for commands run by sshd unless it is a nested shell; this
                # machine's root .bashrc starts pyenv (~0.1 s a command), a stock host's returns at once
                'SetEnv SHLVL=1\n'
                '# --- scenario: %s ---\n'
                % (host.name, host.address, host.port, host.hostkey, host.pidfile,
                   self.authorized_keys_files(), self.log_level, host.scenario))

    def authorized_keys_files(self):
        files = [os.path.join(self.root, 'authorized_keys')]
        if self.login_user != 'root':
            files.append(self.login_user_keys())
        return ' '.join(files)

    def _write_inventory(self):
        inv_dir = os.path.dirname(self.inventory)
        os.makedirs(os.path.join(inv_dir, 'host_vars'))
        if os.path.isdir(EXAMPLE_GROUP_VARS):
            shutil.copytree(EXAMPLE_GROUP_VARS, os.path.join(inv_dir, 'group_vars'))
        groups = {}
        for host in self.hosts:
            groups.setdefault(host.group, {})[host.name] = {'ansible_host': host.address, 'ansible_port': host.port}
            with open(os.path.join(inv_dir, 'host_vars', host.name + '.yml'), 'w') as f:
                yaml.safe_dump(self.host_vars(host), f, default_flow_style=False, sort_keys=False)
        inventory = {'all': {
            'vars': self.connection_vars(),
            'children': {
                'bastion': {'hosts': groups.get('bastion', {})},
                'office': {'hosts': groups.get('office', {})},
                'prod': {'children': {'prod_web': {'hosts': groups.get('prod_web', {})},
                                      'prod_db': {'hosts': groups.get('prod_db', {})}}},
            }}}
        with open(self.inventory, 'w') as f:
            f.write('# Generated by tools/fleet.py: the simulated fleet at %s\n' % self.root)
            yaml.safe_dump(inventory, f, default_flow_style=False, sort_keys=False)

    def connection_vars(self):
        return {
            'ansible_user': self.login_user,
            'ansible_ssh_private_key_file': self.key,
            'ansible_ssh_common_args': '-F /dev/null -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes'
                                       % self.known_hosts,
            'ansible_ssh_args': '-o ControlMaster=auto -o ControlPersist=120s',
            'ansible_control_path_dir': os.path.join(self.root, 'cp'),
            'ansible_ssh_pipelining': True,
            'ansible_ssh_transfer_method': 'piped',
            'ansible_python_interpreter': sys.executable,
            'keepalive_fleet_root': self.root,
        }

    def host_vars(self, host):
        """Where this host's files are and how to reload its sshd: the role variables a real host would not need."""
        return {
            'fleet_scenario': host.scenario,
            'sshd_keepalive_config_path': host.config,
            'sshd_keepalive_include_base': host.etc,
            'sshd_keepalive_reload_command': 'kill -HUP "$(cat %s)"' % host.pidfile,
            'client_keepalive_users': [{'name': u, 'path': host.user_config(u)} for u in USERS],
            'client_keepalive_system_config': os.path.join(host.etc, 'ssh_config'),
            'fleet_user_fixtures': {u: host.user_fixture(u) for u in USERS},
        }

    # -- running -----------------------------------------------------------------------
    def start(self, timeout=30):
        for host in self.hosts:
            run([SSHD, '-f', host.config, '-E', host.log])
        deadline = time.time() + timeout
        for host in self.hosts:
            while not listening(host.address, host.port):
                if time.time() > deadline:
                    raise RuntimeError('sshd of %s did not listen on %s:%d; see %s'
                                       % (host.name, host.address, host.port, host.log))
                time.sleep(0.05)

    def stop(self):
        return stop_processes(self.root)

    def reset_connections(self):
        """End Ansible's persistent SSH connections, so the next run pays for its logins again."""
        return stop_processes(self.root, marks=(os.path.join(self.root, 'cp') + os.sep,))

    def ssh_argv(self, host, *command, **opts):
        """A fresh SSH login to a host (never the persistent control socket)."""
        argv = ['ssh', '-F', '/dev/null', '-o', 'UserKnownHostsFile=%s' % self.known_hosts,
                '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'ControlPath=none',
                '-o', 'ConnectTimeout=10', '-i', self.key, '-p', str(host.port)]
        for k, v in opts.items():
            argv += ['-o', '%s=%s' % (k, v)]
        return argv + ['%s@%s' % (self.login_user, host.address)] + list(command)

    def client_entry(self, alias, host):
        """A user's own ssh_config entry for a host, as users have it before the client role adds keepalives."""
        return ('Host %s\n    HostName %s\n    Port %d\n    User root\n    IdentityFile %s\n'
                '    UserKnownHostsFile %s\n    BatchMode yes\n    TCPKeepAlive no\n'
                % (alias, host.address, host.port, self.key, self.known_hosts))

    def can_login(self, host):
        return subprocess.run(self.ssh_argv(host, 'true'), capture_output=True, check=False).returncode == 0


def ansible_env(**extra):
    """Environment for ansible commands run from this checkout: the collection from .build/, this Python
    on the controller and on the simulated hosts, no colours or cows, no retry files."""
    env = dict(os.environ,
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.build'),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_NOCOLOR='1', ANSIBLE_NOCOWS='1', ANSIBLE_LOCALHOST_WARNING='false',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='false', ANSIBLE_RETRY_FILES_ENABLED='false')
    env.update(extra)
    return env


def ensure_collection_link():
    """.build/ansible_collections/keepalive/ssh → this checkout (what `make` sets up, for direct runs)."""
    link = os.path.join(ROOT, '.build', 'ansible_collections', 'keepalive', 'ssh')
    if not os.path.lexists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(ROOT, link)


def reachable_by_users(path):
    """Let the simulated users pass every directory above ROOT (x only), as they pass / and /home on a real
    host: the modules read a user's files as that user, and a temp dir's parents are often 0700 root."""
    path = os.path.abspath(path)
    while path != '/':
        mode = os.stat(path).st_mode
        if not mode & 0o001:
            os.chmod(path, mode | 0o011)
        path = os.path.dirname(path)


def copy_fixture(src, dest):
    """Copy a fixture tree, pointing its /etc/ssh paths at the copy."""
    shutil.copytree(src, dest)
    for dirpath, _dirs, files in os.walk(dest):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, 'rb') as f:
                data = f.read()
            with open(path, 'wb') as f:
                f.write(data.replace(b'/etc/ssh', dest.encode()))


def chown_tree(top, user):
    import pwd
    pw = pwd.getpwnam(user)
    for dirpath, _dirs, files in os.walk(top):
        os.chown(dirpath, pw.pw_uid, pw.pw_gid)
        for name in files:
            os.chown(os.path.join(dirpath, name), pw.pw_uid, pw.pw_gid)


def listening(address, port):
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def _processes():
    """{pid: (ppid, cmdline)} of every process."""
    out = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as f:
                ppid = int(f.read().rsplit(')', 1)[1].split()[1])
            with open('/proc/%s/cmdline' % entry, 'rb') as f:
                cmdline = f.read().replace(b'\0', b' ').decode(errors='replace')
        except (OSError, IndexError, ValueError):
            continue
        out[int(entry)] = (ppid, cmdline)
    return out


def stop_processes(root, timeout=10, marks=None):
    """End every process of a fleet: sshd listeners (by cmdline), their per-connection children, mux masters."""
    procs = _processes()
    ancestors = set()
    pid = os.getpid()
    while pid in procs and pid not in ancestors:
        ancestors.add(pid)
        pid = procs[pid][0]
    # Only what the fleet started: 'sshd -f ROOT/hosts/…' listeners and 'ssh: ROOT/cp/… [mux]' masters.
    marks = marks or (os.path.join(root, 'hosts') + os.sep, os.path.join(root, 'cp') + os.sep)
    roots = {pid for pid, (_pp, cmd) in procs.items() if any(m in cmd for m in marks)} - ancestors
    victims = set(roots)
    grew = True
    while grew:
        children = {pid for pid, (pp, _cmd) in procs.items() if pp in victims} - victims - ancestors
        victims |= children
        grew = bool(children)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in victims:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.time() + (timeout if sig == signal.SIGTERM else 2)
        while time.time() < deadline and any(os.path.exists('/proc/%d' % p) for p in victims):
            time.sleep(0.05)
    return len(victims)


def load(root):
    with open(os.path.join(root, 'fleet.json')) as f:
        meta = json.load(f)
    return Fleet(root, meta['size'], meta['port'], meta['net'], meta['log_level'], meta['scenarios'],
                 meta.get('login_user', 'root'))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    sub = parser.add_subparsers(dest='command', required=True)
    up = sub.add_parser('up', help='create the fleet and start every sshd')
    up.add_argument('--root', required=True)
    up.add_argument('--size', type=int, default=12)
    up.add_argument('--port', type=int, default=2222)
    up.add_argument('--net', default='127.42', help='first two octets of the loopback addresses')
    up.add_argument('--log-level', default='INFO')
    up.add_argument('--scenarios', default='', help='comma-separated scenarios to cycle through (default: all)')
    up.add_argument('--login-user', default='root',
                    help='SSH login of Ansible: root, or a user created with passwordless sudo (e.g. %s)' % ADMIN)
    down = sub.add_parser('down', help='stop every process of the fleet')
    down.add_argument('--root', required=True)
    args = parser.parse_args(argv)
    if args.command == 'up':
        fleet = Fleet(args.root, args.size, args.port, args.net, args.log_level,
                      [x for x in args.scenarios.split(',') if x], args.login_user)
        fleet.create()
        fleet.start()
        print(fleet.inventory)
    else:
        print('stopped %d processes' % stop_processes(os.path.abspath(args.root)))


if __name__ == '__main__':
    main()
