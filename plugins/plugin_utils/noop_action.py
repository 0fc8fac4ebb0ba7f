# -*- coding: utf-8 -*-
# Copyright: keepalive.ssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugins that skip the module when it would change nothing.

Like ``copy`` and ``template`` compare checksums before transferring, the
keepalive actions first read the managed files over the connection with a
plain shell command (plugin_utils/snapshot.py) and run the module's own
decision (module_utils/plans.py) on the controller.  Only an unchanged result
ends there; anything else (a change, an error, input the snapshot cannot
judge exactly) runs the module, which reads, validates and writes as always.
A nightly run on a converged fleet then starts no Python on the hosts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible_collections.keepalive.ssh.plugins.module_utils.keepalive import InputError
from ansible_collections.keepalive.ssh.plugins.module_utils.plans import JobError
from ansible_collections.keepalive.ssh.plugins.module_utils.sshconf import ConfigError
from ansible_collections.keepalive.ssh.plugins.module_utils.userread import MAX_BYTES, TIMEOUT, printable, shown
from ansible_collections.keepalive.ssh.plugins.plugin_utils.snapshot import Snapshot, Unsupported, decide

display = Display()


def warm_filter_plugins(name):
    """Load the Jinja filter plugins in this process: ``name`` (a filter of ours) and, as ansible-core does
    on any filter lookup, every builtin one.

    The roles' tasks template our filters in each worker, and a worker that finds the filter plugins
    not loaded loads them all again (tens of ms of CPU each, most of a no-op run's controller time).
    Strategies import a task's action plugin in the controller's main process before they fork its
    workers: called at import, this loads them once there and every worker inherits them.
    """
    try:
        from ansible.plugins.loader import filter_loader  # pylint: disable=import-outside-toplevel
        filter_loader.get(name)
    except Exception:  # pylint: disable=broad-exception-caught
        pass  # only a head start: a worker that needs the filter loads it and reports any error itself


def _plain(value):
    """No '~' or '$': the module expands those on the host, the controller must not."""
    if isinstance(value, dict):
        return all(_plain(v) for v in value.values())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return not isinstance(value, str) or ('~' not in value and '$' not in value)


def unshared_copy(value):
    """A copy in which no dict or list appears twice.

    validate() fills defaults into nested dicts in place: on a shared one (two users given the same
    host list) the second pass would see the first's filled-in None as given.  The module gets its
    args through JSON, which never shares, and the task's own args must stay as given.
    """
    if isinstance(value, dict):
        return dict((k, unshared_copy(v)) for k, v in value.items())
    if isinstance(value, list):
        return [unshared_copy(v) for v in value]
    return value


class NoOpAwareAction(ActionBase):
    """Subclasses set MODULE, SPEC (the module's AnsibleModule keywords) and implement plan()."""

    MODULE = None
    SPEC = None
    _supports_check_mode = True
    _supports_async = True

    def first_requests(self, params):
        """What to read in the first round, so most hosts need one round."""
        return []

    def prepare(self, snapshot, params):
        """Tell the snapshot, before the first round, as whom paths are read (see snapshot.read_as_named)."""

    def plan(self, params, snapshot, diff):
        """The module's unchanged result from ``snapshot``, or None when it would change something."""
        raise NotImplementedError

    def run(self, tmp=None, task_vars=None):
        result = super(NoOpAwareAction, self).run(tmp, task_vars)
        del tmp
        unchanged = self._unchanged_result()
        if unchanged is not None:
            result.update(unchanged)
            return result
        # as ansible.builtin's normal action: async tasks start the module wrapped in async_wrapper
        wrap_async = bool(self._task.async_val) and not self._connection.has_native_async
        result.update(self._execute_module(module_name=self.MODULE, module_args=self._task.args,
                                           task_vars=task_vars, wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _unchanged_result(self):
        # an async task is the module's job (the caller polls it with async_status)
        if self._task.async_val or getattr(self._connection._shell, 'SHELL_FAMILY', '') != 'sh':
            return None
        params = self.validated(self._task.args)
        if params is None:
            return None
        result, why, snapshot = self.decision(params, self._probe, self._task.diff)
        if result is None:
            display.vvv('%s: running the module (%s)' % (self.MODULE, why), host=self._play_context.remote_addr)
            return None
        display.vvv('%s: nothing to change, decided on the controller from %d paths read in %d round(s); '
                    'no module run' % (self.MODULE, len(snapshot.files), snapshot.rounds),
                    host=self._play_context.remote_addr)
        result['invocation'] = dict(module_args=params)
        return result

    def validated(self, args):
        """The module's parameters for ``args``, or None when only the module can judge them."""
        if not _plain(args):
            return None
        validation = ArgumentSpecValidator(**self.SPEC).validate(unshared_copy(args))
        if validation.error_messages:
            return None  # the module says what is wrong, in its words
        return validation.validated_parameters

    def decision(self, params, run, diff):
        """(the module's unchanged result or None, why not, the snapshot); ``run(script)`` → (rc, stdout)."""
        snapshot = Snapshot(run, params.get('max_file_size') or MAX_BYTES, params.get('command_timeout') or TIMEOUT)
        self.prepare(snapshot, params)
        try:
            result = decide(snapshot, lambda snap: self.plan(params, snap, diff), self.first_requests(params))
        except (Unsupported, InputError, JobError, ConfigError, KeyError) as e:
            return None, printable(e), snapshot  # it may name a user's file
        except Exception as e:  # pylint: disable=broad-exception-caught
            # a fault of ours in the shortcut must never fail a host: the module decides, as without it
            return None, 'internal error (%s)' % type(e).__name__, snapshot
        # what the module would print, as the module prints it (support.escaped)
        return (None if result is None else shown(result)), 'it would change something', snapshot

    def _probe(self, script):
        res = self._low_level_execute_command(script, sudoable=True, executable='/bin/sh')
        return res['rc'], res['stdout']
