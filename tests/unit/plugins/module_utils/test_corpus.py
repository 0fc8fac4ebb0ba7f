# -*- coding: utf-8 -*-
"""Every fixture of the corpus: lines the edit does not manage survive byte for byte; a rerun is a no-op."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import os
import sys

import pytest

from ansible_collections.keepalive.ssh.plugins.module_utils.keepalive import HostSpec, apply_client, apply_server
from ansible_collections.keepalive.ssh.plugins.module_utils.sshconf import SSH, SSHD, Document, Tree

HERE = os.path.dirname(__file__)
FIXTURES = os.path.join(HERE, '..', '..', '..', 'fixtures')
sys.path.insert(0, os.path.join(HERE, '..', '..', '..', '..', 'tools'))

from fleet import copy_fixture  # noqa: E402  pylint: disable=wrong-import-position

SERVER = {'ClientAliveInterval': 60, 'ClientAliveCountMax': 10}
SERVER_KEYS = set(k.lower() for k in SERVER)
CLIENT = [HostSpec(('bastion',), {'ServerAliveInterval': 30, 'ServerAliveCountMax': 20}),
          HostSpec(('prod-*',), {'ServerAliveInterval': 120, 'ServerAliveCountMax': 5}),
          HostSpec(('*.internal',), {'ServerAliveInterval': 30, 'ProxyJump': 'bastion'}),
          HostSpec(('*',), {'ServerAliveInterval': 60, 'ServerAliveCountMax': 10})]
CLIENT_KEYS = set(k.lower() for s in CLIENT for k in s.settings)


def fixtures(kind):
    return sorted(os.listdir(os.path.join(FIXTURES, kind)))


def unmanaged(doc, keys):
    """(text, eol) of every line that is not a managed keyword; the last line's eol may be added by an edit."""
    out = [(line.text, line.eol) for line in doc.lines if line.key not in keys]
    return out


def reload_tree(tree, dialect, base_dir=None):
    rendered = dict((p, tree.docs[p].render()) for p in tree.order)
    return Tree(tree.path, dialect, base_dir=base_dir,
                loader=lambda p: Document(rendered[p], dialect, p) if p in rendered else Document.load(p, dialect))


@pytest.mark.parametrize('name', fixtures('sshd'))
def test_server_edit_keeps_every_other_line(tmp_path, name):
    dest = str(tmp_path / name)
    copy_fixture(os.path.join(FIXTURES, 'sshd', name), dest)
    tree = Tree(os.path.join(dest, 'sshd_config'), SSHD, base_dir=dest)
    originals = dict((p, Document(tree.docs[p].original, SSHD, p)) for p in tree.files())
    apply_server(tree, SERVER)
    for path, before in originals.items():
        after = tree.docs[path]
        old, new = unmanaged(before, SERVER_KEYS), unmanaged(after, SERVER_KEYS)
        if old and not old[-1][1]:  # no final newline: appending after it adds one, nothing else
            old[-1] = (old[-1][0], new[len(old) - 1][1])
        assert new == old, path
    again = reload_tree(tree, SSHD, base_dir=dest)
    apply_server(again, SERVER)
    assert again.changed_docs() == []


@pytest.mark.parametrize('name', fixtures('ssh'))
def test_client_edit_keeps_every_other_line(tmp_path, name):
    dest = str(tmp_path / name)
    copy_fixture(os.path.join(FIXTURES, 'ssh', name), dest)
    tree = Tree(os.path.join(dest, 'config'), SSH)
    before = Document(tree.main.original, SSH)
    apply_client(tree, CLIENT)

    def lines(doc):  # Host blocks may move, so compare as a multiset; blank separators may be added
        return collections.Counter(t for t in unmanaged(doc, CLIENT_KEYS) if t[0].strip())

    old, new = lines(before), lines(tree.main)
    added_headers = collections.Counter(('Host %s' % s.pattern, '\r\n' if '\r\n' in tree.main.original else '\n')
                                        for s in CLIENT)
    assert not old - new, 'lines lost: %s' % (old - new)
    assert not (new - old) - added_headers, 'unexpected lines: %s' % ((new - old) - added_headers)
    again = reload_tree(tree, SSH)
    apply_client(again, CLIENT)
    assert not again.main.changed
