"""The fleet report: a user the audit could not read is named in the row, the CSV and the table."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.keepalive.ssh.plugins.filter.keepalive import FilterModule

FILTERS = FilterModule().filters()
ALIVE = {'ServerAliveInterval': {'value': '60'}, 'ServerAliveCountMax': {'value': '10'}}


def info(skipped=()):
    return {'sshd': {'effective': {'clientaliveinterval': '300', 'clientalivecountmax': '3'}},
            'clients': {'bob': {'hosts': {'*': ALIVE}}}, 'compliant': not skipped,
            'drift': ['%s: not compliant, not audited: a FIFO' % u for u in skipped],
            'skipped_users': [{'user': u, 'path': '/home/%s/.ssh/config' % u, 'reason': 'a FIFO'} for u in skipped]}


HOSTVARS = {'web1': {'keepalive_audit': info(['mallory', 'eve']), 'group_names': ['web']},
            'web2': {'keepalive_audit': info(), 'group_names': ['web']}}


def test_skipped_users_are_named_in_each_row_and_the_csv():
    rows = FILTERS['audit_rows'](HOSTVARS, ['web1', 'web2'])
    assert [r['skipped'] for r in rows] == ['mallory eve', '']
    csv = FILTERS['audit_csv'](rows).splitlines()
    assert csv[0] == 'host,groups,profile,clientaliveinterval,clientalivecountmax,clients,compliant,skipped,drift'
    assert csv[1].startswith('web1,web,,300,3,bob[* 60/10],no,mallory eve,"mallory: not compliant')


def test_the_table_has_a_skipped_users_column_only_when_a_user_was_skipped():
    rows = FILTERS['audit_rows'](HOSTVARS, ['web1', 'web2'])
    table = FILTERS['audit_table'](rows)
    assert table[0].split() == ['host', 'groups', 'profile', 'ClientAliveInterval', 'CountMax', 'compliant',
                                'skipped', 'users', 'drifted', 'values']
    assert table[1].split() == ['web1', 'web', '300', '3', 'no', 'mallory', 'eve', 'mallory', '1,', 'eve', '1']
    assert table[-1] == 'compliant: 1/2 hosts (50%)'
    clean = FILTERS['audit_table'](FILTERS['audit_rows'](HOSTVARS, ['web2']))
    assert 'skipped users' not in clean[0]
