"""Large buffers go back to the operating system when they are freed.

A full-sync client sends the whole document with every change: a 23 MB document means
23 MB request bodies, decoded strings and document copies, several per streamed edit.
glibc serves blocks this large with ``mmap`` at first, but raises that threshold (up to
32 MB) each time such a block is freed, after which they come from the heap, where the
freed space stays in the process: the server kept ~600 MB after the document was closed.
Fixing the threshold keeps every large block an ``mmap`` of its own, unmapped on free, so
memory follows the open documents. Other C libraries (and other systems) are left as
they are.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # mallopt's parameter number in glibc's <malloc.h>
MMAP_THRESHOLD_BYTES = 1 << 20  # blocks from here up are mapped and unmapped on their own


def release_large_blocks() -> bool:
    """Ask glibc to map every block of at least 1 MB on its own; False where it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        # The process's own symbols: libc is already loaded. (``ctypes.util.find_library``
        # would run ``ldconfig -p`` in a subprocess at every server start.)
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    if not ok:
        log.debug("mallopt(M_MMAP_THRESHOLD) refused")
    return ok
