"""keepalive.ssh.idle_probe against a real idle-killing firewall (tests/lib/conntrack.py) and a real sshd.

With an established-TCP timeout of T seconds the probe's bounds contain T and are at most `resolution`
apart, and it reports how the dead sessions ended (silent drop, or RST when the firewall resets); without a
firewall it reports no_timeout_below; with the server's ClientAliveInterval on it reports server_keepalive;
the client role given the measured value keeps an idle session alive through the same firewall for 3 x T.
No ssh of the probe outlives it, also when it is stopped by a signal or killed.
"""
import json
import os
import signal
import subprocess
import time

import pytest

from conntrack import IdleFirewall
from fleet import CLIENT_PLAY, SERVER_PLAY, Fleet
from kalib import SSHD, playbook, run, run_module, sshd_T, start_module

from ansible_collections.keepalive.ssh.plugins.module_utils.timing import assumed, derive_interval, openssh_version

PORT = 2622
SERVER = assumed(openssh_version(run([SSHD, '-V']).stderr))  # the fleet's sshd: this machine's


def start_fleet(tmp_path, client_alive_interval=None):
    fleet = Fleet(str(tmp_path / 'fleet'), size=1, port=PORT, net='127.46', scenarios=['debian'])
    fleet.create()
    if client_alive_interval is not None:
        host = fleet.hosts[0]
        with open(host.config) as f:
            text = f.read()
        with open(host.config, 'w') as f:
            f.write('ClientAliveInterval %d\n' % client_alive_interval + text)
    fleet.start()
    return fleet


def probe_args(fleet, **kw):
    host = fleet.hosts[0]
    args = dict(host=host.address, port=host.port, user='root', identity_file=fleet.key,
                ssh_options=['UserKnownHostsFile=%s' % fleet.known_hosts, 'StrictHostKeyChecking=yes'],
                resolution=1, max_sessions=6, reply_timeout=3, connect_timeout=20)
    args.update(kw)
    return args


def ssh_clients(fw):
    """ssh client processes left in the firewall's namespace."""
    left = []
    for pid in fw.processes():
        try:
            with open('/proc/%d/comm' % pid) as f:
                if f.read().strip() == 'ssh':
                    left.append(pid)
        except OSError:
            pass
    return left


@pytest.mark.parametrize('timeout,action', [(4, 'drop'), (9, 'drop'), (4, 'reset')])
def test_bounds_contain_the_firewall_timeout(tmp_path, timeout, action):
    with IdleFirewall(timeout, action) as fw:
        fleet = start_fleet(tmp_path)
        result = run_module('idle_probe', probe_args(fleet, max_idle=4 * timeout))
        assert not result.get('failed'), result
        bounds = result['idle_timeout']
        assert bounds['lower'] <= timeout <= bounds['upper'], result
        assert bounds['upper'] - bounds['lower'] <= 1, result
        assert result['no_timeout_below'] is None and result['server_keepalive'] is None
        assert result['drop'] == ('silent' if action == 'drop' else 'reset'), result
        assert result['recommended'] == {'nat_idle_timeout': bounds['lower'], 'server_alive_count_max': 3,
                                         'server_alive_interval': derive_interval(bounds['lower']),
                                         'client_alive_interval': derive_interval(bounds['lower'], SERVER.period),
                                         'server_timing': SERVER.as_result()}
        outcomes = {s['outcome'] for s in result['sessions']}
        assert outcomes <= {'alive', 'dead', 'cancelled'} and {'alive', 'dead'} <= outcomes, result
        assert result['changed'] is False and result['elapsed'] < result['time_limit']
        assert ssh_clients(fw) == []
        if timeout == 4 and action == 'drop':
            client_role_survives(tmp_path, fw, fleet, bounds['lower'])
            sshd_role_accepts(tmp_path, fw, fleet, bounds['lower'])


