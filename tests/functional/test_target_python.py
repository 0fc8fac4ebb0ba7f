"""Target Pythons: the modules through ansible-playbook on the oldest and newest declared interpreter
(tests/config.yml, the modules' requirements), and a clear failure on an older one."""
import glob
import json
import textwrap

import pytest
from ansible.release import __version__ as CORE_VERSION

from kalib import SSHD, playbook, sshd_T

OURS = (3, 6)  # plugins/module_utils/target_python.py MIN_PYTHON
NEWEST = (3, 13)
# The oldest Python 3 each ansible-core runs modules with (its own target floor).
CORE_FLOOR = {'2.16': (3, 6), '2.17': (3, 7), '2.18': (3, 8), '2.19': (3, 8), '2.20': (3, 9), '2.21': (3, 9)}
CORE = '.'.join(CORE_VERSION.split('.')[:2])

PLAY = textwrap.dedent('''
    - name: The three modules on scratch files
      hosts: localhost
      connection: local
      gather_facts: false
      tasks:
        - name: Server side
          keepalive.ssh.sshd_keepalive:
            path: "{{ dir }}/sshd/sshd_config"
            include_base: "{{ dir }}/sshd"
            client_alive_interval: 45
            client_alive_count_max: 7
            validate: "{{ sshd }} -t -f %s -h {{ hostkey }}"
          register: server
        - name: Client side
          keepalive.ssh.client_keepalive:
            path: "{{ dir }}/ssh_config"
            hosts: [{pattern: "*", server_alive_interval: 30, server_alive_count_max: 4}]
          register: client
        - name: Audit both
          keepalive.ssh.keepalive_info:
            path: "{{ dir }}/sshd/sshd_config"
            include_base: "{{ dir }}/sshd"
            sshd_binary: "{{ sshd }}"
            system_config: "{{ dir }}/ssh_config"
            users: [{name: root, path: "{{ dir }}/ssh_config",
                     expect: [{pattern: "*", server_alive_interval: 30, server_alive_count_max: 4}]}]
            expect_server: {client_alive_interval: 45, client_alive_count_max: 7}
          register: info
        - name: Show the results
          ansible.builtin.debug:
            msg: "RESULTS {{ {'server': server.changed, 'client': client.changed, 'compliant': info.compliant,
              'python': ansible_facts.python_version | default('') } | to_json }}"
''')


def interpreter(version):
    found = sorted(glob.glob('/root/.pyenv/versions/%d.%d.*/bin/python%d.%d' % (version * 2)))
    assert found, 'Python %d.%d is not installed (pyenv: /root/.pyenv/versions/%d.%d.*)' % (version * 2)
    return found[-1]


def run_play(tmp_path, sshd_tree, hostkey, python):
    (tmp_path / 'sshd').mkdir()
    config = sshd_tree('debian12')
    (tmp_path / 'sshd' / 'sshd_config').write_text(config.read_text())
    play = tmp_path / 'play.yml'
    play.write_text(PLAY)
    extra = {'dir': str(tmp_path), 'sshd': SSHD, 'hostkey': str(hostkey), 'ansible_python_interpreter': python}
    return playbook(play, '-e', json.dumps(extra))


@pytest.mark.parametrize('which', ['oldest', 'newest'])
def test_modules_on_the_declared_target_pythons(tmp_path, sshd_tree, hostkey, which):
    version = max(OURS, CORE_FLOOR[CORE]) if which == 'oldest' else NEWEST
    rc, out, recap = run_play(tmp_path, sshd_tree, hostkey, interpreter(version))
    assert rc == 0, out
    assert recap['localhost']['changed'] == 2, out
    line = [x for x in out.splitlines() if 'RESULTS' in x][0]
    results = json.loads(line.split('RESULTS ', 1)[1].rstrip('"').replace('\\"', '"'))
    assert results['server'] and results['client'] and results['compliant'], out
    effective = sshd_T(tmp_path / 'sshd' / 'sshd_config', hostkey)
    assert (effective['clientaliveinterval'], effective['clientalivecountmax']) == ('45', '7')


def test_python_2_target_fails_before_touching_anything(tmp_path, sshd_tree, hostkey):
    rc, out, recap = run_play(tmp_path, sshd_tree, hostkey, interpreter((2, 7)))
    assert rc != 0 and recap['localhost']['failed'] == 1, out
    assert 'ClientAliveInterval 45' not in (tmp_path / 'sshd' / 'sshd_config').read_text()
    if CORE == '2.16':  # the last ansible-core that still starts modules on Python 2.7: our message
        assert ('keepalive.ssh modules need Python 3.6 or newer on the target, but %s is Python 2.7'
                % interpreter((2, 7))) in out, out
    else:  # newer ansible-core fails inside its own module wrapper, before any of our code runs
        assert 'MODULE FAILURE' in out or 'Module result deserialization failed' in out, out
