"""Make ``ansible_collections.keepalive.ssh`` importable when pytest runs from the repository.

ansible-test runs the tests from a real ansible_collections/keepalive/ssh tree;
plain pytest runs them from this checkout, so a symlink tree is made under
.build/ (the same one the Makefile uses for ANSIBLE_COLLECTIONS_PATH).
"""
import os
import sys

try:
    import ansible_collections.keepalive.ssh  # noqa: F401  pylint: disable=unused-import
except ImportError:
    ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    BASE = os.path.join(ROOT, '.build')
    LINK = os.path.join(BASE, 'ansible_collections', 'keepalive', 'ssh')
    if not os.path.lexists(LINK):
        os.makedirs(os.path.dirname(LINK), exist_ok=True)
        os.symlink(ROOT, LINK)
    sys.path.insert(0, BASE)
