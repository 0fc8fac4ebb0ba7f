"""The idle-session proof for a person (`make demo DEMO_ARGS=--idle-proof`, or run alone as root).

A simulated network path that forgets a TCP connection after a few seconds of silence: netfilter
conntrack in a private network namespace (tests/lib/conntrack.py), one real sshd inside it.

1. keepalive.ssh.idle_probe measures the path and prints the bounds and the profile it derives;
2. one line per case: an idle session without keepalives, with the client role given the measured
   value, with the sshd role given it (the client sending none) — silent for 3 x the timeout, then an echo.

    python tools/idle_proof.py [--timeout 5] [--root /tmp/keepalive-idle-proof]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'tests', 'lib'))

from conntrack import IdleFirewall  # noqa: E402  pylint: disable=wrong-import-position
from fleet import CLIENT_PLAY, SERVER_PLAY, Fleet, ansible_env, ensure_collection_link  # noqa: E402  pylint: disable=wrong-import-position

ECHO = 5


def ansible(*argv):
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), argv[0])] + list(argv[1:]),
                          env=ansible_env(), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError('%s failed:\n%s%s' % (argv[0], proc.stdout, proc.stderr))
    return proc.stdout


def probe(fleet, timeout):
    """Run the module as a user would (ad hoc, one-line output) and return its result."""
    host = fleet.hosts[0]
    args = {'host': host.address, 'port': host.port, 'user': 'root', 'identity_file': fleet.key,
            'ssh_options': ['UserKnownHostsFile=%s' % fleet.known_hosts, 'StrictHostKeyChecking=yes'],
            'max_idle': 4 * timeout, 'resolution': 1, 'max_sessions': 6, 'reply_timeout': 3}
    out = ansible('ansible', 'localhost', '-o', '-m', 'keepalive.ssh.idle_probe', '-a', json.dumps(args))
    return json.loads(out.split('=>', 1)[1])


def case(fw, fleet, name, argv, silence):
    """One line: the session silent for `silence` s, then alive or dead, with what the wire showed."""
    entry, alive, dropped, log = fw.silence(argv, fleet.hosts[0].port, silence, ECHO)
    wire = ('conntrack entry %s' % ('refreshed' if entry else 'forgotten'),
            '%d packet(s) dropped' % dropped)
    keepalives = log.count('rtype keepalive@openssh.com')
    if keepalives:
        wire += ('%d server keepalive(s) seen by ssh -v' % keepalives,)
    print('  %-38s silent %2d s → %-5s (%s)' % (name, silence, 'alive' if alive else 'DEAD', ', '.join(wire)),
          flush=True)
    return alive


def run(timeout, root):
    ensure_collection_link()
    with IdleFirewall(timeout) as fw:
        fleet = Fleet(root, size=1, port=2299, net='127.49', scenarios=['debian'])
        fleet.create()
        fleet.start()
        host = fleet.hosts[0]
        print('== idle proof: a path that forgets a TCP connection after %d s of silence '
              '(netfilter conntrack in a private network namespace, sshd %s:%d)' % (timeout, host.address, host.port),
              flush=True)
        result = probe(fleet, timeout)
        bounds, rec = result['idle_timeout'], result['recommended']
        print('  keepalive.ssh.idle_probe: idle timeout %d–%d s (drop: %s), %d sessions in %d round(s), %.0f s'
              % (bounds['lower'], bounds['upper'], result['drop'], len(result['sessions']),
                 max(s['round'] for s in result['sessions']), result['elapsed']), flush=True)
        print('  profile picked: nat_idle_timeout %d → client ServerAliveInterval %d (ServerAliveCountMax %d), '
              'server ClientAliveInterval %d' % (rec['nat_idle_timeout'], rec['server_alive_interval'],
                                                 rec['server_alive_count_max'], rec['client_alive_interval']),
              flush=True)

        work = tempfile.mkdtemp(prefix='idle-proof-')
        try:
            ssh_dir = os.path.join(work, 'home', '.ssh')
            os.makedirs(ssh_dir, mode=0o700)
            config = os.path.join(ssh_dir, 'config')
            with open(config, 'w') as f:  # the user's own entry for the host; the client role adds the keepalive
                f.write(fleet.client_entry('behind-nat', host))
            users = [{'name': 'root', 'path': config, 'profiles': [], 'hosts': [{'pattern': 'behind-nat'}]}]
            for name, text in (('client.yml', CLIENT_PLAY), ('server.yml', SERVER_PLAY)):
                with open(os.path.join(work, name), 'w') as f:
                    f.write(text)
            ansible('ansible-playbook', os.path.join(work, 'client.yml'), '-e', json.dumps({
                'client_keepalive_users': users, 'client_keepalive_nat_idle_timeout': bounds['lower']}))
            with open(config) as f:
                if 'ServerAliveInterval %d' % rec['server_alive_interval'] not in f.read():
                    raise RuntimeError('the client role did not write ServerAliveInterval %d into %s'
                                       % (rec['server_alive_interval'], config))
            ssh = ['ssh', '-F', config, '-T', '-v']
            silence = 3 * timeout
            print('  one idle session per case:', flush=True)
            results = [
                not case(fw, fleet, 'no keepalive', ssh + ['-o', 'ServerAliveInterval=0', 'behind-nat'], silence),
                case(fw, fleet, 'client role (ServerAliveInterval %d)' % rec['server_alive_interval'],
                     ssh + ['behind-nat'], silence)]
            with fw.relaxed():  # Ansible's own connection must not be cut between tasks
                ansible('ansible-playbook', '-i', fleet.inventory, os.path.join(work, 'server.yml'), '-e',
                        json.dumps({'sshd_keepalive_nat_idle_timeout': bounds['lower']}))
                fleet.reset_connections()
            results.append(case(fw, fleet, 'sshd role only (ClientAliveInterval %d)' % rec['client_alive_interval'],
                                ssh + ['-o', 'ServerAliveInterval=0', 'behind-nat'], silence))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    ok = all(results)
    print('  %s' % ('as expected: dead without keepalives, alive with either role\'s settings' if ok
                    else 'NOT as expected'), flush=True)
    return ok


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--timeout', type=int, default=5, help="the path's idle timeout in seconds (default 5)")
    parser.add_argument('--root', default='/tmp/keepalive-idle-proof', help='where its sshd lives')
    args = parser.parse_args(argv)
    return 0 if run(args.timeout, args.root) else 1


if __name__ == '__main__':
    sys.exit(main())
