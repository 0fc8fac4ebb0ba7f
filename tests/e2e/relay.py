"""An idle-timeout TCP relay: what a NAT gateway or stateful firewall does to a quiet connection.

Forwards bytes both ways between a listening socket on loopback and a
target; a connection with no traffic in either direction for ``idle_timeout``
seconds is closed on both sides, as a NAT forgetting its mapping would.
"""
import socket
import threading
import time


class IdleRelay:
    def __init__(self, target, idle_timeout, listen='127.0.0.1'):
        self.target = target
        self.idle_timeout = idle_timeout
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind((listen, 0))
        self.server.listen(8)
        self.address = self.server.getsockname()
        self.idle_closes = 0
        self.bytes = 0
        self._stop = threading.Event()
        self._threads = []

    def __enter__(self):
        self._spawn(self._accept)
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.server.close()
        for t in self._threads:
            t.join(timeout=5)
        return False

    def _spawn(self, fn, *args):
        t = threading.Thread(target=fn, args=args, daemon=True)
        t.start()
        self._threads.append(t)

    def _accept(self):
        self.server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _addr = self.server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            state = {'last': time.monotonic(), 'closed': False}
            for src, dst in ((client, upstream), (upstream, client)):
                self._spawn(self._pump, src, dst, state)
            self._spawn(self._watchdog, client, upstream, state)

    def _pump(self, src, dst, state):
        src.settimeout(0.2)
        while not state['closed'] and not self._stop.is_set():
            try:
                data = src.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            state['last'] = time.monotonic()
            self.bytes += len(data)
            try:
                dst.sendall(data)
            except OSError:
                break
        self._close(src, dst, state)

    def _watchdog(self, a, b, state):
        while not state['closed'] and not self._stop.is_set():
            if time.monotonic() - state['last'] > self.idle_timeout:
                self.idle_closes += 1
                self._close(a, b, state)
                return
            time.sleep(0.05)
        self._close(a, b, state)

    @staticmethod
    def _close(a, b, state):
        state['closed'] = True
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
