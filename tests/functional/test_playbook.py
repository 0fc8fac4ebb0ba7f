"""Both modules through ansible-playbook: check mode, diff, real run, idempotence."""
import textwrap

from kalib import SSHD, playbook, ssh_G, sshd_T

PLAY = textwrap.dedent('''
    - name: Keepalive on a scratch host
      hosts: localhost
      gather_facts: false
      tasks:
        - name: Server side
          keepalive.ssh.sshd_keepalive:
            path: "{{ sshd_config }}"
            client_alive_interval: 60
            client_alive_count_max: 10
            validate_command: "{{ sshd }} -t -f %s -h {{ hostkey }}"
        - name: Client side
          keepalive.ssh.client_keepalive:
            user: "{{ user }}"
            hosts:
              - {pattern: bastion, server_alive_interval: 30, server_alive_count_max: 20}
              - {pattern: "prod-*", server_alive_interval: 120, server_alive_count_max: 5}
              - {pattern: "*", server_alive_interval: 60, server_alive_count_max: 10}
''')


def test_check_then_apply_then_noop(tmp_path, sshd_tree, hostkey, user):
    config = sshd_tree('ubuntu2404-cloud')
    play = tmp_path / 'play.yml'
    play.write_text(PLAY)
    extra = ['-e', 'sshd_config=%s sshd=%s hostkey=%s user=%s' % (config, SSHD, hostkey, user.pw_name)]
    before = config.read_text()

    rc, out, recap = playbook(play, '--check', '--diff', *extra)
    assert rc == 0, out
    assert recap['localhost']['changed'] == 2
    assert '+ClientAliveInterval 60' in out and '+Host bastion' in out
    assert config.read_text() == before

    rc, out, recap = playbook(play, *extra)
    assert rc == 0 and recap['localhost']['changed'] == 2, out
    assert sshd_T(config, hostkey)['clientaliveinterval'] == '60'
    assert ssh_G('%s/.ssh/config' % user.pw_dir, 'bastion')['serveraliveinterval'] == '30'

    rc, out, recap = playbook(play, '--diff', *extra)
    assert rc == 0 and recap['localhost']['changed'] == 0, out
