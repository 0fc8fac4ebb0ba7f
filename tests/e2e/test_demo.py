"""The README's main command on a small fleet: drift before, 100 % after, second rollout changed=0."""
import json
import os
import signal
import subprocess
import sys
import time

from kalib import ROOT, reachable_by_users  # kalib also puts tools/ on sys.path
import fleet as fleet_harness  # noqa: E402  pylint: disable=wrong-import-position,wrong-import-order

DEMO = [sys.executable, os.path.join(ROOT, 'tools', 'demo.py')]


def fleet_processes(root):
    marks = (os.path.join(root, 'hosts') + '/', os.path.join(root, 'cp') + '/')
    return [pid for pid, (_pp, cmd) in fleet_harness._processes().items() if any(m in cmd for m in marks)]


def test_demo_rolls_out_a_small_fleet(tmp_path):
    out, root = tmp_path / 'out', tmp_path / 'fleet'
    reachable_by_users(tmp_path)  # the simulated hosts' users read their own files below it
    proc = subprocess.run(DEMO + ['--size', '6', '--out', str(out), '--root', str(root), '--port', '2722',
                                  '--net', '127.47'], capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['compliant_before'] == 0 and summary['compliant_after'] == 6
    assert summary['rollout_changed_hosts'] == 6 and summary['second_rollout_changed'] == 0
    before = json.loads((out / 'before' / 'keepalive-report.json').read_text())
    after = json.loads((out / 'after' / 'keepalive-report.json').read_text())
    assert all(r['drift'] for r in before)
    # the cloud-init host's drift names the drop-in that disabled keepalives
    assert any('50-cloud-init.conf:2' in r['drift'] for r in before)
    assert [r['compliant'] for r in after] == ['yes'] * 6 and not any(r['drift'] for r in after)
    assert {r['profile'] for r in after} == {'bastion', 'office', 'prod'}
    csv = (out / 'after' / 'keepalive-report.csv').read_text().splitlines()
    assert csv[0].startswith('host,groups,profile,clientaliveinterval') and len(csv) == 7
    assert 'compliant: 6/6 hosts (100%)' in proc.stdout and 'canary' in proc.stdout
    assert fleet_processes(str(root)) == []
    # every SSH login of the run (Ansible's and the role's login check) was the non-root sudoer's
    logins = [line for log in root.glob('hosts/*/log/sshd.log') for line in log.read_text().splitlines()
              if 'Accepted publickey for' in line]
    assert logins and all('Accepted publickey for %s ' % fleet_harness.ADMIN in line for line in logins), logins
    assert 'Ansible logs in as kaadmin, sudo to root' in proc.stdout
    # the sessions view after the rollout: one line per host, Ansible's own login among its live sessions
    assert all(isinstance(n, int) and n >= 1 for n in summary['sessions_after'].values()), summary
    assert all(fleet_harness.ADMIN in {s['user'] for s in r['detail']['sessions']['server']} for r in after)
    assert all(r['detail']['sessions']['available'] for r in after)
    view = proc.stdout.split('== live sessions after the rollout', 1)[1].split('\n== ', 1)[0].splitlines()[1:]
    assert sorted(line.split()[0] for line in view if line.strip()) == sorted(r['host'] for r in after)
    assert all('session(s) (' in line and 'stale client(s)' in line for line in view if line.strip())
    assert 'sessions' in csv[0] and 'sessions_at_risk' in csv[0]


def test_interrupted_demo_stops_every_sshd_and_reruns_cleanly(tmp_path):
    out, root = tmp_path / 'out', tmp_path / 'fleet'
    argv = DEMO + ['--size', '3', '--out', str(out), '--root', str(root), '--port', '2822', '--net', '127.48']
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        if line.startswith('== audit before'):
            break
    assert len(fleet_processes(str(root))) >= 3
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130 and 'interrupted: stopping the fleet' in rest
    time.sleep(0.5)
    assert fleet_processes(str(root)) == []
    fleet = fleet_harness.load(str(root))
    fleet.create()  # a rerun starts from scratch at the same place
    fleet.start()
    try:
        assert all(fleet.can_login(h) for h in fleet.hosts)
    finally:
        fleet.stop()
