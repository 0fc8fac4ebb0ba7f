"""docs/profiles.md's server table is what the sshd role's profiles do under the measured timing model."""
import os

import yaml

from ansible_collections.keepalive.ssh.plugins.module_utils.timing import MEASURED, dead_peer_time, derive_interval

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def minutes(seconds):
    return '%s min' % ('%g' % (seconds / 60.0))


def server_rows():
    with open(os.path.join(ROOT, 'docs', 'profiles.md')) as f:
        text = f.read()
    table = text[text.index('| profile | ClientAliveInterval'):].split('\n\n')[0].splitlines()[2:]
    return {row.split('|')[1].strip().strip('`'): [c.strip() for c in row.split(' | ')[1:5]] for row in table}


def test_the_profile_table_follows_the_defaults_and_the_measured_periods():
    with open(os.path.join(ROOT, 'roles', 'sshd', 'defaults', 'main.yml')) as f:
        profiles = yaml.safe_load(f)['sshd_keepalive_profiles']
    assert sorted(set(t.server_period for t in MEASURED.values())) == [1, 2]  # the table's two columns
    rows = server_rows()
    assert set(rows) == set(profiles)
    for name, p in profiles.items():
        count = p['client_alive_count_max']
        if 'nat_idle_timeout' in p:
            one, two = derive_interval(p['nat_idle_timeout'], 1), derive_interval(p['nat_idle_timeout'], 2)
            assert one == 2 * two and dead_peer_time(one, count, 1) == dead_peer_time(two, count, 2)
            assert rows[name] == ['derived from `nat_idle_timeout: %d`: %d \\| %d' % (p['nat_idle_timeout'], one, two),
                                  str(count), '%d s on every version' % one, minutes(dead_peer_time(one, count))]
        else:
            i = p['client_alive_interval']
            assert rows[name] == [str(i), str(count), '%d s \\| %d s' % (i, 2 * i), '%s \\| %s' % (
                minutes(dead_peer_time(i, count, 1)), minutes(dead_peer_time(i, count, 2)))], name
