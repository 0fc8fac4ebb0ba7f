"""Proof on the wire: keepalives from the roles keep an idle session alive through a real idle-killing firewall.

Netfilter conntrack in a private network namespace (tests/lib/conntrack.py) forgets a TCP connection that
is silent for IDLE seconds and drops its next packets, as a NAT gateway does.  Without keepalives a session
silent for 3 x IDLE never echoes again (the firewall's invalid-packet counter goes up, the conntrack entry
is gone); with the client role's ServerAliveInterval, or the server role's ClientAliveInterval alone (the
client sending none), it still echoes after 3 x IDLE, its conntrack entry is alive, and the keepalive
traffic is visible exactly where OpenSSH logs it.
"""
import json

from conntrack import IdleFirewall
from fleet import CLIENT_PLAY, SERVER_PLAY, Fleet
from kalib import playbook

IDLE = 4          # seconds conntrack keeps a silent connection (established timeout)
INTERVAL = 1      # keepalive interval the roles are given: 4 keepalives per timeout, margin for a loaded box
SILENCE = 3 * IDLE
ECHO = 5          # seconds an echo may take on a loaded machine before the session counts as dead


def read(path):
    with open(path) as f:
        return f.read()


def test_keepalives_keep_idle_sessions_alive(tmp_path):
    with IdleFirewall(IDLE) as fw:
        fleet = Fleet(str(tmp_path / 'fleet'), size=1, port=2522, net='127.45', log_level='DEBUG3',
                      scenarios=['debian'])
        fleet.create()
        fleet.start()
        host = fleet.hosts[0]
        # The client role writes the user's config: the host with a 1 s keepalive.
        # The user's own config reaches the host; the client role adds the keepalive to that block.
        (tmp_path / 'home' / '.ssh').mkdir(parents=True, mode=0o700)
        config = tmp_path / 'home' / '.ssh' / 'config'
        config.write_text(fleet.client_entry('guarded', host))
        users = [{'name': 'root', 'path': str(config), 'profiles': [], 'hosts': [{
            'pattern': 'guarded', 'server_alive_interval': INTERVAL, 'server_alive_count_max': 3}]}]
        (tmp_path / 'client.yml').write_text(CLIENT_PLAY)
        rc, out, _recap = playbook(tmp_path / 'client.yml', '-e', json.dumps({'client_keepalive_users': users}))
        assert rc == 0, out
        assert 'ServerAliveInterval %d' % INTERVAL in config.read_text(), out
        ssh = ['ssh', '-F', str(config), '-T', '-v']

        # 1. No keepalive on either side: after 3 x IDLE of silence the session never answers again;
        #    its packets are the firewall's invalid ones and conntrack has forgotten the connection.
        seen = fw.silence(ssh + ['-o', 'ServerAliveInterval=0', 'guarded'], host.port, SILENCE, ECHO)
        assert seen.entry is None
        assert not seen.alive
        assert seen.dropped > 0

        # 2. The client role's settings: alive after 3 x IDLE, its conntrack entry refreshed all along,
        #    and sshd (LogLevel DEBUG3) logs each keepalive as a global request.
        seen = fw.silence(ssh + ['guarded'], host.port, SILENCE, ECHO)
        assert seen.entry['state'] == 'ESTABLISHED'
        assert seen.alive
        assert seen.dropped == 0
        assert read(host.log).count('server_input_global_request: rtype keepalive@openssh.com want_reply 1') \
            >= SILENCE // INTERVAL // 2

        # 3. The server role's settings, the client sending none: alive too, and ssh -v shows sshd's
        #    keepalive as a channel request.  Ansible's own connection must not be cut mid-play.
        (tmp_path / 'server.yml').write_text(SERVER_PLAY)
        with fw.relaxed():
            rc, out, _recap = playbook(tmp_path / 'server.yml', '-i', fleet.inventory, '-e', json.dumps({
                'sshd_keepalive_client_alive_interval': INTERVAL, 'sshd_keepalive_client_alive_count_max': 3}))
            fleet.reset_connections()
        assert rc == 0, out
        seen = fw.silence(ssh + ['-o', 'ServerAliveInterval=0', 'guarded'], host.port, SILENCE, ECHO)
        assert seen.entry['state'] == 'ESTABLISHED'
        assert seen.alive
        assert seen.dropped == 0
        assert seen.log.count('client_input_channel_req: channel 0 rtype keepalive@openssh.com reply 1') \
            >= SILENCE // INTERVAL // 2
