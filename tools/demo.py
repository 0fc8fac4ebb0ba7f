"""`make demo`: a simulated fleet rollout on this machine.

1. start a fleet of real sshd processes on loopback (tools/fleet.py), some with drifted or tricky
   configs (cloud-init drop-in, Match blocks, globals after a Match, Host * first for a user);
   Ansible logs in as a non-root user with passwordless sudo (kaadmin), as on most fleets;
2. audit it (keepalive.ssh.audit): the table shows the drift;
3. roll out keepalive.ssh.site: a canary host, then batches, stopping on the first failure;
4. audit again: every host compliant;
5. roll out once more: nothing changes (changed=0);
6. stop every sshd it started — also on Ctrl-C — and print where the reports are.
   The audit after the rollout also looks at the live sessions (keepalive_audit_sessions): one line per
   host with its SSH sessions by class (Ansible's own login among them) and its users' stale ssh clients.

7. with --idle-proof: measure a simulated path that forgets idle connections (keepalive.ssh.idle_probe)
   and show, one line per case, that the roles' keepalives keep an idle session alive on it.

    python tools/demo.py [--size 12] [--forks 20] [--out demo-out] [--root /tmp/keepalive-demo-fleet] [--idle-proof]
                         [--login-user kaadmin|root]
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fleet as fleet_module  # noqa: E402  pylint: disable=wrong-import-position
from fleet import Fleet, ansible_env, ensure_collection_link  # noqa: E402  pylint: disable=wrong-import-position
import idle_proof  # noqa: E402  pylint: disable=wrong-import-position

RECAP = re.compile(r'^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)')


def playbook(name, fleet, env, *extra, show=None):
    """Run a collection playbook; stream the lines `show` accepts; return (rc, {host: counts})."""
    argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i',
            os.path.dirname(fleet.inventory), 'keepalive.ssh.%s' % name] + list(extra)
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    recap = {}
    for line in proc.stdout:
        m = RECAP.match(line.strip())
        if m:
            recap[m.group(1)] = dict(ok=int(m.group(2)), changed=int(m.group(3)), unreachable=int(m.group(4)),
                                     failed=int(m.group(5)))
        if show is not None:
            show(line.rstrip('\n'))
    return proc.wait(), recap


class BatchProgress:
    """Turns ansible-playbook's output of a serial play into one line per batch."""

    def __init__(self):
        self.batch = 0
        self.hosts = set()
        self.changed = set()
        self.failed = []

    def __call__(self, line):
        if line.startswith('PLAY [') or line.startswith('PLAY RECAP'):
            self.flush()
            if line.startswith('PLAY ['):
                self.batch += 1
            return
        m = re.match(r'^(ok|changed|fatal|failed): \[([^\] ]+)', line)
        if m:
            self.hosts.add(m.group(2))
            if m.group(1) == 'changed':
                self.changed.add(m.group(2))
            if m.group(1) in ('fatal', 'failed'):
                self.failed.append(line[:400])
        elif 'msg' in line and self.failed:
            self.failed.append(line.strip()[:400])

    def flush(self):
        if not self.hosts:
            return
        kind = 'canary' if self.batch == 1 else 'batch %d' % self.batch
        print('  %-8s %2d host(s): %s — changed on %d' % (kind, len(self.hosts), ', '.join(sorted(self.hosts)),
                                                          len(self.changed)), flush=True)
        for line in self.failed:
            print('    ' + line, flush=True)
        self.hosts, self.changed, self.failed = set(), set(), []


def audit(fleet, env, out_dir, *extra):
    def show(line):
        if line.startswith('        "') and not line.startswith('        "report'):
            print('  ' + json.loads(line.strip().rstrip(',')), flush=True)
    rc, _recap = playbook('audit', fleet, env, '-e', 'keepalive_report_dir=%s' % out_dir, *extra, show=show)
    with open(os.path.join(out_dir, 'keepalive-report.json')) as f:
        return rc, json.load(f)


# the live sessions of the fleet's users (every user's clients would be this whole machine's)
SESSIONS = json.dumps({'keepalive_audit_sessions': True,
                       'keepalive_audit_session_options': {'users': list(fleet_module.USERS)}})


def sessions_line(row):
    """One host of the sessions view: its SSH sessions by class, and its users' stale clients."""
    if not isinstance(row.get('sessions'), int):
        return '%-10s %s' % (row['host'], row.get('sessions') or 'no sessions view')
    users = sorted({s['user'] for s in row['detail']['sessions']['server']})
    return ('%-10s %d session(s) (%s): %d active, %d idle kept alive, %d at risk, %d unanswered; '
            '%d stale client(s), %d dead ControlMaster socket(s)'
            % (row['host'], row['sessions'], ', '.join(users) or '-', row['sessions_active'],
               row['sessions_kept_alive'], row['sessions_at_risk'], row['sessions_unresponsive'],
               row['stale_clients'], row['dead_control_sockets']))


