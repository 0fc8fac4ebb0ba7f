# -*- coding: utf-8 -*-
# Copyright: keepalive.ssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""client_keepalive: decide an unchanged run on the controller, else run the module (see plugin_utils/noop_action.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import os

from ansible_collections.keepalive.ssh.plugins.module_utils.plans import (
    CLIENT_SPEC,
    ClientPlan,
    client_result,
    client_warnings,
    host_specs,
    jobs,
    nothing_as_root,
    own_file_wanted,
    parse_mode,
    target,
    validation,
)
from ansible_collections.keepalive.ssh.plugins.module_utils.sshconf import SSH
from ansible_collections.keepalive.ssh.plugins.plugin_utils.noop_action import NoOpAwareAction, warm_filter_plugins
from ansible_collections.keepalive.ssh.plugins.plugin_utils.snapshot import Unsupported, ancestors


warm_filter_plugins('keepalive.ssh.client_jobs')  # the role's task uses it (see warm_filter_plugins)


class ActionModule(NoOpAwareAction):

    MODULE = 'keepalive.ssh.client_keepalive'
    SPEC = CLIENT_SPEC

    @staticmethod
    def _forms(params):
        return [(u['name'], u['path']) for u in params['users']] if params['users'] else [
            (params['user'], params['path'])]

    @staticmethod
    def _prefetch(forms):
        """[(user, paths)] read as each user in the first round: a given config file, its directory and the
        one above (for home/.ssh/config, the module's walk).  A path in two users' lists is left to later
        rounds: a user's shell answers only for what is that user's alone."""
        wanted = [(user, [path, os.path.dirname(path), os.path.dirname(os.path.dirname(path))])
                  for user, path in forms if user and path]
        users = collections.defaultdict(set)
        for user, paths in wanted:
            for p in paths:
                users[p].add(user)
        return [(user, [p for p in paths if p not in ('', '/') and len(users[p]) == 1]) for user, paths in wanted]

    def first_requests(self, params):
        # the users, and a given config file with its directories: one round for most hosts
        forms = self._forms(params)
        # (a path without user: its directories' owners only: the probe reads it only where root alone
        # controls it)
        return [('u', user) for user, _path in forms if user] + [
            ('f', p) for _user, paths in self._prefetch(forms) for p in paths] + [
            ('o', p) for user, path in forms if not user for p in ancestors(path)]

    def prepare(self, snapshot, params):
        for user, paths in self._prefetch(self._forms(params)):
            snapshot.read_as_named(paths, user)

    @staticmethod
    def _roots_own(snapshot, path):
        """A path given without user: the probe (root) reads it only where no other user can change what
        the path names (snapshot.root_controlled) and the file is root's.  Anything else the module
        reads, as the file's owner (plans.adopt_owner)."""
        snapshot.root_controlled(os.path.dirname(path))
        entry = snapshot.entry(path)
        if entry.kind == 'file' and entry.uid != 0:
            raise Unsupported('%s belongs to uid %s: the module reads it as its owner' % (path, entry.uid))

    @staticmethod
    def _apart(todo, walks):
        """Each user's files are read as that user alone: two users' trusted directories must not meet or
        nest (the probe could not tell whose shell answers for them)."""
        tops = [(job['user'], dirs[0]) for (job, _specs), (dirs, _path, _mode) in zip(todo, walks) if job['user']]
        for user, top in tops:
            for other, other_top in tops:
                if user != other and (top == other_top or top.startswith(other_top.rstrip('/') + '/')):
                    raise Unsupported('%s and %s share %s: the module reads each as its owner' % (user, other, other_top))

    @staticmethod
    def _walk(where):
        """The module's SafeDir walk: the trusted directory and each one below it, then the file."""
        trusted, relative, _uid, _gid, default_mode = where
        dirs = [trusted]
        for part in os.path.dirname(relative).split('/'):
            if part:
                dirs.append(os.path.join(dirs[-1], part))
        return dirs, os.path.join(trusted, relative), default_mode

    @staticmethod
    def _host_user():
        """jobs()'s ``me``: whom the module runs as is the host's to say, not the controller's."""
        raise Unsupported('the module knows whom it runs as')

    def _root_for_sure(self):
        """The module will run as root: become to root by a method that switches users, or a local connection
        from a controller running as root without become.  Anything else only the host can tell."""
        context = getattr(self, '_play_context', None)
        if context is None:
            return False
        if context.become:
            return context.become_method in ('sudo', 'su', 'doas') and (context.become_user or 'root') == 'root'
        return getattr(self._connection, 'transport', None) == 'local' and os.geteuid() == 0

    def plan(self, params, snapshot, diff):
        if own_file_wanted(params):
            # whose own file is the host's to say (jobs: the running user's, or as root an error or nothing)
            if params['as_root'] == 'nothing' and self._root_for_sure():
                return nothing_as_root()
            raise Unsupported('no user, path, system_config or users: the module knows whom it runs as')
        if params['system_config']:
            raise Unsupported('system_config: the drop-in choice reads the host directly')
        validation(params)  # a bad validate: the module says what is wrong
        todo = [(job, host_specs(job['hosts'], job['state'], params, job['prefix'])) for job in jobs(params, self._host_user)]
        snapshot.require([('u', job['user']) for job, _specs in todo if job['user']])
        wheres = [target(job, params['drop_in'], getpwnam=snapshot.getpwnam, ids=(None, None)) for job, _specs in todo]
        walks = [self._walk(where) for where in wheres]
        self._apart(todo, walks)
        for (job, _specs), where, (dirs, _path, _mode) in zip(todo, wheres, walks):
            if job['user']:
                snapshot.read_as(dirs[0], where[2], where[3])  # a user's files only ever as the user
        snapshot.require([('o', d) for job, _specs in todo if not job['user'] for d in ancestors(job['path'])])
        for job, _specs in todo:
            if not job['user']:
                self._roots_own(snapshot, job['path'])
        snapshot.require([('f', p) for dirs, path, _mode in walks for p in dirs + [path]])
        results, warnings = [], []
        for (job, specs), (dirs, path, default_mode) in zip(todo, walks):
            for directory in dirs:
                snapshot.real_dir(directory)
            entry = snapshot.regular_file(path)
            # what a user controls is read only below their home (the trusted directory); a file given
            # without user, and what it includes, only through directories only root controls
            plan = ClientPlan(job, specs, path, entry.mode, parse_mode(job['mode']), default_mode,
                              **snapshot.reader(SSH, dirs[0] if job['user'] else None, root_only=not job['user']))
            if plan.changed:
                return None
            result = plan.result()
            if diff:
                result['diff'] = []
            results.append(result)
            warnings.extend(client_warnings(job, specs) + plan.warnings())
        result = client_result(params, results)
        if warnings:
            result['warnings'] = warnings
        return result
