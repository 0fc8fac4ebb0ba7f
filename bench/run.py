"""Fleet benchmark: keepalive.ssh against the ping floor and the usual alternatives, side by side in one run.

For each fleet size N (simulated hosts from tools/fleet.py), median of REPS repetitions, each step
starting with cold SSH connections (Ansible's persistent connections are closed before every step):

  floor            ansible -m ansible.builtin.ping
  two modules      reference: a playbook running ping twice (what two module executions per host cost)
  ours             keepalive.ssh roles: server + 3 users x 5 host profiles (first converge, then no-op rerun)
  lineinfile       the same end state as lineinfile/blockinfile tasks with validate: (what blog posts show)
  community.general.ssh_config   the client side with other_options (one task per user and Host block)
  devsec.hardening ssh_hardening  run only if it can be run against the simulated hosts; else the reason

After each approach the keepalive.ssh audit (untimed) counts hosts whose effective values are right.
Also an engine micro-benchmark: parse + edit + render of a 10,000-line sshd_config and a
2,000-Host-block ssh_config.  Ratios, not absolute times, are the result: bench/results/latest.{json,md,png}
and the table in docs/performance.md.

    .venv-bench/bin/python bench/run.py [--sizes 10,50,100] [--reps 3] [--forks 20]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, 'tools'))
sys.path.insert(0, os.path.join(ROOT, '.build'))

import fleet as harness  # noqa: E402  pylint: disable=wrong-import-position

BENCH_USERS = harness.USERS  # 3 users
PLAYBOOKS = os.path.join(HERE, 'playbooks')
RESULTS = os.path.join(HERE, 'results')
DOC = os.path.join(ROOT, 'docs', 'performance.md')


def env(forks):
    return harness.ansible_env(ANSIBLE_FORKS=str(forks), ANSIBLE_HOST_KEY_CHECKING='True',
                               ANSIBLE_DEPRECATION_WARNINGS='false')


def users_var(fleet):
    """3 users x 5 profiles on every host, config paths inside each host's own tree."""
    return [{'name': u, 'path': '%s/hosts/{{ inventory_hostname }}/home/%s/.ssh/config' % (fleet.root, u),
             'profiles': ['bastion', 'prod', 'internal', 'home', 'default']} for u in BENCH_USERS]


