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


def validate_tree(module, tree, argv_for):
    """Run a validator on a staged copy of the tree; fail with OpenSSH's own words on error.

    ``argv_for(staged_main_path)`` returns the list of commands (argv lists)
    to run.  Returns the stdout of each, in order.
    """
    outputs = []
    stage = Stage(tree, tmpdir=module.tmpdir)
    with stage as staged:
        for argv in argv_for(staged):
            rc, out, err = module.run_command(argv, environ_update={'LC_ALL': 'C'})
            if rc != 0:
                module.fail_json(
                    msg='validation failed, nothing was changed: %s rejected the new configuration: %s'
                        % (os.path.basename(argv[0]), stage.unstage(err or out).strip()),
                    rc=rc, cmd=' '.join(argv), stderr=stage.unstage(err))
            outputs.append(out)
    return outputs


def diff_entries(docs):
    """Ansible diff (a list: one before/after pair per changed file)."""
    return [{'before_header': d.path, 'after_header': d.path,
             'before': d.original, 'after': d.render()} for d in docs]
