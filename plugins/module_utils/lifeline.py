# -*- coding: utf-8 -*-
# Copyright: keepalive.ssh developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""No process a module starts outlives the module, however the module ends.

Every command and reading child runs in a process group of its own, which the
module kills whole when the command is done or its time is up.  When the
module itself dies first (SIGKILL, an async or task time-out that kills it) no
one is left to do that, so each group gets two guards at its start:

* the child itself gets SIGKILL from the kernel when the module dies
  (``PR_SET_PDEATHSIG``, set after the last change of identity, which clears
  it);
* a watcher forked into the group, still root, blocks on a pipe whose only
  writer is the module process: when the module is gone the read ends, and the
  watcher kills the whole group (what the child started too: a user's
  ``Match exec`` shell, an ssh's ProxyCommand).  The user cannot kill a root
  watcher.  When the work ends normally the module kills the group, the
  watcher with it.

A process that leaves the group on purpose (a user's ``Match exec "setsid …"``)
runs as that user, as their own ssh would have run it: see docs/security.md.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ctypes
import os
import signal

_PR_SET_PDEATHSIG = 1
_MAX_FD = 65536
_pipe = {}  # pid of the module process -> (read end, write end); a forked child sees its parent's pid


def lifeline():
    """The read end of the module's lifeline (made once per module process); call it in the parent,
    before forking the child (see :func:`watch_group`)."""
    pid = os.getpid()
    if pid not in _pipe:
        _pipe.clear()  # a pipe made by a process we were forked from is not ours to watch
        _pipe[pid] = os.pipe()  # close-on-exec: no command the module runs inherits the write end
    return _pipe[pid][0]


def watch_group(read_end):
    """In a freshly forked child that leads its own process group (setsid): fork the group's watcher."""
    if os.fork() == 0:
        _watch(read_end)


def die_with(parent):
    """In the child, after its last change of identity: SIGKILL when ``parent`` (the module) dies."""
    try:
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the module died before the request: nothing would kill us
        os._exit(1)  # pylint: disable=protected-access


def preexec(then=None):
    """``preexec_fn`` for subprocess.Popen with ``start_new_session=True``: the watcher, ``then`` (a change
    of identity), the death signal."""
    read_end, parent = lifeline(), os.getpid()

    def run():
        watch_group(read_end)
        if then is not None:
            then()
        die_with(parent)
    return run


def _watch(read_end):
    """The watcher: no descriptor but the lifeline, wait for its end, kill the group (itself last)."""
    try:
        os.closerange(0, read_end)
        os.closerange(read_end + 1, _MAX_FD)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        while os.read(read_end, 1):
            pass
    except BaseException:  # pylint: disable=broad-except
        pass
    try:
        os.killpg(0, signal.SIGKILL)
    finally:
        os._exit(0)  # pylint: disable=protected-access
