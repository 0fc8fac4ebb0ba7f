"""`make demo DEMO_ARGS=--idle-proof`: after the rollout, the probe measures a simulated idle-killing path and
the idle-session proof prints one line per case — dead without keepalives, alive with either role's settings."""
import os
import re
import subprocess
import sys

from kalib import ROOT

DEMO = [sys.executable, os.path.join(ROOT, 'tools', 'demo.py')]


def test_demo_with_idle_proof(tmp_path):
    proc = subprocess.run(DEMO + ['--size', '1', '--out', str(tmp_path / 'out'), '--root', str(tmp_path / 'fleet'),
                                  '--port', '2922', '--net', '127.50', '--idle-proof'],
                          capture_output=True, text=True, timeout=900, check=False)
    out = proc.stdout
    # The rollout part and its exit status are tests/e2e/test_demo.py's; this test reads the idle proof.
    assert '== idle proof: a path that forgets a TCP connection after 5 s of silence' in out, out + proc.stderr
    m = re.search(r'keepalive\.ssh\.idle_probe: idle timeout (\d+)–(\d+) s \(drop: silent\)', out)
    assert m and int(m.group(1)) <= 5 <= int(m.group(2)) and int(m.group(2)) - int(m.group(1)) <= 1, out
    assert re.search(r'profile picked: nat_idle_timeout %s → client ServerAliveInterval \d+' % m.group(1), out)
    assert re.search(r'no keepalive +silent 15 s → DEAD  \(conntrack entry forgotten, [1-9]\d* packet', out), out
    assert re.search(r'client role \(ServerAliveInterval \d+\) +silent 15 s → alive \(conntrack entry refreshed, '
                     r'0 packet', out), out
    assert re.search(r'sshd role only \(ClientAliveInterval \d+\) +silent 15 s → alive \(conntrack entry refreshed, '
                     r'0 packet\(s\) dropped, [1-9]\d* server keepalive', out), out
    assert 'as expected: dead without keepalives, alive with either role' in out