def client_role_survives(tmp_path, fw, fleet, measured):
    """The client role given the measured value (as a string from a template) keeps a session alive for 3 x T."""
    host = fleet.hosts[0]
    config = user_config(tmp_path, 'probed', fleet)
    users = [{'name': 'root', 'path': str(config), 'profiles': [], 'hosts': [{'pattern': 'probed'}]}]
    (tmp_path / 'client.yml').write_text(CLIENT_PLAY)
    rc, out, _recap = playbook(tmp_path / 'client.yml', '-e', json.dumps({
        'client_keepalive_users': users, 'probe': {'idle_timeout': {'lower': measured}},
        'client_keepalive_nat_idle_timeout': '{{ probe.idle_timeout.lower }}'}))
    assert rc == 0, out
    assert 'ServerAliveInterval %d' % derive_interval(measured) in config.read_text()
    seen = fw.silence(['ssh', '-F', str(config), '-T', 'probed'], host.port, 3 * fw.timeout, 5)
    assert seen.entry['state'] == 'ESTABLISHED'
    assert seen.alive
    assert seen.dropped == 0


def user_config(tmp_path, alias, fleet):
    """The user's own ~/.ssh/config for the test host, as a user has it before the client role adds keepalives."""
    host = fleet.hosts[0]
    ssh_dir = tmp_path / 'home' / '.ssh'
    ssh_dir.mkdir(parents=True, mode=0o700)
    config = ssh_dir / 'config'
    config.write_text(fleet.client_entry(alias, host))
    return config


def sshd_role_accepts(tmp_path, fw, fleet, measured):
    """The sshd role takes the measured value from a template too, derives ClientAliveInterval from it, and that
    alone (the client sending no keepalive) keeps an idle session alive through the firewall for 3 x T."""
    (tmp_path / 'server.yml').write_text(SERVER_PLAY)
    with fw.relaxed():
        rc, out, _recap = playbook(tmp_path / 'server.yml', '-i', fleet.inventory, '-e', json.dumps({
            'probe': {'idle_timeout': {'lower': measured}},
            'sshd_keepalive_nat_idle_timeout': '{{ probe.idle_timeout.lower }}'}))
        fleet.reset_connections()
    assert rc == 0, out
    host = fleet.hosts[0]
    assert sshd_T(host.config, host.hostkey)['clientaliveinterval'] == str(derive_interval(measured, SERVER.period))
    seen = fw.silence(['ssh', '-F', str(tmp_path / 'home' / '.ssh' / 'config'), '-T', '-v',
                       '-o', 'ServerAliveInterval=0', 'probed'], host.port, 3 * fw.timeout, 5)
    assert seen.entry['state'] == 'ESTABLISHED'
    assert seen.alive
    assert seen.dropped == 0
    assert 'client_input_channel_req: channel 0 rtype keepalive@openssh.com reply 1' in seen.log


def test_no_firewall_no_timeout_below_in_check_mode(tmp_path):
    with IdleFirewall(None) as fw:
        fleet = start_fleet(tmp_path)
        result = run_module('idle_probe', probe_args(fleet, max_idle=6, max_sessions=3), check=True)
        assert not result.get('failed'), result
        assert result['no_timeout_below'] == 6
        assert result['idle_timeout'] is None and result['recommended'] is None and result['drop'] is None
        assert [s['outcome'] for s in result['sessions']] == ['alive'] * 3
        assert [s['planned'] for s in result['sessions']] == [1, 2, 6]
        assert all(s['idle'] >= s['planned'] for s in result['sessions'])
        assert ssh_clients(fw) == []


def test_server_keepalive_is_reported(tmp_path):
    with IdleFirewall(4) as fw:
        fleet = start_fleet(tmp_path, client_alive_interval=1)
        result = run_module('idle_probe', probe_args(fleet, max_idle=16, max_sessions=4))
        assert not result.get('failed'), result
        seen = result['server_keepalive']
        assert seen and seen['sessions'] >= 1 and 0.5 <= seen['first_after'] <= 3, result
        assert 'ClientAliveInterval 0' in seen['msg'] and seen['msg'] in result['warnings']
        assert result['idle_timeout'] is None and result['no_timeout_below'] is None
        assert result['recommended'] is None
        assert ssh_clients(fw) == []


