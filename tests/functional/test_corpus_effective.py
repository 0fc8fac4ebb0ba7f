"""Every fixture, through the modules, judged by OpenSSH itself (sshd -T, ssh -G)."""
import os
import shutil

import pytest

from kalib import FIXTURES, SSHD, materialize, run, run_module

HOSTS = [dict(pattern='bastion', server_alive_interval=30, server_alive_count_max=20),
         dict(pattern='prod-*', server_alive_interval=120, server_alive_count_max=5),
         dict(pattern='*.internal', server_alive_interval=30, options=dict(ProxyJump='bastion')),
         dict(pattern='*', server_alive_interval=60, server_alive_count_max=10)]
PROBES = {'bastion': ('30', '20'), 'prod-web1': ('120', '5'), 'db.internal': ('30', '10'), 'example.org': ('60', '10')}
# A shadowing line in an Include'd file is reported, not edited: ssh keeps using it for what it matches.
REPORTED = {'include-config-d': {'bastion': ('240', '20'), 'prod-web1': ('240', '5'), 'db.internal': ('240', '10'),
                                 'example.org': ('240', '10')}}


def ssh_G_as(user, host):
    """ssh -G run as the user: relative Includes resolve against *their* ~/.ssh, as in real life."""
    proc = run(['runuser', '-u', user.pw_name, '--', 'ssh', '-G', host])
    assert proc.returncode == 0, proc.stderr
    return dict(line.split(' ', 1) for line in proc.stdout.splitlines() if ' ' in line)


@pytest.mark.parametrize('name', sorted(os.listdir(os.path.join(FIXTURES, 'ssh'))))
def test_client_fixture_values_are_what_ssh_uses(user, name):
    ssh_dir = os.path.join(user.pw_dir, '.ssh')
    shutil.copytree(os.path.join(FIXTURES, 'ssh', name), ssh_dir)
    for dirpath, _dirs, files in os.walk(ssh_dir):
        for f in [dirpath] + [os.path.join(dirpath, x) for x in files]:
            os.chown(f, user.pw_uid, user.pw_gid)
            os.chmod(f, 0o700 if os.path.isdir(f) else 0o600)
    first = run_module('client_keepalive', dict(user=user.pw_name, hosts=HOSTS))
    assert not first.get('failed'), first.get('msg')
    for host, values in REPORTED.get(name, PROBES).items():
        got = ssh_G_as(user, host)
        assert (got['serveraliveinterval'], got['serveralivecountmax']) == values, (name, host)
    if name in REPORTED:
        assert any('fix that file by hand' in w for w in first['warnings'])
    again = run_module('client_keepalive', dict(user=user.pw_name, hosts=HOSTS))
    assert again['changed'] is False


def test_relative_include_is_resolved_like_sshd_does(tmp_path, hostkey):
    """'Include conf.d/*.conf' means /etc/ssh/conf.d for sshd. A private mount namespace shows sshd the
    scratch tree at /etc/ssh (this machine's /etc/ssh is not touched), so sshd itself can be asked."""
    dest = materialize('sshd', 'include-relative', tmp_path / 'etc-ssh')
    shutil.copy(str(hostkey), str(dest / 'hostkey'))
    result = run_module('sshd_keepalive', dict(path=str(dest / 'sshd_config'), include_base=str(dest),
                                               client_alive_interval=60, client_alive_count_max=10, validate=False))
    assert result['files'] == [str(dest / 'sshd_config'), str(dest / 'conf.d' / '10-keepalive.conf')]
    script = 'mount --bind %s /etc/ssh && %s -T -f /etc/ssh/sshd_config -h /etc/ssh/hostkey' % (dest, SSHD)
    proc = run(['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script])
    assert proc.returncode == 0, proc.stderr
    eff = dict(line.split(' ', 1) for line in proc.stdout.splitlines() if ' ' in line)
    assert (eff['clientaliveinterval'], eff['clientalivecountmax']) == ('60', '10')