def interrupt(signum, frame):
    """SIGTERM ends the demo through the same cleanup path as Ctrl-C."""
    raise KeyboardInterrupt()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--size', type=int, default=12, help='number of simulated hosts (default 12)')
    parser.add_argument('--forks', type=int, default=20)
    parser.add_argument('--out', default=os.path.join(os.getcwd(), 'demo-out'), help='report directory')
    parser.add_argument('--root', default='/tmp/keepalive-demo-fleet', help='where the fleet lives')
    parser.add_argument('--port', type=int, default=2222)
    parser.add_argument('--net', default='127.42')
    parser.add_argument('--login-user', default=fleet_module.ADMIN,
                        help='SSH login of Ansible (default %s: non-root with passwordless sudo; the playbooks '
                             'become root)' % fleet_module.ADMIN)
    parser.add_argument('--idle-proof', action='store_true',
                        help='then measure a simulated idle-killing path and prove keepalives on it (tools/idle_proof.py)')
    args = parser.parse_args(argv)
    ensure_collection_link()
    env = ansible_env(ANSIBLE_FORKS=str(args.forks))
    fleet = Fleet(args.root, size=args.size, port=args.port, net=args.net, login_user=args.login_user)
    signal.signal(signal.SIGTERM, interrupt)
    started = time.time()
    summary = {}
    try:
        print('== starting %d simulated hosts under %s (Ansible logs in as %s%s)'
              % (args.size, args.root, args.login_user, '' if args.login_user == 'root' else ', sudo to root'),
              flush=True)
        fleet.create()
        fleet.start()
        by_scenario = {}
        for host in fleet.hosts:
            by_scenario.setdefault(host.scenario, []).append(host.name)
        for scenario, names in sorted(by_scenario.items()):
            print('  %-12s %s' % (scenario, ', '.join(names)), flush=True)

        print('\n== audit before the rollout', flush=True)
        _rc, before = audit(fleet, env, os.path.join(args.out, 'before'))

        print('\n== rollout (keepalive.ssh.site: canary first, then batches of 25%; stops on the first failure)',
              flush=True)
        progress = BatchProgress()
        rc, recap = playbook('site', fleet, env, show=progress)
        progress.flush()
        summary['rollout_rc'] = rc
        summary['rollout_changed_hosts'] = sum(1 for r in recap.values() if r['changed'])

        print('\n== audit after the rollout', flush=True)
        _rc, after = audit(fleet, env, os.path.join(args.out, 'after'), '-e', SESSIONS)
        print('\n== live sessions after the rollout (keepalive_audit_sessions=true)', flush=True)
        for row in after:
            print('  ' + sessions_line(row), flush=True)

        print('\n== second rollout (must change nothing)', flush=True)
        rc2, recap2 = playbook('site', fleet, env)
        summary['second_rollout_rc'] = rc2
        summary['second_rollout_changed'] = sum(r['changed'] for r in recap2.values())
        print('  changed=%d on %d hosts' % (summary['second_rollout_changed'], len(recap2)), flush=True)

        summary.update(
            hosts=args.size,
            compliant_before=sum(1 for r in before if r['compliant'] == 'yes'),
            compliant_after=sum(1 for r in after if r['compliant'] == 'yes'),
            sessions_after=dict((r['host'], r.get('sessions')) for r in after),
            seconds=round(time.time() - started, 1))
        with open(os.path.join(args.out, 'summary.json'), 'w') as f:
            json.dump(summary, f, indent=2)
    except KeyboardInterrupt:
        print('\ninterrupted: stopping the fleet', flush=True)
        return 130
    finally:
        stopped = fleet.stop()
        print('\n== fleet stopped (%d processes)' % stopped, flush=True)

    ok = (summary['rollout_rc'] == 0 and summary['compliant_after'] == args.size
          and summary['second_rollout_changed'] == 0 and summary['second_rollout_rc'] == 0)
    print('compliant before: %d/%d, after: %d/%d, second rollout changed=%d, %.0f s'
          % (summary['compliant_before'], args.size, summary['compliant_after'], args.size,
             summary['second_rollout_changed'], summary['seconds']))
    print('reports: %s/before/keepalive-report.{json,csv}, %s/after/keepalive-report.{json,csv}, %s/summary.json'
          % (args.out, args.out, args.out))
    if args.idle_proof:
        print(flush=True)
        ok = idle_proof.run(5, args.root + '-idle-proof') and ok
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
