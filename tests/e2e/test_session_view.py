"""The live-sessions view on real sessions through a real idle-killing firewall (tests/lib/conntrack.py).

In one private network namespace: an sshd without keepalives, a conntrack firewall that forgets a
connection silent for IDLE seconds, and real ssh sessions of one user (root):

- one with the client's keepalives (ServerAliveInterval 1) and a tty, silent past the firewall's
  timeout: keepalive_info reports it "idle, kept alive";
- one without keepalives: reported at risk before the timeout, dead after it; its client, now waiting on
  a server that no longer answers (its packets are dropped), is reported stale;
- stale_sessions lists it without ending it unless asked (terminate, outside check mode), then ends it,
  while the live idle session of the same user still echoes afterwards; a dead ControlMaster socket is
  removed, a live one and one behind a symlink are left alone.
"""
import time

from conntrack import IdleFirewall, Session
from fleet import Fleet
from kalib import run_module, unix_socket

IDLE = 6          # seconds conntrack keeps a silent connection
ECHO = 5          # seconds an echo may take on a loaded machine
OPTIONS = dict(path_timeout=IDLE, active_within=1, unanswered_after=2, users=['root'])


def view(host, control_dirs):
    result = run_module('keepalive_info', dict(path=host.config, sessions=True, system_config='',
                                               session_options=dict(OPTIONS, control_dirs=control_dirs)))
    assert not result.get('failed'), result
    assert result['sessions']['available'] and result['sessions']['source'] == 'inet_diag', result['sessions']
    return result['sessions']


def row(rows, **match):
    found = [r for r in rows if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, (match, rows)
    return found[0]


def test_sessions_are_classified_and_only_stale_clients_are_ended(tmp_path):
    with IdleFirewall(IDLE) as fw:
        fleet = Fleet(str(tmp_path / 'fleet'), size=1, port=2532, net='127.45', scenarios=['debian'])
        fleet.create()
        fleet.start()
        host = fleet.hosts[0]
        config = tmp_path / 'ssh_config'
        config.write_text(fleet.client_entry('server', host))
        ssh = ['ssh', '-F', str(config)]
        cm = tmp_path / 'cm'
        cm.mkdir()
        (tmp_path / 'elsewhere').mkdir()
        unix_socket(cm / 'dead', listening=False)
        live_master = unix_socket(cm / 'live', listening=True)
        unix_socket(tmp_path / 'elsewhere' / 'dead', listening=False)
        (cm / 'link').symlink_to(tmp_path / 'elsewhere' / 'dead')
        dirs = [str(cm)]

        # a terminal (what `w` shows) that passes lines through unchanged: Session echoes raw lines
        kept = Session(ssh + ['-tt', '-o', 'ServerAliveInterval=1', 'server', 'stty -echo -onlcr;'])
        kept_port = kept.local_port()
        time.sleep(1.5 * IDLE)             # the kept session is silent past the firewall's timeout
        bare = Session(ssh + ['-T', '-o', 'ServerAliveInterval=0', 'server'])
        bare_port = bare.local_port()
        bare_silent_since = time.monotonic()
        time.sleep(2)

        seen = view(host, dirs)
        assert time.monotonic() - bare_silent_since < IDLE, 'the look came too late to be "before the timeout"'
        assert fw.entry(bare_port, host.port) is not None
        kept_row = row(seen['server'], port=kept_port)
        assert kept_row['class'] == 'idle_kept_alive' and kept_row['tty'].startswith('pts/'), kept_row
        assert kept_row['idle'] >= IDLE and kept_row['user'] == 'root' and kept_row['client_alive_interval'] == 0
        bare_row = row(seen['server'], port=bare_port)
        assert bare_row['class'] == 'at_risk' and bare_row['tty'] is None, bare_row
        assert 1 <= bare_row['idle'] < IDLE
        assert seen['counts']['idle_kept_alive'] == 1 and seen['counts']['at_risk'] == 1
        assert seen['counts']['sessions'] == 2 and seen['counts']['stale_clients'] == 0
        assert {(r['path'].rsplit('/', 1)[1], r['dead']) for r in seen['control_sockets']} == {
            ('dead', True), ('live', False)}

        # after the timeout the bare session is gone: its next line never arrives
        time.sleep(max(IDLE + 2 - (time.monotonic() - bare_silent_since), 0))
        assert fw.entry(bare_port, host.port) is None
        assert not bare.echo(ECHO)
        seen = view(host, dirs)
        stale = row(seen['clients'], pid=bare.proc.pid)
        assert stale['stale'] and 'stopped answering' in stale['reason'], stale
        assert stale['destination'] == '%s:%d' % (host.address, host.port)
        live = row(seen['clients'], pid=kept.proc.pid)
        assert not live['stale'] and live['state'] == 'ESTABLISHED', live
        assert row(seen['server'], port=kept_port)['class'] == 'idle_kept_alive'

        # the cleanup: only a report unless asked, and in check mode
        cleanup = dict(session_options=dict(OPTIONS, control_dirs=dirs))
        for args, check in ((cleanup, False), (dict(cleanup, terminate=True), True)):
            result = run_module('stale_sessions', args, check=check)
            assert [(r['pid'], r['ended']) for r in result['stale']] == [(bare.proc.pid, False)], result
            assert result['changed'] == check
            assert bare.proc.poll() is None and (cm / 'dead').exists()
        result = run_module('stale_sessions', dict(cleanup, terminate=True))
        assert result['changed'] and [(r['pid'], r['ended']) for r in result['stale']] == [(bare.proc.pid, True)]
        assert result['dead_control_sockets'] == [dict(user='root', path=str(cm / 'dead'), removed=True)]
        assert result['kept'] == 1
        bare.proc.wait(timeout=10)
        assert kept.proc.poll() is None and kept.echo(ECHO), 'the live idle session of the same user was ended'
        assert (cm / 'live').exists() and (tmp_path / 'elsewhere' / 'dead').exists()
        assert run_module('stale_sessions', dict(cleanup, terminate=True))['stale'] == []
        kept.close()
        bare.close()
        live_master.close()
        fleet.stop()
