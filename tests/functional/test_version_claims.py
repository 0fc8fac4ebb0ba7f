"""The OpenSSH versions and Debian suites the README, docs/support.md and the roles' meta/main.yml name are
exactly the ones the podman molecule scenario runs (whose verify checks each host's version)."""
import os
import re
import subprocess

import yaml

from kalib import ROOT

SUITES = ('bullseye', 'bookworm', 'trixie', 'sid')


def read(*path):
    with open(os.path.join(ROOT, *path)) as f:
        return f.read()


def image_suites():
    """{image name: suite} for every suite and variant tools/podman_image.sh builds."""
    names = {}
    for suite in SUITES:
        for variant in ([], ['--variant', 'minimal']):
            name = subprocess.check_output([os.path.join(ROOT, 'tools', 'podman_image.sh'), '--suite', suite,
                                            '--image-name'] + variant, universal_newlines=True).strip()
            names[name] = suite
    return names


def scenario_hosts():
    """[(suite, the host's keepalive_openssh)] of the podman scenario."""
    scenario = yaml.safe_load(read('extensions', 'molecule', 'podman', 'molecule.yml'))
    host_vars = scenario['provisioner']['inventory']['host_vars']
    suites = image_suites()
    return [(suites[p['image']], host_vars[p['name']]['keepalive_openssh']) for p in scenario['platforms']]


def test_roles_meta_names_the_suites_run_on_real_hosts():
    run = sorted(suite for suite, _openssh in scenario_hosts())
    assert run == sorted(SUITES)
    for role in ('sshd', 'client'):
        meta = yaml.safe_load(read('roles', role, 'meta', 'main.yml'))
        assert meta['galaxy_info']['platforms'] == [dict(name='Debian', versions=list(SUITES))], role


def test_readme_and_support_name_each_version_run_with_its_debian():
    readme, support = read('docs', 'README.md'), read('docs', 'support.md')
    for suite, openssh in scenario_hosts():
        version = openssh.get('version', 'the newest')
        debian = openssh['debian']
        label = 'sid (forky)' if debian == 'sid' else '%s %s' % (debian, suite)
        row = re.search(r'^\| %s \| ([^|]+) \|' % re.escape(label), support, re.M)
        assert row and version in row.group(1), (suite, version)
        if debian == 'sid':
            assert 'Debian sid (the newest OpenSSH)' in ' '.join(readme.split())
        else:
            assert re.search(r'\b%s\b[^.]*\(?(OpenSSH )?%s\)' % (debian, re.escape(version)), ' '.join(readme.split())), (
                debian, version)
