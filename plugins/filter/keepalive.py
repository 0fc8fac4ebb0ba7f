# -*- coding: utf-8 -*-
# Copyright: keepalive.ssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters the roles and playbooks share: which Host blocks a user gets, and the fleet audit report."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import io

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible_collections.keepalive.ssh.plugins.module_utils.plans import HOST_OPTIONS
from ansible_collections.keepalive.ssh.plugins.module_utils.platforms import platform

SERVER_COLUMNS = ('clientaliveinterval', 'clientalivecountmax')
SERVER_PROFILE_KEYS = ('client_alive_interval', 'nat_idle_timeout', 'client_alive_count_max')


def check_profiles(variable, profiles, keys):
    """Profiles are keyed by name, which a role's argument spec cannot describe: each profile's keys are
    checked here, so a misspelt one (client_alive_intervall) fails instead of being ignored."""
    for name, profile in profiles.items():
        unknown = sorted(k for k in profile if k not in keys)
        if unknown:
            raise AnsibleFilterError('%s.%s: unknown key(s) %s; a profile takes %s'
                                     % (variable, name, ', '.join(unknown), ', '.join(keys)))


def client_blocks(user, profiles, default_profiles, extra_hosts=None):
    """The Host blocks of one entry of client_keepalive_users: its profiles, then shared and own extra blocks."""
    names = user.get('profiles', default_profiles)
    unknown = [n for n in names if n not in profiles]
    if unknown:
        raise AnsibleFilterError('unknown keepalive client profile(s) %s for user %s; choose from %s'
                                 % (', '.join(unknown), user.get('name'), ', '.join(profiles)))
    return [dict(profiles[n]) for n in names] + list(extra_hosts or []) + list(user.get('hosts') or [])


def client_plan(users, profiles, default_profiles, extra_hosts=None):
    """client_keepalive_users → [{name, path, hosts, state}]: what the client role applies, and the audit expects.

    A user's file is ``path`` (the modules' name for the file they manage).
    """
    check_profiles('client_keepalive_profiles', profiles, tuple(HOST_OPTIONS))
    return [{'name': u['name'], 'path': u.get('path'), 'state': u.get('state', 'present'),
             'hosts': client_blocks(u, profiles, default_profiles, extra_hosts)} for u in users]


def client_jobs(users, profiles, default_profiles, extra_hosts=None, system_wide=False,
                system_config='/etc/ssh/ssh_config', system_profiles=('default',)):
    """The client role's module calls on a host: one for every managed user (when there are any), one for
    the system-wide file (when asked).  Each item holds the module options it sets and a ``label``.

    Neither: one call with only ``hosts`` (the default profiles and the extra blocks), which the module
    applies to the running user's own ~/.ssh/config, and, run as root, to nothing (the role passes
    ``as_root: nothing``): the role on your own machine without become needs no variable."""
    jobs = []
    if users:
        plan = client_plan(users, profiles, default_profiles, extra_hosts)
        jobs.append({'label': 'users ' + ', '.join(u['name'] for u in plan), 'users': plan})
    if boolean(system_wide, strict=False):
        hosts = client_plan([{'name': 'system', 'profiles': list(system_profiles)}], profiles, [])[0]['hosts']
        jobs.append({'label': system_config, 'system_config': system_config, 'hosts': hosts})
    if not jobs:
        hosts = client_plan([{'name': 'own'}], profiles, default_profiles, extra_hosts)[0]['hosts']
        jobs.append({'label': 'your own ~/.ssh/config (none as root)', 'hosts': hosts})
    return jobs


