"""Verifier: the tricky starting configurations, each on the simulated host that has it."""
import os

from test_default import sshd_T

# molecule.yml's create starts: bastion-01 debian (fresh), web-01 cloud, db-01 match, office-01 after-match.
testinfra_hosts = ['ansible://web-01', 'ansible://db-01', 'ansible://office-01']


def test_scenario(host):
    v = host.ansible.get_variables()
    scenario = v['fleet_scenario']
    etc = v['sshd_keepalive_include_base']
    config = host.file(v['sshd_keepalive_config_path'])
    if scenario == 'cloud':
        # The drop-in is read first (Include on line 1), so that is where the value had to change.
        dropin = host.file(os.path.join(etc, 'sshd_config.d', '50-cloud-init.conf'))
        assert dropin.contains('^ClientAliveInterval 120$') and dropin.contains('^PasswordAuthentication no$')
        assert not config.contains('^ClientAliveInterval')
    elif scenario == 'match':
        # Global value edited in place; the Match blocks' own values still apply to their connections.
        assert config.contains('^ClientAliveInterval 120$')
        assert sshd_T(host, 'user=deploy,host=h,addr=192.0.2.1')['clientalivecountmax'] == '2'
        assert sshd_T(host, 'user=x,host=h,addr=10.1.2.3')['clientaliveinterval'] == '30'
    else:
        assert scenario == 'after-match'
        # The lines an admin appended after 'Match User backup' are not global; the real global value
        # went before the Match, and the backup user keeps what its block says.
        text = config.content_string
        assert text.index('ClientAliveInterval 30\n') < text.index('Match User backup')
        assert sshd_T(host, 'user=backup,host=h,addr=192.0.2.1')['clientaliveinterval'] == '120'
