# -*- coding: utf-8 -*-
# Copyright: keepalive.ssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sshd_keepalive: decide an unchanged run on the controller, else run the module (see plugin_utils/noop_action.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.keepalive.ssh.plugins.module_utils.plans import (
    SERVER_SPEC,
    needs_sshd_version,
    plain,
    server_plan,
    server_result,
    server_settings,
    server_warnings,
    validation,
)
from ansible_collections.keepalive.ssh.plugins.module_utils.platforms import STOCK_INCLUDES
from ansible_collections.keepalive.ssh.plugins.module_utils.sshconf import SSHD
from ansible_collections.keepalive.ssh.plugins.plugin_utils.noop_action import NoOpAwareAction, warm_filter_plugins
from ansible_collections.keepalive.ssh.plugins.plugin_utils.snapshot import Unsupported, ancestors


warm_filter_plugins('keepalive.ssh.server_target')  # the role's task uses it (see warm_filter_plugins)


class ActionModule(NoOpAwareAction):

    MODULE = 'keepalive.ssh.sshd_keepalive'
    SPEC = SERVER_SPEC

    def first_requests(self, params):
        # the main file, its directory, the drop-in directory most distributions include first and the
        # files other distributions' stock drop-ins include: one round for most hosts
        # (with the owners and modes of the directories on the way: root's shell reads only a tree root
        # alone controls, as the module does, see plan)
        dirs = [os.path.dirname(params['path']), self._drop_ins(params)] + [os.path.dirname(p) for p in STOCK_INCLUDES]
        return [('f', params['path']), ('f', os.path.dirname(params['path']) or '.'),
                ('d', self._drop_ins(params))] + [('f', p) for p in STOCK_INCLUDES] + [
            ('o', d) for d in dict.fromkeys(d for top in dirs for d in [top] + ancestors(top) if plain(d))]

    def prepare(self, snapshot, params):
        snapshot.expect_include(os.path.join(self._drop_ins(params), '*.conf'))

    @staticmethod
    def _drop_ins(params):
        return os.path.join(params['include_base'], 'sshd_config.d')

    def plan(self, params, snapshot, diff):
        if needs_sshd_version(params):
            raise Unsupported("nat_idle_timeout / dead_peer_timeout: they depend on the host's sshd version")
        settings = server_settings(params)
        validation(params)  # a bad validate: the module says what is wrong
        snapshot.regular_file(params['path'])  # the module's checks: exists, not a directory
        snapshot.real_dir(os.path.dirname(params['path']) or '.')
        # sshd -T reads the tree as root: the module refuses one a user controls (plans.roots_reader),
        # so root's shell reads only one root alone controls, and leaves the rest to the module
        tree, report = server_plan(params, settings, **snapshot.reader(SSHD, root_only=True))
        if tree.changed_docs():
            return None
        result = server_result(params, settings, tree, report)
        warnings = server_warnings(params, settings) + report.warnings
        if warnings:
            result['warnings'] = warnings
        if diff:
            result['diff'] = []
        return result
