"""The CLI's one question, ``Write FILE? [y/N]``, with a Ctrl-C that is never lost.

``click.confirm`` reads with ``input()``. A SIGINT that lands after the prompt is written
but before the read starts only sets Python's "signal pending" flag: the read then blocks
(the kernel has nothing to interrupt), and the KeyboardInterrupt waits for a key press
that never comes. On a loaded machine that window is wide enough to hit. Here the read
waits in ``select`` on the terminal *and* on a wakeup pipe that the C signal handler
writes to whenever a signal arrives, early or not: the wait always ends, and the pending
KeyboardInterrupt is raised at the next bytecode, before anything is written.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
from collections.abc import Iterator

import click

_YES = ("y", "yes")
_NO = ("", "n", "no")


def confirm(question: str) -> bool:
    """Ask ``question [y/N]`` on stderr and read the answer from stdin; no is the default.

    Ctrl-C raises KeyboardInterrupt and end of input raises EOFError, so the caller's
    "interrupted; nothing was written" path handles both.
    """
    if os.name != "posix" or threading.current_thread() is not threading.main_thread():
        return click.confirm(question, default=False, err=True)
    with _wakeup_pipe() as wakeup:
        while True:
            sys.stderr.write(f"{question} [y/N]: ")
            sys.stderr.flush()
            answer = _read_line(wakeup).strip().lower()
            if answer in _YES:
                return True
            if answer in _NO:
                return False
            sys.stderr.write("Error: answer y or n\n")


def _read_line(wakeup: int) -> str:
    while True:
        ready, _, _ = select.select([sys.stdin, wakeup], [], [])
        if wakeup in ready:
            # A signal arrived; its handler (KeyboardInterrupt for SIGINT) runs as soon as
            # this frame executes Python again. Any other signal: keep waiting.
            with contextlib.suppress(BlockingIOError):
                os.read(wakeup, 512)
            continue
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line


@contextlib.contextmanager
def _wakeup_pipe() -> Iterator[int]:
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    try:
        yield read_end
    finally:
        signal.set_wakeup_fd(previous)
        os.close(read_end)
        os.close(write_end)
