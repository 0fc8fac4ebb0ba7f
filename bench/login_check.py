"""What the sshd role's login check costs per host: the old hand-built `ssh` command against the
new check through Ansible's own connection (wait_for_connection on its own ControlPath, then
reset_connection), side by side on one simulated fleet with warm connections.

    .venv/bin/python bench/login_check.py [--size 10] [--reps 5] [--forks 10]

Each variant is a play of `ping` (warm the play's connection) plus the check; the cost of the check
is that play's time minus a ping-only play, per host = that difference (the hosts run in parallel up
to --forks; with forks >= size it is the wall time one host adds). A measurement, not a test.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tools'))

import fleet as harness  # noqa: E402  pylint: disable=wrong-import-position

WARM = '''
- name: Warm
  hosts: all
  gather_facts: false
  tasks:
    - name: Ping over the play's connection
      ansible.builtin.ping:
'''
VARIANTS = {
    'ping only': '',
    'old: ssh command from the controller': '''
    - name: Hand-built login
      ansible.builtin.raw: >-
        ssh -o BatchMode=yes -o ControlMaster=no -o ControlPath=none -o ConnectTimeout=10
        {{ ansible_ssh_common_args }} -p {{ ansible_port }} -i {{ ansible_ssh_private_key_file }}
        -l {{ ansible_user }} {{ ansible_host }} true
      delegate_to: localhost
      changed_when: false
''',
    'new: wait_for_connection + reset_connection': '''
    - name: Login through the inventory's connection
      ansible.builtin.wait_for_connection:
        timeout: 10
        sleep: 1
      vars:
        ansible_control_path: "%(directory)s/{{ ('keepalive-check ' ~ inventory_hostname) | hash('sha1') | truncate(10, true, '') }}"
    - name: End it
      ansible.builtin.meta: reset_connection
      vars:
        ansible_control_path: "%(directory)s/{{ ('keepalive-check ' ~ inventory_hostname) | hash('sha1') | truncate(10, true, '') }}"
''',
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--size', type=int, default=10)
    parser.add_argument('--reps', type=int, default=5)
    parser.add_argument('--forks', type=int, default=10)
    args = parser.parse_args()
    harness.ensure_collection_link()
    with tempfile.TemporaryDirectory() as tmp:
        fleet = harness.Fleet(os.path.join(tmp, 'fleet'), size=args.size, port=2722, net='127.47',
                              scenarios=['debian'])
        fleet.create()
        fleet.start()
        try:
            times = {}
            for name, tasks in VARIANTS.items():
                path = os.path.join(tmp, 'play.yml')
                with open(path, 'w') as f:
                    f.write(WARM + tasks)
                runs = []
                for _rep in range(args.reps):
                    fleet.reset_connections()
                    start = time.monotonic()
                    subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), path,
                                    '-i', fleet.inventory, '-f', str(args.forks)],
                                   env=harness.ansible_env(), check=True, capture_output=True)
                    runs.append(time.monotonic() - start)
                times[name] = statistics.median(runs)
        finally:
            fleet.stop()
    base = times['ping only']
    print('| variant | play (median of %d, s) | check adds (s) |' % args.reps)
    print('|---|---|---|')
    for name, t in times.items():
        print('| %s | %.2f | %s |' % (name, t, '—' if name == 'ping only' else '%+.2f' % (t - base)))
    print('\n%d hosts, forks %d, ansible-core from %s' % (args.size, args.forks, sys.executable))


if __name__ == '__main__':
    main()
