# -*- coding: utf-8 -*-
# Copyright: keepalive.ssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fail early, with a clear message, on a target Python older than the collection supports.

Every module imports this first. This file parses on Python 2.7, so an old interpreter gets this
message (as a module failure) instead of a SyntaxError from the engine, which is Python 3 only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import sys

# Oldest target Python the modules run on (a test of the source repository runs them there).
MIN_PYTHON = (3, 6)


def unsupported(version_info=None, executable=None):
    """The failure message for an interpreter older than MIN_PYTHON, else None."""
    version_info = version_info or sys.version_info
    if tuple(version_info[:2]) >= MIN_PYTHON:
        return None
    return ('keepalive.ssh modules need Python %d.%d or newer on the target, but %s is Python %d.%d; set '
            'ansible_python_interpreter for this host to a Python 3 interpreter (e.g. /usr/bin/python3)'
            % (MIN_PYTHON + (executable or sys.executable,) + tuple(version_info[:2])))


_MESSAGE = unsupported()
if _MESSAGE:
    # AnsibleModule.fail_json needs the module's arguments parsed first; this runs before that
    sys.stdout.write(json.dumps({'failed': True, 'msg': _MESSAGE}) + '\n')
    raise SystemExit(1)
