"""Scale-out on the engine AWX uses: an execution environment context from ansible-builder (offline), and the
site and audit playbooks run through ansible-runner against the simulated fleet, sliced as AWX slices jobs."""
import json
import os
import subprocess
import sys
import time

import ansible_runner
import pytest
import yaml

from kalib import ROOT
import fleet as fleet_harness  # noqa: E402  pylint: disable=wrong-import-position,wrong-import-order

BIN = os.path.dirname(sys.executable)
SSHD_TASK = "keepalive.ssh.sshd : Make sshd's keepalive settings effective"


def galaxy_version():
    with open(os.path.join(ROOT, 'galaxy.yml')) as f:
        return yaml.safe_load(f)['version']


def build_tarball(dest):
    subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--force', '--output-path', str(dest),
                    ROOT], check=True, capture_output=True)
    return dest / ('keepalive-ssh-%s.tar.gz' % galaxy_version())


def test_ansible_builder_creates_a_build_context_offline(tmp_path):
    ee_file = tmp_path / 'execution-environment.yml'
    ee_file.write_text(open(os.path.join(ROOT, 'execution-environment.yml')).read())
    tarball = build_tarball(tmp_path / 'ee')
    assert tarball.exists()
    definition = yaml.safe_load(ee_file.read_text())
    # the EE file names the tarball of galaxy.yml's version, and the ansible-core the project pins
    assert definition['additional_build_files'][0]['src'] == 'ee/%s' % tarball.name
    assert definition['dependencies']['galaxy']['collections'][0]['name'] == '/build/collections/%s' % tarball.name
    with open(os.path.join(ROOT, 'requirements.txt')) as f:
        pinned = [line.strip() for line in f if line.startswith('ansible-core==')]
    assert definition['dependencies']['ansible_core']['package_pip'] == pinned[0]

    # no network in this test's namespace: create must not need any
    proc = subprocess.run([os.path.join(BIN, 'ansible-builder'), 'create', '-f', str(ee_file), '-c',
                           str(tmp_path / 'context')], capture_output=True, text=True, check=False, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    context = tmp_path / 'context'
    containerfile = (context / 'Containerfile').read_text()
    assert 'ansible-galaxy collection install' in containerfile and 'introspect' in containerfile
    assert 'ARG ANSIBLE_INSTALL_REFS="%s ansible-runner==' % pinned[0] in containerfile
    assert (context / '_build' / 'collections' / tarball.name).read_bytes() == tarball.read_bytes()
    requirements = yaml.safe_load((context / '_build' / 'requirements.yml').read_text())
    assert requirements['collections'] == [{'name': '/build/collections/%s' % tarball.name, 'type': 'file'}]

    # the build's own introspection step, run on the installed tarball: it finds meta/execution-environment.yml
    # --force: the checkout is on ANSIBLE_COLLECTIONS_PATH under make, and galaxy would call it installed
    subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '--force', '-p',
                    str(tmp_path / 'collections'), str(tarball)], check=True, capture_output=True)
    assert (tmp_path / 'collections' / 'ansible_collections' / 'keepalive' / 'ssh' / 'bindep.txt').exists()
    proc = subprocess.run([sys.executable, str(context / '_build' / 'scripts' / 'introspect.py'), 'introspect',
                           str(tmp_path / 'collections')], capture_output=True, text=True, check=True)
    found = yaml.safe_load(proc.stdout)
    assert found['python'] == []  # the plugins need only the standard library and ansible-core
    assert 'openssh-client [platform:dpkg]  # from collection keepalive.ssh' in found['system']
    assert 'openssh-clients [platform:rpm]  # from collection keepalive.ssh' in found['system']


def runner_job(private, playbook, fleet, limit=None, extravars=None, run=ansible_runner.run):
    """One AWX-style job: a project playbook that imports the collection's, through ansible-runner."""
    project = private / 'project'
    project.mkdir(parents=True, exist_ok=True)
    (project / ('%s.yml' % playbook)).write_text('- name: %s\n  ansible.builtin.import_playbook: keepalive.ssh.%s\n'
                                                 % (playbook, playbook))
    env = fleet_harness.ansible_env()
    keep = ('PATH', 'ANSIBLE_COLLECTIONS_PATH', 'ANSIBLE_PYTHON_INTERPRETER', 'ANSIBLE_NOCOLOR',
            'ANSIBLE_RETRY_FILES_ENABLED', 'ANSIBLE_LOCALHOST_WARNING', 'ANSIBLE_INVENTORY_UNPARSED_WARNING')
    return run(private_data_dir=str(private), playbook='%s.yml' % playbook, inventory=fleet.inventory,
               limit=limit, extravars=extravars or {}, envvars=dict((k, env[k]) for k in keep),
               quiet=True, forks=5)


def batches(events):
    """Hosts per serial batch: the hosts of the sshd task between one play start and the next."""
    found = []
    for event in events:
        if event['event'] == 'playbook_on_play_start':
            found.append(set())
        elif event['event'] in ('runner_on_ok', 'runner_on_failed') and event['event_data'].get('task') == \
                "Make sshd's keepalive settings effective":
            found[-1].add(event['event_data']['host'])
    return [b for b in found if b]


@pytest.mark.fleet(size=4, port=3022, net='127.50', scenarios=['cloud', 'debian'])
def test_sliced_site_then_audit_through_ansible_runner(small_fleet, tmp_path):
    hosts = [h.name for h in small_fleet.hosts]
    slices = [hosts[0::2], hosts[1::2]]  # AWX job slicing: each slice a job of its own, run in parallel
    jobs = []
    for n, part in enumerate(slices):
        _thread, runner = runner_job(tmp_path / ('slice%d' % n), 'site', small_fleet, limit=','.join(part),
                                     run=ansible_runner.run_async)
        jobs.append(runner)
    for _tick in range(600):
        if all(r.status in ('successful', 'failed', 'error', 'timeout', 'canceled') for r in jobs):
            break
        time.sleep(0.5)
    for part, runner in zip(slices, jobs):
        assert runner.status == 'successful' and runner.rc == 0, runner.stdout.read()
        assert sorted(runner.stats['changed']) == sorted(part) and not runner.stats['failures']
        # each slice runs its own canary: its first batch is one host, then the rest
        assert [len(b) for b in batches(runner.events)] == [1, 1], batches(runner.events)

    report = tmp_path / 'report'
    audit = runner_job(tmp_path / 'audit', 'audit', small_fleet, extravars={'keepalive_report_dir': str(report)})
    assert audit.status == 'successful' and audit.rc == 0, audit.stdout.read()
    rows = json.loads((report / 'keepalive-report.json').read_text())
    assert sorted(r['host'] for r in rows) == sorted(hosts) and all(r['compliant'] == 'yes' for r in rows)

    again = runner_job(tmp_path / 'again', 'site', small_fleet)
    assert again.status == 'successful' and not again.stats['changed'], again.stats
