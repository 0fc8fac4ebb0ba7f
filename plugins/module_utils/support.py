# -*- coding: utf-8 -*-
# Copyright: keepalive.ssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the modules share around the engine: finding OpenSSH binaries, validating, diffs.

Functions take the AnsibleModule as an argument (duck-typed), so this file
imports nothing from Ansible and stays usable from plain Python.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.keepalive.ssh.plugins.module_utils.staging import Stage
from ansible_collections.keepalive.ssh.plugins.module_utils.userread import (
    TIMEOUT,
    PrivateDir,
    UserFileError,
    reduce_openssh_error,
    run_bounded,
)

# Where OpenSSH lives on the distributions we support when PATH lacks sbin.
SBIN_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin', '/usr/bin', '/usr/local/bin']


def find_binary(module, name, param, package):
    """Absolute path of an OpenSSH binary, or a failure that says how to fix it."""
    if os.path.isabs(name):
        if os.path.isfile(name) and os.access(name, os.X_OK):
            return name
        module.fail_json(msg='%s=%s is not an executable file; install %s or point %s at sshd/ssh'
                         % (param, name, package, param))
    found = module.get_bin_path(name, opt_dirs=SBIN_DIRS)
    if not found:
        module.fail_json(msg='%s binary %r not found in PATH or %s; install %s, set %s, or set validate=false'
                         % (param, name, ':'.join(SBIN_DIRS), package, param))
    return found


def validate_tree(module, tree, argv_for, identity=None, timeout=TIMEOUT, showable=None):
    """Run a validator on a staged copy of the tree; return the stdout of each command, in order.

    ``argv_for(staged_main_path)`` returns the list of commands (argv lists) to run, each killed after
    ``timeout`` seconds.  Without ``identity`` (root's own files) a rejection fails the module with
    OpenSSH's words.  With ``identity`` (a user's files) the copy is staged in a directory only that user
    can read and every command runs as the user (:func:`userread.run_bounded`), so ``Match exec`` runs as
    the user and ``Include /etc/shadow`` is refused as for their own ssh; a rejection raises
    UserFileError with OpenSSH's text reduced to file, line and reason (``showable``: see
    userread.reduce_openssh_error).
    """
    outputs = []
    private = PrivateDir(identity) if identity is not None else None
    stage = Stage(tree, tmpdir=private.path if private else module.tmpdir)
    try:
        with stage as staged:
            if private:
                private.give_away()
            for argv in argv_for(staged):
                rc, out, err = run_bounded(argv, timeout, identity)
                name = os.path.basename(argv[0])
                if rc is None:
                    msg = '%s did not finish within %d s (command_timeout)' % (name, timeout)
                    if identity is not None:
                        raise UserFileError(msg)
                    module.fail_json(msg='validation failed, nothing was changed: ' + msg, cmd=' '.join(argv))
                if rc != 0 and identity is not None:
                    raise UserFileError('%s rejected the new configuration: %s'
                                        % (name, reduce_openssh_error(err, stage.unstage, showable)))
                if rc != 0:
                    module.fail_json(
                        msg='validation failed, nothing was changed: %s rejected the new configuration: %s'
                            % (name, stage.unstage(err or out).strip()),
                        rc=rc, cmd=' '.join(argv), stderr=stage.unstage(err))
                outputs.append(out)
    finally:
        if private:
            private.remove()
    return outputs


def diff_entries(docs):
    """Ansible diff (a list: one before/after pair per changed file)."""
    return [{'before_header': d.path, 'after_header': d.path,
             'before': d.original, 'after': d.render()} for d in docs]