def test_login_failure_is_clear(tmp_path):
    with IdleFirewall(None) as fw:
        fleet = start_fleet(tmp_path)
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(tmp_path / 'stranger')], check=True)
        result = run_module('idle_probe', probe_args(fleet, identity_file=str(tmp_path / 'stranger'), max_idle=5))
        assert result['failed']
        assert result['msg'].startswith('no session could log in') and 'Permission denied' in result['msg']
        assert ssh_clients(fw) == []


def test_managed_options_are_refused(tmp_path):
    result = run_module('idle_probe', {'host': '127.0.0.1', 'ssh_options': ['ServerAliveInterval=5']})
    assert result['failed'] and 'must not set ServerAliveInterval' in result['msg']


@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGKILL])
def test_no_ssh_outlives_the_probe(tmp_path, sig):
    """Stopped (SIGTERM, as Ctrl-C or a task timeout) or killed (SIGKILL, as an async timeout) mid-silence."""
    with IdleFirewall(None) as fw:
        fleet = start_fleet(tmp_path)
        argfile = str(tmp_path / 'args.json')
        proc = start_module('idle_probe', probe_args(fleet, max_idle=60, max_sessions=4), argfile,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while len(ssh_clients(fw)) < 4:
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        time.sleep(2)
        proc.send_signal(sig)
        out, _err = proc.communicate(timeout=30)
        if sig == signal.SIGTERM:
            assert json.loads(out)['msg'].startswith('idle probe stopped by signal 15')
        deadline = time.monotonic() + 5
        while ssh_clients(fw) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ssh_clients(fw) == []
        assert os.path.exists(fleet.hosts[0].pidfile)


ASYNC_PLAY = '''
- name: The probe in the background of a play
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Probe, polled
      keepalive.ssh.idle_probe: "{{ probe_args | combine({'max_idle': 3, 'max_sessions': 2}) }}"
      async: 120
      poll: 1
      register: done

    - name: Probe that outlives its async time
      keepalive.ssh.idle_probe: "{{ probe_args | combine({'max_idle': 60, 'max_sessions': 3}) }}"
      async: 6
      poll: 1
      register: late
      ignore_errors: true

    - name: Results for the test
      ansible.builtin.copy:
        content: "{{ {'done': done, 'late': late} | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
'''


def test_async_probe_and_async_timeout(tmp_path):
    """With async and poll the probe reports as usual; an async timeout leaves no ssh behind."""
    with IdleFirewall(None) as fw:
        fleet = start_fleet(tmp_path)
        (tmp_path / 'async.yml').write_text(ASYNC_PLAY)
        out = tmp_path / 'results.json'
        # async_wrapper and async_status must agree on the job directory whatever HOME says
        rc, output, _recap = playbook(tmp_path / 'async.yml', '-e', json.dumps({
            'probe_args': probe_args(fleet), 'out': str(out)}), ANSIBLE_ASYNC_DIR=str(tmp_path / 'async'))
        assert rc == 0, output
        results = json.loads(out.read_text())
        assert results['done']['no_timeout_below'] == 3 and results['done']['ansible_job_id']
        # whichever notices first: the controller's polling or async_wrapper's watcher
        late = results['late']
        assert late['failed'] and (late['msg'] == 'Timeout exceeded'
                                   or 'async task did not complete within the requested time' in late['msg']), late
        # The controller stops polling at the async time; async_wrapper's watcher kills the job on its own
        # clock (5 s steps, so about 10 s after the start); then the kernel kills every ssh (PR_SET_PDEATHSIG).
        deadline = time.monotonic() + 40
        while ssh_clients(fw) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ssh_clients(fw) == []
