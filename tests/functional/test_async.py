"""async/poll through the action plugins: the module runs as an async job (never silently synchronously)."""
import json
import textwrap

from kalib import SSHD, playbook, ssh_G, sshd_T

PLAY = textwrap.dedent('''
    - name: Keepalives as async jobs
      hosts: localhost
      gather_facts: false
      tasks:
        - name: Server side, fire and forget
          keepalive.ssh.sshd_keepalive:
            path: "{{ sshd_config }}"
            client_alive_interval: 60
            client_alive_count_max: 10
            validate: "{{ sshd }} -t -f %s -h {{ hostkey }}"
          async: 60
          poll: 0
          register: server_job

        - name: Wait for the server job
          ansible.builtin.async_status:
            jid: "{{ server_job.ansible_job_id }}"
          register: server_done
          until: server_done.finished
          retries: 60
          delay: 1

        - name: Client side, polled
          keepalive.ssh.client_keepalive:
            path: "{{ client_config }}"
            hosts:
              - {pattern: bastion, server_alive_interval: 30}
          async: 60
          poll: 1
          register: client_done

        - name: Client side again, async, nothing to change
          keepalive.ssh.client_keepalive:
            path: "{{ client_config }}"
            hosts:
              - {pattern: bastion, server_alive_interval: 30}
          async: 60
          poll: 1
          register: client_again

        - name: Results for the test
          ansible.builtin.copy:
            content: "{{ {'server_job': server_job, 'server_done': server_done, 'client_done': client_done,
                          'client_again': client_again} | to_json }}"
            dest: "{{ out }}"
            mode: "0600"
''')


def test_async_poll_zero_and_polled(tmp_path, sshd_tree, hostkey):
    config = sshd_tree('debian12')
    client = tmp_path / 'client_config'
    out = tmp_path / 'results.json'
    play = tmp_path / 'play.yml'
    play.write_text(PLAY)
    extra = 'sshd_config=%s sshd=%s hostkey=%s client_config=%s out=%s' % (config, SSHD, hostkey, client, out)
    # the job files in a known place: this test's HOME may not be the passwd database's
    rc, output, recap = playbook(play, '-e', extra, ANSIBLE_ASYNC_DIR=str(tmp_path / 'async'))
    assert rc == 0 and recap['localhost']['failed'] == 0, output
    results = json.loads(out.read_text())
    job = results['server_job']
    # poll: 0 returned at once with a job id: the module was started as an async job, not run inline
    assert job['ansible_job_id'] and job['started'] == 1 and 'effective' not in job, job
    done = results['server_done']
    assert done['finished'] == 1 and done['changed'] is True and done['files'] == [str(config)]
    assert done['effective']['ClientAliveInterval']['value'] == '60'
    assert sshd_T(config, hostkey)['clientaliveinterval'] == '60'
    client_done = results['client_done']
    assert client_done['ansible_job_id'] and client_done['finished'] == 1 and client_done['changed'] is True
    assert ssh_G(client, 'bastion')['serveraliveinterval'] == '30'
    # an async task always runs the module (no controller-side shortcut), which finds nothing to change
    again = results['client_again']
    assert again['ansible_job_id'] and again['finished'] == 1 and again['changed'] is False
