"""Proof on the wire: keepalives from the roles keep an idle session alive through a NAT-like idle timeout.

A relay between ssh and a real sshd closes any connection that is quiet for
IDLE seconds.  Without keepalives the session dies after ~IDLE s; with the
client role's ServerAliveInterval, or the server role's ClientAliveInterval
(client sending none), it survives 3 x IDLE s — and the keepalive traffic is
visible exactly where OpenSSH logs it.
"""
import json
import subprocess
import time

import pytest

from kalib import playbook
from relay import IdleRelay

IDLE = 3          # seconds a quiet connection survives in the relay
INTERVAL = 1      # keepalive interval the roles are given (below IDLE)

CLIENT_PLAY = '''
- name: Client keepalive for the test user
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - keepalive.ssh.client
'''
SERVER_PLAY = '''
- name: Server keepalive
  hosts: all
  gather_facts: false
  roles:
    - keepalive.ssh.sshd
'''


def open_idle_session(config, host_alias, *extra):
    """An interactive-style session (pty, remote 'cat' waiting for input) that then sends nothing."""
    proc = subprocess.Popen(['ssh', '-F', str(config), '-tt', '-v'] + list(extra) + [host_alias, 'cat'],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if 'Entering interactive session' in line:
            return proc, lines
    raise AssertionError('ssh did not log in: %s' % ''.join(lines))


def finish(proc, lines):
    proc.terminate()
    _out, err = proc.communicate(timeout=10)
    return ''.join(lines) + (err or '')


def server_log(host):
    with open(host.log) as f:
        return f.read()


@pytest.mark.fleet(size=1, scenarios=['debian'], log_level='DEBUG3', port=2522, net='127.45')
def test_keepalives_keep_idle_sessions_alive(small_fleet, tmp_path):
    host = small_fleet.hosts[0]
    with IdleRelay((host.address, host.port), IDLE) as relay:
        # The client role writes the user's config: the relayed host with a 1 s keepalive.
        (tmp_path / 'home').mkdir()
        config = tmp_path / 'home' / '.ssh' / 'config'
        users = [{'name': 'root', 'config': str(config), 'profiles': [], 'hosts': [{
            'pattern': 'relayed', 'server_alive_interval': INTERVAL, 'server_alive_count_max': 3,
            'options': {'HostName': relay.address[0], 'Port': str(relay.address[1]), 'User': 'root',
                        'IdentityFile': small_fleet.key, 'UserKnownHostsFile': small_fleet.known_hosts,
                        'HostKeyAlias': '[%s]:%d' % (host.address, host.port), 'BatchMode': 'yes'}}]}]
        play = tmp_path / 'client.yml'
        play.write_text(CLIENT_PLAY)
        rc, out, _recap = playbook(play, '-e', json.dumps({'keepalive_client_users': users}))
        assert rc == 0, out

        # 1. No keepalive on either side: the relay kills the idle session after ~IDLE s.
        proc, lines = open_idle_session(config, 'relayed', '-o', 'ServerAliveInterval=0')
        start = time.monotonic()
        proc.wait(timeout=IDLE + 10)
        elapsed = time.monotonic() - start
        finish(proc, lines)
        assert relay.idle_closes == 1
        assert IDLE - 0.5 <= elapsed <= IDLE + 3, elapsed

        # 2. The client role's settings: the session survives 3 x IDLE, and sshd (LogLevel DEBUG3)
        #    logs each keepalive as a global request.
        proc, lines = open_idle_session(config, 'relayed')
        time.sleep(3 * IDLE)
        assert proc.poll() is None and relay.idle_closes == 1
        finish(proc, lines)
        assert 'server_input_global_request: rtype keepalive@openssh.com want_reply 1' in server_log(host)

        # 3. The server role's settings, the client sending none: survives too, and ssh -v shows
        #    sshd's keepalive as a channel request.
        play = tmp_path / 'server.yml'
        play.write_text(SERVER_PLAY)
        rc, out, _recap = playbook(play, '-i', small_fleet.inventory, '-e', json.dumps({
            'keepalive_sshd_client_alive_interval': INTERVAL, 'keepalive_sshd_client_alive_count_max': 3}))
        assert rc == 0, out
        proc, lines = open_idle_session(config, 'relayed', '-o', 'ServerAliveInterval=0')
        time.sleep(3 * IDLE)
        assert proc.poll() is None and relay.idle_closes == 1
        client_log = finish(proc, lines)
        assert 'client_input_channel_req: channel 0 rtype keepalive@openssh.com reply 1' in client_log
