# -*- coding: utf-8 -*-
# Copyright: keepalive.ssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A private copy of a whole Include tree, for validating candidates before any real file changes.

``sshd -t -f main`` on the real path would read the *old* drop-ins, and a
flattened copy would change Include/Match semantics.  So every file of the
tree is copied under a scratch root with its Include arguments pointed at the
copies; the copy is what ``sshd -t`` / ``ssh -G`` check.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import tempfile

from ansible_collections.keepalive.ssh.plugins.module_utils.sshconf import Line, quote_arg


class Stage:
    """Context manager: ``with Stage(tree) as main_copy:`` then run the validator on ``main_copy``."""

    def __init__(self, tree, tmpdir=None, original=False):
        """``original``: stage the files as they were read, not as edited (to judge the edit against)."""
        self.tree = tree
        self.tmpdir = tmpdir
        self.original = original
        self.root = None

    def path(self, real):
        return self.root + os.path.abspath(real)

    def _render(self, doc):
        out = []
        for line in (doc.loaded_lines() if self.original else doc.lines):
            if line.kind == 'directive' and line.key == 'include':
                staged = Line(line.text, line.eol)
                staged.set_value(' '.join(quote_arg(self.path(self.tree.resolve(a))) for a in line.args))
                line = staged
            out.append(line.render())
        return ''.join(out)

    def __enter__(self):
        self.root = tempfile.mkdtemp(prefix='keepalive-stage-', dir=self.tmpdir)
        for real in self.tree.files():
            doc = self.tree.docs[real]
            target = self.path(real)
            os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, 'wb') as f:
                f.write(self._render(doc).encode(doc.encoding))
        return self.path(self.tree.path)

    def unstage(self, text):
        """Tool output names the staged copies; show users the real paths."""
        return text.replace(self.root, '') if self.root else text

    def __exit__(self, *exc):
        shutil.rmtree(self.root, ignore_errors=True)
        return False
