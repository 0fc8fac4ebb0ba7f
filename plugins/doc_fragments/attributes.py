# -*- coding: utf-8 -*-
# Copyright: keepalive.ssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The modules' ``attributes``, written once: the shared descriptions, then one set of supports per kind of module.

A module extends ``keepalive.ssh.attributes`` and one of ``.writer`` (the modules that edit files through
an action plugin of the same name) or ``.info`` (the read-only module).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options: {}
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in diff mode), when in diff mode.
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
  async:
    description: Supports being used with the C(async) keyword.
'''

    WRITER = r'''
options: {}
attributes:
  check_mode:
    support: full
    details: Check mode runs the same edit and validation and returns the same diff, without writing.
  diff_mode:
    support: full
  action:
    support: full
    details:
      - The action plugin of the same name reads the managed files with one POSIX shell command and runs the
        module's own decision on the controller; a run that would change nothing returns there, without
        starting Python on the host. Anything it cannot judge exactly (a change, an error, a symlink)
        runs the module.
  async:
    support: full
    details:
      - With C(async) the action plugin always runs the module (through ansible's async wrapper, as for any
        module); poll it with M(ansible.builtin.async_status) when C(poll=0).
'''

    INFO = r'''
options: {}
attributes:
  check_mode:
    support: full
    details: Never changes anything; runs the same in check mode.
  diff_mode:
    support: none
  action:
    support: none
  async:
    support: full
'''
