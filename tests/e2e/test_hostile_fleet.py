"""One hostile user on one host does not stop the fleet: the site playbook (canary first, then batches,
max_fail_percentage 0) rolls out to every host, every other user converges, the hostile user is skipped
on that host only, and no byte of a root-only file reaches the output.
"""
import os
import pwd
import time
import uuid

import pytest

from fleet import USERS
from kalib import huge_config, playbook, sshd_T

SECRET = 'KEEPALIVE-FLEET-SECRET-%s' % uuid.uuid4().hex


@pytest.fixture
def root_only_secret():
    """A root-only file in a directory every user can reach (as /etc/shadow is): the user can name it
    in an Include, and their own ssh gets 'Permission denied' for it."""
    path = '/home/.keepalive-fleet-secret-%s' % uuid.uuid4().hex
    with open(path, 'w') as f:
        f.write('Host %s\n    User %s\n' % (SECRET, SECRET))
    os.chmod(path, 0o600)
    yield path
    os.unlink(path)


def own(path, user):
    pw = pwd.getpwnam(user)
    os.chown(str(path), pw.pw_uid, pw.pw_gid)


@pytest.mark.fleet(size=3, scenarios=['debian'], port=2722, net='127.51')
def test_site_goes_on_past_hostile_users(small_fleet, root_only_secret):
    fleet = small_fleet
    first, second, third = fleet.hosts
    hostile = USERS[1]
    # on the canary host: the user's config is a FIFO (opening it would block forever as root)
    fifo = first.user_config(hostile)
    os.makedirs(os.path.dirname(fifo), exist_ok=True)
    if os.path.lexists(fifo):
        os.unlink(fifo)
    os.mkfifo(fifo, 0o600)
    own(fifo, hostile)
    # on the second host: the same user Includes a root-only file
    included = second.user_config(hostile)
    with open(included, 'w') as f:
        f.write('Include %s\nHost *\n    User someone\n' % root_only_secret)
    own(included, hostile)

    rc, out, recap = playbook('keepalive.ssh.site', '-i', fleet.inventory,
                              '-e', 'client_keepalive_command_timeout=10')
    assert rc == 0, out
    assert all(recap[h.name]['failed'] == 0 and recap[h.name]['unreachable'] == 0 for h in fleet.hosts), recap
    assert SECRET not in out
    # skipped on those two hosts only, each with its reason
    skips = [line for line in out.splitlines() if '%s: skipped (' % hostile in line]
    assert len(skips) == 2, skips
    assert any('%s is not a regular file' % fifo in line for line in skips), skips
    assert any('%s: Permission denied' % root_only_secret in line for line in skips), skips

    for host in fleet.hosts:
        # the server side converged on every host, the canary included
        assert sshd_T(host.config, host.hostkey)['clientaliveinterval'] != '0', host.name
        for user in USERS:
            if user == hostile and host in (first, second):
                continue
            with open(host.user_config(user)) as f:
                assert 'ServerAliveInterval' in f.read(), (host.name, user)
    # the hostile user's files were left as they were, and converged where they were harmless
    assert os.path.exists(fifo) and not os.path.isfile(fifo)
    with open(included) as f:
        assert f.read() == 'Include %s\nHost *\n    User someone\n' % root_only_secret
    with open(third.user_config(hostile)) as f:
        assert 'ServerAliveInterval' in f.read()


BUDGET = 10  # client_keepalive_command_timeout given to site: seconds one user's files may cost on a host
SITE_MARGIN = 150  # the rest of site on two hosts (sshd, canary and batch plays) on a loaded 2-core box


@pytest.mark.fleet(size=2, scenarios=['debian'], port=2742, net='127.53')
def test_site_goes_on_past_a_huge_user_file(small_fleet):
    """A 1 MiB ~/.ssh/config of 174,000 Host names on the canary costs its user at most their budget:
    that user is skipped for it, the canary's other users and the next host converge, site goes on."""
    fleet = small_fleet
    canary, bystander = fleet.hosts
    hostile = USERS[1]
    path = canary.user_config(hostile)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(huge_config())
    own(path, hostile)

    start = time.time()
    rc, out, recap = playbook('keepalive.ssh.site', '-i', fleet.inventory,
                              '-e', 'client_keepalive_command_timeout=%d' % BUDGET)
    elapsed = time.time() - start
    assert rc == 0, out
    assert all(recap[h.name]['failed'] == 0 and recap[h.name]['unreachable'] == 0 for h in fleet.hosts), recap
    skips = [line for line in out.splitlines() if '%s: skipped (' % hostile in line]
    assert len(skips) == 1 and 'command_timeout' in skips[0], skips
    assert elapsed < BUDGET + SITE_MARGIN, elapsed
    for host in fleet.hosts:
        assert sshd_T(host.config, host.hostkey)['clientaliveinterval'] != '0', host.name
        for user in USERS:
            if (host, user) == (canary, hostile):
                continue
            with open(host.user_config(user)) as f:
                assert 'ServerAliveInterval' in f.read(), (host.name, user)
    with open(path) as f:
        assert f.read() == huge_config()  # left as it was