def server_target(profiles, profile, interval=None, count_max=None, nat_idle_timeout=None):
    """What the sshd role sets: the profile's values, overridden by explicit ones.  A NAT idle timeout (given,
    or the profile's) without an explicit interval leaves the interval to the module: it derives it from the
    period of the host's own sshd version (plugins/module_utils/timing.py), which is not known here."""
    if profile not in profiles:
        raise AnsibleFilterError('sshd_keepalive_profile=%s is not a profile; choose one of %s or add it to '
                                 'sshd_keepalive_profiles' % (profile, ', '.join(profiles)))
    check_profiles('sshd_keepalive_profiles', profiles, SERVER_PROFILE_KEYS)
    chosen = profiles[profile]
    if interval is None and nat_idle_timeout is None:  # an explicit timeout derives it over the profile's
        interval = chosen.get('client_alive_interval')
    if nat_idle_timeout is None:
        nat_idle_timeout = chosen.get('nat_idle_timeout')
    return {'client_alive_interval': interval, 'nat_idle_timeout': nat_idle_timeout,
            'client_alive_count_max': chosen.get('client_alive_count_max') if count_max is None else count_max}


def run_backups(results):
    """The backups one run of a looped sshd_keepalive task made (its registered ``results``): ``first``, each
    file's first backup (the state before the run, what a rollback restores), and ``later``, the other
    backups of the same files (a Match override changing a file the global values changed too), which
    the role removes: one backup per file per run."""
    first, later = {}, []
    for result in results:
        for path, backup in sorted((result.get('backup_files') or {}).items()):
            if path in first:
                later.append(backup)
            else:
                first[path] = backup
    return {'first': first, 'later': later}


def sshd_platform(os_family):
    """The OS family's OpenSSH facts from module_utils/platforms.py (the one table modules and roles share)."""
    return dict(platform(os_family or '')._asdict())


def _clients_summary(clients):
    parts = []
    for user, data in sorted(clients.items()):
        values = []
        for host, kv in data['hosts'].items():
            values.append('%s %s/%s' % (host, kv['ServerAliveInterval']['value'], kv['ServerAliveCountMax']['value']))
        parts.append('%s[%s]' % (user, ', '.join(values)))
    return ' '.join(parts)


# The live-sessions columns (keepalive_info's sessions option): row key → the count it shows.
SESSION_COLUMNS = (('sessions', 'sessions'), ('sessions_active', 'active'), ('sessions_kept_alive', 'idle_kept_alive'),
                   ('sessions_at_risk', 'at_risk'), ('sessions_unresponsive', 'unresponsive'),
                   ('stale_clients', 'stale_clients'), ('dead_control_sockets', 'dead_control_sockets'))


def _session_columns(info):
    """The sessions columns of one host ('' for each when its audit failed, the reason when the host could
    not tell); None without the sessions option."""
    view = info.get('sessions')
    if view is None:
        return None
    if not view.get('available'):
        return dict([(key, '') for key, _c in SESSION_COLUMNS],
                    sessions='unavailable: %s' % view.get('reason', 'unknown'), sessions_truncated='')
    cols = dict((key, view['counts'][count]) for key, count in SESSION_COLUMNS)
    cols['sessions_truncated'] = 'yes' if view.get('truncated') else 'no'
    return cols


def audit_rows(hostvars, hosts, result_var='keepalive_audit'):
    """One row per audited host, from the keepalive_info results registered as ``result_var``; with the
    live-sessions columns when some host ran with ``sessions`` (the rows of the others are blank there)."""
    rows = _audit_rows(hostvars, hosts, result_var)
    views = [_session_columns(hostvars[r['host']].get(result_var, {})) for r in rows]
    if any(v is not None for v in views):
        blank = dict([(key, '') for key, _c in SESSION_COLUMNS], sessions_truncated='')
        for row, cols in zip(rows, views):
            row.update(cols or blank)
            row['detail']['sessions'] = hostvars[row['host']].get(result_var, {}).get('sessions')
    return rows


