# -*- coding: utf-8 -*-
"""The idle probe against a port that refuses connections fails with ssh's own reason."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import shutil
import socket

import pytest

from ansible_collections.keepalive.ssh.plugins.module_utils.idle_probe import Probe, ProbeError, ssh_argv


def closed_loopback_port():
    """A port on 127.0.0.1 that nothing listens on: connecting to it is refused at once."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]
    finally:
        sock.close()


def test_a_refused_port_fails_with_no_session_could_log_in():
    ssh = shutil.which('ssh')
    assert ssh, 'the system ssh is needed'
    port = closed_loopback_port()
    argv = ssh_argv(ssh, '127.0.0.1', port=port, options=['UserKnownHostsFile=/dev/null'], connect_timeout=5)
    # Several sessions, several rounds of the test: ssh ends both pipes at once, which is the case that
    # read a pipe closed by the session's end.
    for _attempt in range(3):
        probe = Probe(argv, max_idle=30, resolution=5, max_sessions=4, reply_timeout=2, connect_timeout=5)
        with pytest.raises(ProbeError) as failed:
            probe.run()
        assert str(failed.value).startswith('no session could log in: ')
        assert 'Connection refused' in str(failed.value)
        assert all(s.proc.returncode is not None for s in probe.sessions)
