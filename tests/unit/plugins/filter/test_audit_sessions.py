# -*- coding: utf-8 -*-
"""The fleet report with the live-sessions columns (audit_rows, audit_csv, audit_table)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import io

from ansible_collections.keepalive.ssh.plugins.filter.keepalive import audit_csv, audit_rows, audit_table

COUNTS = dict(sessions=4, active=1, idle_kept_alive=2, at_risk=1, unresponsive=0, clients=3, stale_clients=1,
              dead_control_sockets=2)
SERVER = [dict(user='alice', pid=42, addr='203.0.113.7', port=50022, start=1796376000, tty='pts/0', idle=1210,
               idle_human='20m10s', client_alive_interval=60, **{'class': 'idle_kept_alive'})]


def info(sessions=None):
    out = {'sshd': {'effective': {'clientaliveinterval': '60', 'clientalivecountmax': '10'}}, 'clients': {},
           'compliant': True, 'drift': []}
    if sessions is not None:
        out['sessions'] = sessions
    return out


def hostvars(**results):
    return dict((name, {'keepalive_audit': result, 'group_names': ['prod']}) for name, result in results.items())


def test_without_sessions_the_report_is_unchanged():
    rows = audit_rows(hostvars(web1=info()), ['web1'])
    assert 'sessions' not in rows[0] and 'sessions' not in rows[0]['detail']
    assert audit_csv(rows).splitlines()[0] == 'host,groups,profile,clientaliveinterval,clientalivecountmax,clients,compliant,skipped,drift'
    assert 'at risk' not in audit_table(rows)[0]


def test_sessions_add_counts_to_table_and_csv_and_rows_to_json():
    view = dict(available=True, source='inet_diag', counts=COUNTS, server=SERVER, clients=[], control_sockets=[],
                truncated=True)
    unavailable = dict(available=False, source=None, reason='neither netlink inet_diag nor /proc/net/tcp can be read')
    hv = hostvars(web1=info(view), web2=info(unavailable), web3=info())
    rows = audit_rows(hv, ['web1', 'web2', 'web3'])
    assert rows[0]['detail']['sessions']['server'] == SERVER
    assert (rows[0]['sessions'], rows[0]['sessions_kept_alive'], rows[0]['sessions_at_risk'],
            rows[0]['stale_clients'], rows[0]['sessions_truncated']) == (4, 2, 1, 1, 'yes')
    assert rows[1]['sessions'].startswith('unavailable: neither netlink') and rows[2]['sessions'] == ''
    parsed = list(csv.DictReader(io.StringIO(audit_csv(rows))))
    assert parsed[0]['sessions_at_risk'] == '1' and parsed[0]['dead_control_sockets'] == '2'
    assert parsed[1]['sessions'].startswith('unavailable') and parsed[2]['sessions_active'] == ''
    table = audit_table(rows)
    header = table[0].split('  ')
    assert [h.strip() for h in header if h.strip()][-8:] == [
        'sessions', 'active', 'kept alive', 'at risk', 'unanswered', 'stale clients', 'dead sockets', 'drifted values']
    assert table[1].split()[:2] == ['web1', 'prod'] and len(table) == 5   # header, one line per host, total
