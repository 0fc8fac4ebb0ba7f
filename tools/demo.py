"""`make demo` until the fleet exists: both modules end to end against a scratch config tree.

Copies the Ubuntu cloud-image fixture (Include first, cloud-init drop-in with
ClientAliveInterval 0) and a user config with the classic 'Host * first'
mistake into a scratch directory, shows what sshd and ssh would really use,
runs the modules through ansible-playbook, and shows the values again.
"""
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SSHD = shutil.which('sshd') or '/usr/sbin/sshd'


def effective(argv, keys):
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return ', '.join(line for line in out.splitlines() if line.split(' ')[0] in keys)


def main():
    work = tempfile.mkdtemp(prefix='keepalive-demo-')
    etc = os.path.join(work, 'etc', 'ssh')
    shutil.copytree(os.path.join(ROOT, 'tests', 'fixtures', 'sshd', 'ubuntu2404-cloud'), etc)
    main_cfg = os.path.join(etc, 'sshd_config')
    with open(main_cfg) as f:
        text = f.read().replace('/etc/ssh', etc)
    with open(main_cfg, 'w') as f:
        f.write(text)
    hostkey = os.path.join(etc, 'ssh_host_ed25519_key')
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', hostkey], check=True)
    user_cfg = os.path.join(work, 'alice', '.ssh', 'config')
    os.makedirs(os.path.dirname(user_cfg), mode=0o700)
    shutil.copy(os.path.join(ROOT, 'tests', 'fixtures', 'ssh', 'host-star-first', 'config'), user_cfg)
    os.makedirs('/run/sshd', exist_ok=True)

    server = [SSHD, '-T', '-f', main_cfg, '-h', hostkey]
    client = ['ssh', '-G', '-F', user_cfg, 'bastion']
    keys = ('clientaliveinterval', 'clientalivecountmax', 'serveraliveinterval', 'serveralivecountmax')
    print('scratch tree: %s' % work)
    print('before  sshd -T: %s' % effective(server, keys))
    print('before  ssh -G bastion: %s' % effective(client, keys))

    play = os.path.join(work, 'demo.yml')
    with open(play, 'w') as f:
        f.write('''- hosts: localhost
  gather_facts: false
  tasks:
    - keepalive.ssh.sshd_keepalive:
        path: %s
        client_alive_interval: 60
        client_alive_count_max: 10
        validate_command: "%s -t -f %%s -h %s"
    - keepalive.ssh.client_keepalive:
        path: %s
        hosts:
          - {pattern: bastion, server_alive_interval: 30, server_alive_count_max: 20}
          - {pattern: "prod-*", server_alive_interval: 120, server_alive_count_max: 5}
          - {pattern: "*", server_alive_interval: 60, server_alive_count_max: 10}
''' % (main_cfg, SSHD, hostkey, user_cfg))
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false')
    bin_dir = os.path.dirname(sys.executable)
    for flags in (['--diff'], []):
        subprocess.run([os.path.join(bin_dir, 'ansible-playbook'), play] + flags, env=env, check=True)
    print('after   sshd -T: %s' % effective(server, keys))
    print('after   ssh -G bastion: %s' % effective(client, keys))
    print('(the second ansible-playbook run above reports changed=0)')


if __name__ == '__main__':
    main()
