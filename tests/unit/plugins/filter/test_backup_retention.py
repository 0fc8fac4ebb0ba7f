# -*- coding: utf-8 -*-
"""Backups: the newest N per file are kept, nothing but a file's own backups is ever removed."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.keepalive.ssh.plugins.filter.keepalive import run_backups
from ansible_collections.keepalive.ssh.plugins.module_utils.safefile import SafeDir, prune_backups, stale_backups

NAMES = ['config.900.2026-12-01@02:00:00~', 'config.12.2026-12-02@02:00:00~', 'config.5.2026-12-03@02:00:00~',
         'config', 'config.bak', 'config.7.2026-12-03@02:00:00', 'other.1.2026-11-01@02:00:00~',
         'config.d.1.2026-11-01@02:00:00~']


def test_the_newest_n_backups_of_the_file_stay():
    assert stale_backups('config', NAMES, 2) == ['config.900.2026-12-01@02:00:00~']
    assert stale_backups('config', NAMES, 1) == ['config.900.2026-12-01@02:00:00~', 'config.12.2026-12-02@02:00:00~']
    assert stale_backups('config', NAMES, 0) == []  # 0 keeps all
    assert stale_backups('config', NAMES, 5) == []


def test_prune_removes_only_old_backups(tmp_path):
    for name in NAMES:
        (tmp_path / name).write_text('x')
    prune_backups(str(tmp_path), 'config', 1)
    assert sorted(os.listdir(str(tmp_path))) == sorted(n for n in NAMES if n not in (
        'config.900.2026-12-01@02:00:00~', 'config.12.2026-12-02@02:00:00~'))
    with SafeDir(str(tmp_path)) as directory:
        directory.prune('other', 0)
        directory.prune('config.d', 1)
    assert 'other.1.2026-11-01@02:00:00~' in os.listdir(str(tmp_path))


def test_one_run_keeps_each_files_first_backup():
    results = [{'backup_files': {'/etc/ssh/sshd_config': '/etc/ssh/sshd_config.1.a~'}},
               {'changed': False},
               {'backup_files': {'/etc/ssh/sshd_config': '/etc/ssh/sshd_config.2.b~',
                                 '/etc/ssh/sshd_config.d/x.conf': '/etc/ssh/sshd_config.d/x.conf.2.b~'}}]
    assert run_backups(results) == {
        'first': {'/etc/ssh/sshd_config': '/etc/ssh/sshd_config.1.a~',
                  '/etc/ssh/sshd_config.d/x.conf': '/etc/ssh/sshd_config.d/x.conf.2.b~'},
        'later': ['/etc/ssh/sshd_config.2.b~']}
