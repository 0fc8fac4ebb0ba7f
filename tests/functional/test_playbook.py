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
            validate: "{{ sshd }} -t -f %s -h {{ hostkey }}"
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

    rc, out, recap = playbook(play, '--diff', '-vvv', *extra)
    assert rc == 0 and recap['localhost']['changed'] == 0, out
    # the rerun is decided on the controller from a shell read: no module (no Python) started for either
    for module in ('sshd_keepalive', 'client_keepalive'):
        assert 'keepalive.ssh.%s: nothing to change, decided on the controller' % module in out, out
    assert 'AnsiballZ' not in out and 'PUT ' not in out

    client = '%s/.ssh/config' % user.pw_dir
    with open(client) as f:
        drifted = f.read().replace('ServerAliveInterval 30', 'ServerAliveInterval 31')
    with open(client, 'w') as f:
        f.write(drifted)
    rc, out, recap = playbook(play, '-vvv', *extra)  # drift: the module runs and puts it back
    assert rc == 0 and recap['localhost']['changed'] == 1, out
    assert 'keepalive.ssh.client_keepalive: running the module (it would change something)' in out
    assert ssh_G(client, 'bastion')['serveraliveinterval'] == '30'
