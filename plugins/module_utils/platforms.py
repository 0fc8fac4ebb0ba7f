# -*- coding: utf-8 -*-
# Copyright: keepalive.ssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What differs between OS families for OpenSSH, in one place: service name, how to reload without a
service manager, where sshd's configuration lives (SUSE's vendor layout included) and where sshd is.

The modules use server_layout() to find the file sshd reads; the sshd role takes the service name from
platform() through the sshd_platform filter (by ansible_facts.os_family). docs/support.md says which families are tested and which are
expected to work, and why.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import fnmatch
import os

SSHD_CONFIG = '/etc/ssh/sshd_config'
# openSUSE Tumbleweed / SLE 16: the distribution's file lives in /usr/etc; /etc/ssh/sshd_config exists
# only when the admin copied it there (sshd then reads only that). The vendor file includes
# /etc/ssh/sshd_config.d/*.conf first, so a drop-in there wins over the vendor values.
VENDOR_SSHD_CONFIG = '/usr/etc/ssh/sshd_config'
DROP_IN = 'sshd_config.d/50-keepalive.conf'

# Files that distributions' stock sshd drop-ins Include: RHEL 8+, Fedora and their rebuilds ship
# sshd_config.d/50-redhat.conf with an Include of the crypto-policies back-end.
STOCK_INCLUDES = ('/etc/crypto-policies/back-ends/opensshserver.config',)

Platform = collections.namedtuple('Platform', 'service reload_command sshd sshd_config vendor_sshd_config')

PLATFORMS = {
    'Debian': Platform('ssh', 'systemctl reload ssh', '/usr/sbin/sshd', SSHD_CONFIG, None),
    'RedHat': Platform('sshd', 'systemctl reload sshd', '/usr/sbin/sshd', SSHD_CONFIG, None),
    'Suse': Platform('sshd', 'systemctl reload sshd', '/usr/sbin/sshd', SSHD_CONFIG, VENDOR_SSHD_CONFIG),
    'Alpine': Platform('sshd', 'rc-service sshd reload', '/usr/sbin/sshd', SSHD_CONFIG, None),
}
# ansible_facts.os_family values that share a family's layout (Ubuntu is Debian; Fedora, Rocky, Amazon are RedHat)
ALIASES = {'Ubuntu': 'Debian', 'Fedora': 'RedHat', 'Rocky': 'RedHat', 'AlmaLinux': 'RedHat', 'Amazon': 'RedHat',
           'openSUSE': 'Suse', 'SLES': 'Suse'}


def platform(os_family):
    """The Platform of an ansible_facts.os_family; unknown families get upstream OpenSSH's layout."""
    return PLATFORMS.get(ALIASES.get(os_family, os_family), PLATFORMS['RedHat'])


Layout = collections.namedtuple('Layout', 'main drop_in vendor_dir')


def server_layout(path, exists=os.path.exists):
    """Where sshd reads its configuration when ``path`` is the main file asked for.

    ``path`` itself when it exists. When it does not, ends in /etc/ssh/sshd_config and the vendor file
    below the same root exists (SUSE), the vendor file is what sshd reads: new lines then go to a
    drop-in in /etc/ssh/sshd_config.d and nothing below the vendor directory is edited. A temporary
    root (tests, a chroot) works the same: ROOT/etc/ssh/sshd_config → ROOT/usr/etc/ssh/sshd_config.
    """
    if exists(path) or not path.endswith(SSHD_CONFIG):
        return Layout(path, None, None)
    root = path[:-len(SSHD_CONFIG)]
    vendor = root + VENDOR_SSHD_CONFIG
    if not exists(vendor):
        return Layout(path, None, None)
    return Layout(vendor, os.path.join(os.path.dirname(path), DROP_IN), os.path.dirname(vendor))


def matcher_with(matcher, path):
    """An Include matcher that also lists ``path`` (a drop-in about to be created) where its glob matches it."""
    def match(pattern):
        found = list(matcher(pattern))
        if path not in found and fnmatch.fnmatchcase(path, pattern):
            found = sorted(found + [path])
        return found
    return match
