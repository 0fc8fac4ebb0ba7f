# -*- coding: utf-8 -*-
"""The sshd role's handlers: no include on the happy path (each include costs a round per host)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import yaml

HANDLERS = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles', 'sshd', 'handlers', 'main.yml')
INCLUDES = ('include_tasks', 'ansible.builtin.include_tasks', 'include_role', 'ansible.builtin.include_role',
            'import_tasks', 'ansible.builtin.import_tasks')
FAILURE_WORDS = ('is failed', '.failed', '.rc')


def test_handlers_include_tasks_only_after_a_failure():
    with open(HANDLERS) as f:
        handlers = yaml.safe_load(f)
    included = [h for h in handlers if any(k in h for k in INCLUDES)]
    assert [h['name'] for h in included] == ['Explain why sshd could not be reloaded',
                                             'Roll back when sshd refuses new logins']
    for handler in included:
        conditions = handler['when'] if isinstance(handler['when'], list) else [handler['when']]
        assert any(word in c for c in conditions for word in FAILURE_WORDS), handler['name']