def timed(argv, environ, label):
    start = time.perf_counter()
    proc = subprocess.run(argv, env=environ, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError('%s failed (rc %d):\n%s' % (label, proc.returncode, (proc.stdout + proc.stderr)[-3000:]))
    print('  %-40s %6.2f s' % (label, elapsed), flush=True)
    return elapsed, proc.stdout


def inventory_args(fleet):
    return ['-i', os.path.dirname(fleet.inventory)]


class Approach:
    """A way of reaching the end state: a playbook run twice (first converge, no-op rerun)."""

    def __init__(self, name, playbook, scope, note=''):
        self.name, self.playbook, self.scope, self.note = name, playbook, scope, note

    def argv(self, fleet, extra):
        bin_dir = os.path.dirname(sys.executable)
        return [os.path.join(bin_dir, 'ansible-playbook')] + inventory_args(fleet) + [
            os.path.join(PLAYBOOKS, self.playbook), '-e', json.dumps(extra)]


APPROACHES = [
    Approach('ours', 'ours.yml', 'server + client'),
    Approach('lineinfile', 'lineinfile.yml', 'server + client',
             'lineinfile x2 (sshd -t validate) + blockinfile per user and block (ssh -G validate)'),
    Approach('community.general.ssh_config', 'community_general.yml', 'client only',
             'one ssh_config task per user and Host block, other_options for ServerAlive*'),
]


def devsec_status():
    """Can devsec.hardening's ssh_hardening run against the simulated hosts? (False, reason) when not."""
    try:
        import ansible_collections.devsec.hardening as devsec  # noqa: F401  pylint: disable=import-outside-toplevel
    except ImportError:
        return False, ('devsec.hardening is not installed: it is not part of the `ansible` package on PyPI for any '
                       'release that runs on Python 3.11 (checked 7.7.0, 8.7.0, 9.13.0, 10.7.0, 11.13.0, 12.3.0), '
                       'and Galaxy is not reachable from this machine.')
    tasks = os.path.join(os.path.dirname(devsec.__file__), 'roles', 'ssh_hardening', 'tasks', 'hardening.yml')
    with open(tasks) as f:
        text = f.read()
    if 'dest: /etc/ssh/revoked_keys' in text:
        return False, ('ssh_hardening writes the fixed path /etc/ssh/revoked_keys and enables/restarts the system '
                       'sshd service; the simulated hosts share this machine, so it would change the machine\'s own '
                       '/etc/ssh and start its sshd, which the test rules forbid.')
    return True, ''


def audit(fleet, environ, out):
    """Untimed: how many hosts have the right effective values (server, client) after an approach."""
    bin_dir = os.path.dirname(sys.executable)
    extra = {'keepalive_report_dir': out, 'client_keepalive_users': users_var(fleet),
             'sshd_keepalive_profile': 'default'}
    subprocess.run([os.path.join(bin_dir, 'ansible-playbook')] + inventory_args(fleet) + [
        'keepalive.ssh.audit', '-e', json.dumps(extra)], env=environ, capture_output=True, check=False)
    with open(os.path.join(out, 'keepalive-report.json')) as f:
        rows = json.load(f)
    server = sum(1 for r in rows if not any(d.startswith('sshd:') for d in r['drift'].split('; ') if d))
    client = sum(1 for r in rows if not any(d and not d.startswith('sshd:') for d in r['drift'].split('; ')))
    return server, client


def fresh_fleet(size, forks):
    fleet = harness.Fleet('/tmp/keepalive-bench-fleet', size=size, port=2922, net='127.50')
    fleet.create()
    fleet.start()
    return fleet


def measure(size, reps, forks, approaches):
    environ = env(forks)
    samples = {'floor': [], 'two modules': []}
    for a in approaches:
        samples[a.name + ' first'] = []
        samples[a.name + ' no-op'] = []
    correctness = {}
    for rep in range(reps):
        for a in approaches:
            fleet = fresh_fleet(size, forks)
            try:
                extra = {'client_keepalive_users': users_var(fleet), 'sshd_keepalive_profile': 'default'}
                if a is APPROACHES[0]:  # the floor, on the same fleet, once per repetition
                    fleet.reset_connections()
                    bin_dir = os.path.dirname(sys.executable)
                    t, _out = timed([os.path.join(bin_dir, 'ansible'), 'all'] + inventory_args(fleet) + [
                        '-m', 'ansible.builtin.ping'], environ, 'ping')
                    samples['floor'].append(t)
                    fleet.reset_connections()
                    t, _out = timed([os.path.join(bin_dir, 'ansible-playbook')] + inventory_args(fleet) + [
                        os.path.join(PLAYBOOKS, 'two_pings.yml')], environ, 'two module runs (reference)')
                    samples['two modules'].append(t)
                fleet.reset_connections()
                t, _out = timed(a.argv(fleet, extra), environ, a.name)
                samples[a.name + ' first'].append(t)
                fleet.reset_connections()
                t, out = timed(a.argv(fleet, extra), environ, a.name + ' rerun')
                samples[a.name + ' no-op'].append(t)
                if rep == 0:
                    changed = sum(int(x.split('changed=')[1].split()[0]) for x in out.splitlines() if 'changed=' in x)
                    server, client = audit(fleet, environ, os.path.join(RESULTS, 'audit-%s-%d' % (a.playbook, size)))
                    correctness[a.name] = {'rerun_changed': changed, 'server_ok': server, 'client_ok': client}
            finally:
                fleet.stop()
    medians = dict((k, statistics.median(v)) for k, v in samples.items())
    return medians, samples, correctness


def engine_bench(reps=7):
    """Parse + edit + render, the same calls the modules make (median seconds)."""
    from ansible_collections.keepalive.ssh.plugins.module_utils import keepalive as ka  # pylint: disable=import-outside-toplevel
    from ansible_collections.keepalive.ssh.plugins.module_utils import sshconf as sc  # pylint: disable=import-outside-toplevel
    body = ['AcceptEnv VAR%d' % i if i % 2 else '#Setting%d value' % i for i in range(9989)]
    matches = ['Match User u%d\n    X11Forwarding no' % i for i in range(5)]
    sshd = '\n'.join(['# 10,000 lines'] + body + matches) + '\n'
    ssh = ''.join('Host h%04d\n    HostName 10.%d.%d.1\n    User u\n\n' % (i, i // 250, i % 250)
                  for i in range(2000)) + 'Host *\n    ServerAliveInterval 5\n'
    specs = [ka.HostSpec(('bastion',), {'ServerAliveInterval': 30, 'ServerAliveCountMax': 20}),
             ka.HostSpec(('prod-*',), {'ServerAliveInterval': 120, 'ServerAliveCountMax': 5}),
             ka.HostSpec(('*',), {'ServerAliveInterval': 60, 'ServerAliveCountMax': 10})]

    def one(text, dialect, apply):
        start = time.perf_counter()
        tree = sc.Tree('/bench/config', dialect, loader=lambda p: sc.Document(text, dialect, p))
        apply(tree)
        tree.main.render()
        return time.perf_counter() - start

    settings = {'ClientAliveInterval': 60, 'ClientAliveCountMax': 10}
    server = [one(sshd, sc.SSHD, lambda t: ka.apply_server(t, settings)) for _rep in range(reps)]
    client = [one(ssh, sc.SSH, lambda t: ka.apply_client(t, specs)) for _rep in range(reps)]
    return {'sshd_config 10,000 lines': statistics.median(server),
            'ssh_config 2,000 Host blocks': statistics.median(client), 'lines': len(sshd.splitlines())}


def markdown(results, forks, reps, devsec):
    lines = ['| N | approach | scope | first converge | ×floor | no-op rerun | ×floor | hosts/s (first) | '
             'right after (server/client) | rerun changed |', '|---|---|---|---|---|---|---|---|---|---|']
    for size, r in sorted(results['fleet'].items(), key=lambda kv: int(kv[0])):
        m = r['median']
        floor = m['floor']
        lines.append('| %s | floor: `ansible -m ping` | — | %.1f s | 1.00 | | | %.1f | | |'
                     % (size, floor, int(size) / floor))
        if 'two modules' in m:
            lines.append('| %s | reference: 2 module runs per host (ping twice, one playbook) | — | %.1f s | %.2f '
                         '| | | %.1f | | |' % (size, m['two modules'], m['two modules'] / floor, int(size) / m['two modules']))
        for a in APPROACHES:
            if a.name + ' first' not in m:
                lines.append('| %s | %s | %s | not measured (--baselines-up-to) | | | | | | |' % (size, a.name, a.scope))
                continue
            first, noop = m[a.name + ' first'], m[a.name + ' no-op']
            c = r['correctness'].get(a.name, {})
            lines.append('| %s | %s | %s | %.1f s | %.2f | %.1f s | %.2f | %.1f | %s/%s | %s |' % (
                size, a.name, a.scope, first, first / floor, noop, noop / floor, int(size) / first,
                c.get('server_ok', '?'), c.get('client_ok', '?'), c.get('rerun_changed', '?')))
        lines.append('| %s | devsec.hardening ssh_hardening | server | not run | | | | | | |' % size)
    engine = ', '.join('%s %.1f ms' % (k, v * 1000) for k, v in results['engine'].items() if k != 'lines')
    lines += ['', 'devsec.hardening: %s' % (devsec[1] or 'ran'), '', 'Engine (median of 7): ' + engine, '',
              'forks %d, median of %d repetitions, cold SSH connections before every step; %s; `bench/run.py %s`.'
              % (forks, reps, results['machine'], results['argv'])]
    return '\n'.join(lines)


def plot(results, path):
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    sizes = sorted(int(s) for s in results['fleet'])
    series = [('floor', 'ping floor')] + [(a.name + ' first', a.name + ' (first)') for a in APPROACHES] + \
             [(a.name + ' no-op', a.name + ' (no-op)') for a in APPROACHES]
    fig, ax = plt.subplots(figsize=(8, 5))
    for key, label in series:
        xs = [s for s in sizes if key in results['fleet'][str(s)]['median']]
        ax.plot(xs, [results['fleet'][str(s)]['median'][key] for s in xs], marker='o', label=label,
                linestyle='--' if 'no-op' in key else '-')
    ax.set_xlabel('simulated hosts (N)')
    ax.set_ylabel('seconds (median)')
    ax.set_title('Fleet converge and no-op rerun vs the ping floor')
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def update_doc(table, image):
    with open(DOC) as f:
        text = f.read()
    start, end = '<!-- bench:start -->', '<!-- bench:end -->'
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _old, tail = rest.split(end, 1)
        text = '%s%s\n%s\n\n![time vs N](%s)\n%s%s' % (head, start, table, image, end, tail)
        with open(DOC, 'w') as f:
            f.write(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--sizes', default='10,50,100')
    parser.add_argument('--reps', type=int, default=3)
    parser.add_argument('--forks', type=int, default=20)
    parser.add_argument('--baselines-up-to', type=int, default=0,
                        help='measure the slow baselines only for N up to this (0: all sizes)')
    parser.add_argument('--no-doc', action='store_true', help='do not update docs/performance.md')
    args = parser.parse_args(argv)
    os.makedirs(RESULTS, exist_ok=True)
    harness.ensure_collection_link()
    started = time.time()
    results = {'machine': '%d cores' % os.cpu_count(), 'fleet': {}, 'engine': engine_bench(),
               'argv': ' '.join(sys.argv[1:]) or '(defaults)'}
    devsec = devsec_status()
    results['devsec'] = devsec[1] or 'ran'
    for size in [int(s) for s in args.sizes.split(',')]:
        approaches = APPROACHES if not args.baselines_up_to or size <= args.baselines_up_to else APPROACHES[:1]
        medians, samples, correctness = measure(size, args.reps, args.forks, approaches)
        results['fleet'][str(size)] = {'median': medians, 'samples': samples, 'correctness': correctness}
        print('N=%d: %s' % (size, ', '.join('%s %.1fs' % kv for kv in medians.items())), flush=True)
    results['seconds'] = round(time.time() - started)
    table = markdown(results, args.forks, args.reps, devsec)
    with open(os.path.join(RESULTS, 'latest.json'), 'w') as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(RESULTS, 'latest.md'), 'w') as f:
        f.write(table + '\n')
    image = os.path.join(ROOT, 'docs', 'img', 'bench.png')
    os.makedirs(os.path.dirname(image), exist_ok=True)
    plot(results, image)
    if not args.no_doc:
        update_doc(table, 'img/bench.png')
    print(table)
    print('took %d s' % results['seconds'])


if __name__ == '__main__':
    main()