def _audit_rows(hostvars, hosts, result_var):
    rows = []
    for name in hosts:
        hv = hostvars[name]
        if result_var not in hv:
            continue
        info = hv[result_var]
        if info.get('failed') or info.get('unreachable'):
            rows.append({'host': name, 'groups': ' '.join(hv.get('group_names', [])),
                         'profile': hv.get('sshd_keepalive_profile', ''), 'clientaliveinterval': '',
                         'clientalivecountmax': '', 'clients': '', 'compliant': 'no', 'skipped': '',
                         'drift': 'audit failed: %s' % info.get('msg', 'unreachable'), 'detail': {}})
            continue
        server = info.get('sshd', {}).get('effective', {})
        rows.append({
            'host': name,
            'groups': ' '.join(g for g in hv.get('group_names', [])),
            'profile': hv.get('sshd_keepalive_profile', ''),
            'clientaliveinterval': server.get('clientaliveinterval', ''),
            'clientalivecountmax': server.get('clientalivecountmax', ''),
            'clients': _clients_summary(info.get('clients', {})),
            'compliant': 'yes' if info.get('compliant') else 'no',
            # users whose files could not be read (their reason is in drift): named, never only counted
            'skipped': ' '.join(s['user'] for s in info.get('skipped_users', [])),
            'drift': '; '.join(info.get('drift', [])),
            'detail': {'sshd': info.get('sshd'), 'clients': info.get('clients')},
        })
    return rows


CSV_COLUMNS = ('host', 'groups', 'profile', 'clientaliveinterval', 'clientalivecountmax', 'clients', 'compliant',
               'skipped', 'drift')


def audit_csv(rows):
    columns = CSV_COLUMNS
    if any('sessions' in r for r in rows):
        columns += tuple(key for key, _c in SESSION_COLUMNS) + ('sessions_truncated',)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction='ignore', lineterminator='\n')
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _drift_summary(drift):
    """'sshd 2, kaalice 6' from the drift sentences (the full text is in the CSV and JSON)."""
    counts = {}
    for sentence in drift.split('; ') if drift else []:
        who = sentence.split(':', 1)[0]
        counts[who] = counts.get(who, 0) + 1
    return ', '.join('%s %d' % (who, n) for who, n in counts.items())


def audit_table(rows):
    """A fixed-width table for the terminal (drift as counts per source), with a compliance total; a
    column of the users left unaudited when there are any."""
    columns = (('host', 'host'), ('groups', 'groups'), ('profile', 'profile'),
               ('clientaliveinterval', 'ClientAliveInterval'), ('clientalivecountmax', 'CountMax'),
               ('compliant', 'compliant')) + (
        (('skipped', 'skipped users'),) if any(r.get('skipped') for r in rows) else ()) + (
        ('drift', 'drifted values'),)
    if any('sessions' in r for r in rows):   # the live-sessions view, before the (long) drift column
        columns = columns[:-1] + (('sessions', 'sessions'), ('sessions_active', 'active'),
                                  ('sessions_kept_alive', 'kept alive'), ('sessions_at_risk', 'at risk'),
                                  ('sessions_unresponsive', 'unanswered'), ('stale_clients', 'stale clients'),
                                  ('dead_control_sockets', 'dead sockets')) + columns[-1:]
    cells = [[str(r.get(key, '')) if key != 'drift' else _drift_summary(r[key]) for key, _t in columns] for r in rows]
    if any(r['drift'].startswith('audit failed') for r in rows):
        cells = [c if not r['drift'].startswith('audit failed') else c[:-1] + [r['drift']]
                 for c, r in zip(cells, rows)]
    widths = [max([len(title)] + [len(c[i]) for c in cells]) for i, (_k, title) in enumerate(columns)]
    lines = ['  '.join(title.ljust(w) for (_k, title), w in zip(columns, widths)).rstrip()]
    lines += ['  '.join(c.ljust(w) for c, w in zip(cell, widths)).rstrip() for cell in cells]
    ok = sum(1 for r in rows if r['compliant'] == 'yes')
    lines.append('compliant: %d/%d hosts (%d%%)' % (ok, len(rows), 100 * ok // len(rows) if rows else 0))
    return lines


class FilterModule(object):
    def filters(self):
        return {
            'client_plan': client_plan,
            'client_jobs': client_jobs,
            'server_target': server_target,
            'sshd_platform': sshd_platform,
            'run_backups': run_backups,
            'audit_rows': audit_rows,
            'audit_csv': audit_csv,
            'audit_table': audit_table,
        }
