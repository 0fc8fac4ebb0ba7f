"""Any error in one user's job, also one nobody foresaw, skips that user; it never fails the host (review
finding 10) and its text never reaches the result (an exception's text could quote a file)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.keepalive.ssh.plugins.modules import client_keepalive

HOSTS = [dict(pattern='*', server_alive_interval=60)]


def run(capsys, monkeypatch, **args):
    def run_job(module, job, specs, where, command):
        if job['user'] == 'root':
            raise OSError(13, 'Permission denied', '/root/.ssh')
        raise RuntimeError('SECRET line of some file')
    monkeypatch.setattr(client_keepalive, 'run_job', run_job)
    with patch_module_args(dict(users=[dict(name='root', hosts=HOSTS), dict(name='nobody', hosts=HOSTS)],
                                _ansible_check_mode=True, **args)):
        with pytest.raises(SystemExit):
            client_keepalive.main()
    return json.loads(capsys.readouterr().out)


def test_unforeseen_errors_skip_the_user(capsys, monkeypatch):
    result = run(capsys, monkeypatch)
    assert not result.get('failed'), result
    reasons = dict((s['user'], s['reason']) for s in result['skipped_users'])
    assert reasons['root'] == ('internal error (PermissionError: Permission denied (/root/.ssh)); the user was '
                               'skipped. Please report this')
    assert reasons['nobody'].startswith('internal error (RuntimeError)')
    assert 'SECRET' not in json.dumps(result)


def test_strict_fails_on_the_first(capsys, monkeypatch):
    result = run(capsys, monkeypatch, strict=True)
    assert result['failed'] and 'internal error (PermissionError' in result['msg'], result


def test_unforeseen_errors_in_the_audit_of_one_user(capsys, monkeypatch):
    from ansible_collections.keepalive.ssh.plugins.modules import keepalive_info

    def read(identity, *args, **kwargs):
        raise RuntimeError('SECRET line of some file')
    monkeypatch.setattr(keepalive_info.UserFiles, 'read', read)
    with patch_module_args(dict(path=None, system_config=None, users=[dict(name='root'), dict(name='nobody')],
                                host_names=['x'])):
        with pytest.raises(SystemExit):
            keepalive_info.main()
    result = json.loads(capsys.readouterr().out)
    assert not result.get('failed'), result
    assert [s['user'] for s in result['skipped_users']] == ['root', 'nobody']
    assert all(c['reason'].startswith('internal error (RuntimeError)') for c in result['clients'].values())
    assert 'SECRET' not in json.dumps(result)
