"""Each OpenSSH version's keepalive timing, measured on the wire, is the engine's table and the docs' table.

For every Debian suite (OpenSSH 8.4p1, 9.2p1, 10.0p2 and sid's newest) its own sshd and ssh run from its root
filesystem in a private network namespace (tests/lib/openssh_timing.py, all versions at once): how often a
silent session gets a keepalive from sshd (ClientAliveInterval) and from ssh (ServerAliveInterval), and when
each drops a peer whose packets all vanish (ClientAliveCountMax / ServerAliveCountMax 1 and 3).

- plugins/module_utils/timing.py's MEASURED must be exactly what was measured: the derivations and checks of
  the modules key on it;
- the dead-peer times must be the engine's formula, (count-max + 1) × period × interval, for every version;
- docs/timing.md's table must be the one rendered from this measurement (KEEPALIVE_WRITE_TIMING_DOCS=1 writes
  it there instead of failing).
"""
import os

from openssh_rootfs import SUITES
from openssh_timing import BEGIN, COUNTS, END, INTERVAL, docs_table, measure_all

from ansible_collections.keepalive.ssh.plugins.module_utils.timing import MEASURED, dead_peer_time, openssh_version

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, 'docs', 'timing.md')
EARLY = {'server': 0.5, 'client': 1.2}  # ssh counts whole seconds: it may give up to a second early
LATE = 1.0                               # scheduling on a loaded machine


def test_each_openssh_version_keeps_the_measured_timing(tmp_path):
    results = measure_all(SUITES, str(tmp_path))
    detail = {v: m.raw for v, m in results.items()}

    assert {openssh_version('OpenSSH_' + v): m.timing for v, m in results.items()} == MEASURED, detail
    for version, m in results.items():
        for side, period in (('server', m.timing.server_period), ('client', m.timing.client_period)):
            for count in COUNTS:
                expected = dead_peer_time(INTERVAL, count, period)
                assert expected - EARLY[side] <= m.dead[side][count] <= expected + LATE, (version, side, count, detail)

    table = docs_table(results)
    with open(DOC) as f:
        text = f.read()
    current = text[text.index(BEGIN):text.index(END) + len(END)]
    if os.environ.get('KEEPALIVE_WRITE_TIMING_DOCS') == '1':
        with open(DOC, 'w') as f:
            f.write(text.replace(current, table))
    else:
        assert current == table, 'docs/timing.md differs from the measurement; KEEPALIVE_WRITE_TIMING_DOCS=1 ' \
                                 'rewrites it:\n' + table
