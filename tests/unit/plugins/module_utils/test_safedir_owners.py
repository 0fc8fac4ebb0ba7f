# -*- coding: utf-8 -*-
"""SafeDir with ``owners`` (root opening a user's home): the directory written in is the one checked."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.keepalive.ssh.plugins.module_utils.safefile import SafeDir, UnsafePath


def test_a_trusted_directory_swapped_for_a_symlink_is_not_followed(tmp_path):
    """A user who renames a symlink over their home after root's check gets ELOOP, not root's write there."""
    (tmp_path / 'elsewhere').mkdir()
    os.symlink(str(tmp_path / 'elsewhere'), str(tmp_path / 'home'))
    with pytest.raises(OSError):
        SafeDir(str(tmp_path / 'home'), '.ssh', owners=(0, os.getuid()))
    SafeDir(str(tmp_path / 'home'), '').close()  # without owners the trusted part is root's choice


@pytest.mark.parametrize('owner, mode', [(12345, 0o755), (0, 0o775), (0, 0o757)])
def test_a_trusted_directory_of_another_owner_or_writable_by_others_is_refused(tmp_path, owner, mode):
    """Root (the tests run as root, as the modules do) opens a user's home: owned by another uid, or
    writable by group or others, it is refused."""
    home = tmp_path / 'home'
    home.mkdir()
    os.chmod(str(home), mode)
    os.chown(str(home), owner, -1)
    with pytest.raises(UnsafePath):
        SafeDir(str(home), '', owners=(0, 54321))
    SafeDir(str(home), '').close()
