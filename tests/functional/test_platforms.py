"""Platform layouts (plugins/module_utils/platforms.py) on scratch trees: each OS family's sshd_config
shape, and SUSE's vendor layout (/usr/etc/ssh/sshd_config, drop-ins in /etc/ssh/sshd_config.d) under a
temporary root."""
import os
import shutil

import pytest

from ansible_collections.keepalive.ssh.plugins.module_utils.platforms import PLATFORMS, Layout, server_layout
from kalib import FIXTURES, SSHD, run_module, sshd_T

# One scratch tree per family's stock layout: Debian/Ubuntu and RHEL/Fedora include sshd_config.d first,
# Alpine has one file; SUSE's vendor layout has its own tree below.
FAMILY_FIXTURES = {'Debian': 'debian12', 'RedHat': 'rhel9', 'Alpine': 'alpine'}
SUSE = os.path.join(FIXTURES, 'platforms', 'suse-tumbleweed')


def test_every_family_has_a_layout_test():
    assert set(PLATFORMS) == set(FAMILY_FIXTURES) | {'Suse'}


@pytest.mark.parametrize('family', sorted(FAMILY_FIXTURES))
def test_family_layout(family, sshd_tree, hostkey):
    config = sshd_tree(FAMILY_FIXTURES[family])
    config.write_text('HostKey %s\n' % hostkey + config.read_text())
    assert server_layout(str(config)) == Layout(str(config), None, None)
    args = dict(path=str(config), include_base=str(config.parent), sshd_binary=SSHD,
                client_alive_interval=45, client_alive_count_max=5)
    result = run_module('sshd_keepalive', args)
    assert result['changed'] and not result.get('failed'), result
    effective = sshd_T(config, hostkey)
    assert (effective['clientaliveinterval'], effective['clientalivecountmax']) == ('45', '5')
    assert run_module('sshd_keepalive', args)['changed'] is False


def suse_root(tmp_path, hostkey):
    """SUSE's layout below tmp_path: the vendor tree with its absolute paths pointing into the root,
    the admin's empty /etc/ssh/sshd_config.d, no /etc/ssh/sshd_config."""
    root = tmp_path / 'root'
    shutil.copytree(SUSE, str(root))
    for dirpath, _dirs, files in os.walk(str(root)):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path) as f:
                text = f.read()
            text = text.replace('/usr/etc/ssh', '@VENDOR@').replace('/etc/ssh', str(root / 'etc' / 'ssh'))
            with open(path, 'w') as f:
                f.write(text.replace('@VENDOR@', str(root / 'usr' / 'etc' / 'ssh')))
    vendor = root / 'usr' / 'etc' / 'ssh' / 'sshd_config'
    vendor.write_text('HostKey %s\n' % hostkey + vendor.read_text())
    (root / 'etc' / 'ssh' / 'sshd_config.d').mkdir(parents=True)
    return root


def suse_args(root, **kw):
    return dict(dict(path=str(root / 'etc' / 'ssh' / 'sshd_config'), include_base=str(root / 'etc' / 'ssh'),
                     sshd_binary=SSHD, client_alive_interval=60, client_alive_count_max=10), **kw)


def vendor_files(root):
    out = {}
    for dirpath, _dirs, files in os.walk(str(root / 'usr')):
        for name in files:
            with open(os.path.join(dirpath, name), 'rb') as f:
                out[os.path.join(dirpath, name)] = f.read()
    return out


def test_suse_vendor_layout_gets_a_drop_in(tmp_path, hostkey):
    root = suse_root(tmp_path, hostkey)
    vendor = root / 'usr' / 'etc' / 'ssh' / 'sshd_config'
    drop_in = root / 'etc' / 'ssh' / 'sshd_config.d' / '50-keepalive.conf'
    before = vendor_files(root)
    assert server_layout(suse_args(root)['path']) == Layout(str(vendor), str(drop_in), str(vendor.parent))
    result = run_module('sshd_keepalive', suse_args(root))
    assert result['changed'] and result['files'] == [str(drop_in)], result
    assert vendor_files(root) == before  # the distribution's files are never edited
    assert not (root / 'etc' / 'ssh' / 'sshd_config').exists()
    effective = sshd_T(vendor, hostkey)
    assert (effective['clientaliveinterval'], effective['clientalivecountmax']) == ('60', '10')
    # the vendor drop-in's ClientAliveCountMax 3 is shadowed by the admin's drop-in, read first
    assert result['effective']['ClientAliveCountMax']['file'] == str(drop_in)
    assert any('40-vendor-example.conf' in s['file'] for s in result['effective']['ClientAliveCountMax']['shadowed'])
    assert run_module('sshd_keepalive', suse_args(root))['changed'] is False
    info = run_module('keepalive_info', dict(path=suse_args(root)['path'], include_base=str(root / 'etc' / 'ssh'),
                                             sshd_binary=SSHD, system_config=''))
    assert info['sshd']['effective']['clientaliveinterval'] == '60', info
    assert info['sshd']['sources']['ClientAliveInterval']['file'] == str(drop_in), info


def test_suse_vendor_value_after_the_includes_is_overridden_not_edited(tmp_path, hostkey):
    root = suse_root(tmp_path, hostkey)
    vendor = root / 'usr' / 'etc' / 'ssh' / 'sshd_config'
    vendor.write_text(vendor.read_text() + 'ClientAliveInterval 300\n')
    before = vendor_files(root)
    result = run_module('sshd_keepalive', suse_args(root))
    assert result['changed'] and vendor_files(root) == before, result
    assert sshd_T(vendor, hostkey)['clientaliveinterval'] == '60'


def test_suse_vendor_value_before_the_includes_is_a_clear_error(tmp_path, hostkey):
    root = suse_root(tmp_path, hostkey)
    vendor = root / 'usr' / 'etc' / 'ssh' / 'sshd_config'
    text = vendor.read_text()
    vendor.write_text(text.replace('Include ', 'ClientAliveInterval 300\nInclude ', 1))
    before = vendor_files(root)
    result = run_module('sshd_keepalive', suse_args(root))
    assert result['failed'] and 'ClientAliveInterval' in result['msg'] and 'to own the whole file' in result['msg']
    assert vendor_files(root) == before
    assert os.listdir(str(root / 'etc' / 'ssh' / 'sshd_config.d')) == []


def test_suse_admin_copy_is_used_when_present(tmp_path, hostkey):
    root = suse_root(tmp_path, hostkey)
    own = root / 'etc' / 'ssh' / 'sshd_config'
    shutil.copy(str(root / 'usr' / 'etc' / 'ssh' / 'sshd_config'), str(own))
    assert server_layout(str(own)) == Layout(str(own), None, None)
    result = run_module('sshd_keepalive', suse_args(root))
    assert result['changed'] and str(own) in result['files'], result


def test_missing_config_names_both_places(tmp_path):
    result = run_module('sshd_keepalive', dict(path=str(tmp_path / 'etc' / 'ssh' / 'sshd_config'),
                                               client_alive_interval=60))
    assert result['failed'] and 'does not exist' in result['msg'] and '/usr/etc/ssh/sshd_config' in result['msg']
