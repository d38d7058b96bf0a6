"""Answer ``initialize`` before pygls is imported, then hand the stream to the real server.

Importing pygls, lsprotocol and our features takes most of a second (lsprotocol's types
alone ~270 ms on an idle core), and an editor waits for the ``initialize`` answer before
it shows the server as running. The answer itself never changes for a given client and
server: pygls computes it from the client's ``capabilities`` and the features the server
registered. So the real server's own answer is kept, keyed by both, and the next start
with the same client and the same code sends it at once, while the server loads:

1. :func:`serve_stdio` reads the first framed message from stdin exactly as pygls' reader
   would (header lines until a blank one after ``Content-Length``, then the body).
2. If it is an ``initialize`` request whose answer is cached, that answer goes out now.
3. The server is imported and started on a stdin that first replays every byte read so
   far (:class:`Replay`): pygls handles that ``initialize`` like any other (it records
   the client's capabilities, picks the position encoding, runs our handler), and
   everything the client sent meanwhile follows in order.
4. Its answer to that request passes :class:`InitAnswer` on the way out: dropped when the
   fast answer was already sent (had it differed, the cache entry is replaced and a
   warning logged), otherwise passed on and stored for the next start.

Anything else as the first message (not JSON, a request before ``initialize``, a
notification, a cache miss) is simply replayed to pygls, which answers it as it always
does. The cache key covers the files of this package, pygls and lsprotocol (names, sizes,
modification times) and the exact client capabilities, so a changed feature table or
client never gets a stale answer. Only the standard library is imported here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path
from typing import Any, BinaryIO, cast

log = logging.getLogger(__name__)

# Packages whose code decides the answer: ours (the features), pygls (the capability
# builder), lsprotocol (the serialisation).
STAMPED_PACKAGES = ("tta_codegen", "pygls", "lsprotocol")
CACHE_SUBDIR = "initialize"
_CONTENT_TYPE = b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n"


def cache_dir() -> Path:
    """Where answers are kept: beside the context index, ``$XDG_CACHE_HOME/tta-codegen``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tta-codegen" / CACHE_SUBDIR


def _package_dirs() -> list[str]:
    dirs = []
    for name in STAMPED_PACKAGES:
        spec = find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            dirs.extend(spec.submodule_search_locations)
    return dirs


def code_stamp() -> str:
    """A digest of the code that computes the answer: every module file's path, size, mtime."""
    digest = hashlib.blake2b(digest_size=12)
    digest.update(sys.version.encode())
    for top in _package_dirs():
        for folder, subdirs, files in os.walk(top):
            subdirs[:] = sorted(d for d in subdirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    with contextlib.suppress(OSError):
                        st = os.stat(path)
                        digest.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def cache_key(stamp: str, capabilities: Any) -> str:
    caps = json.dumps(capabilities, sort_keys=True, separators=(",", ":"))
    return stamp + "-" + hashlib.blake2b(caps.encode(), digest_size=12).hexdigest()


def load_answer(key: str) -> Any | None:
    try:
        return json.loads((cache_dir() / f"{key}.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None


def store_answer(key: str, result: Any) -> None:
    """Keep ``result`` under ``key``; entries of other code stamps are stale and go."""
    folder = cache_dir()
    stamp = key.split("-", 1)[0]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(result, fh)
        os.replace(tmp, folder / f"{key}.json")  # atomic: another server may read it now
        for old in folder.glob("*.json"):
            if not old.name.startswith(stamp):
                old.unlink(missing_ok=True)
    except OSError as exc:  # a read-only cache only costs the next start its speed
        log.info("cannot keep the initialize answer in %s: %s", folder, exc)


def frame(message: Any) -> bytes:
    body = json.dumps(message).encode("utf-8")
    return b"Content-Length: %d\r\n" % len(body) + _CONTENT_TYPE + b"\r\n" + body


def read_first(stdin: BinaryIO) -> tuple[bytes, Any]:
    """The raw bytes of the first message and its decoded body (None if not JSON / EOF).

    Mirrors pygls' reader (``pygls.io_.run_async``): lines before a ``Content-Length``
    line are skipped, the body follows the first blank line after it.
    """
    raw = bytearray()
    length = 0
    while True:
        line = stdin.readline()
        raw += line
        if not line:
            return bytes(raw), None
        if not length and line.startswith(b"Content-Length: ") and line.endswith(b"\r\n"):
            value = line[16:-2]
            if value.isdigit():
                length = int(value)
        if length and not line.strip():
            break
    body = bytearray()
    while len(body) < length:  # an unbuffered stream may return less than asked
        part = stdin.read(length - len(body))
        if not part:
            break
        body += part
    raw += body
    try:
        return bytes(raw), json.loads(body)
    except ValueError:  # includes UnicodeDecodeError
        return bytes(raw), None


class Replay:
    """stdin as pygls reads it (``readline``, ``read(n)``), with ``prefix`` read first."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        self._prefix = prefix
        self._stream = stream

    def readline(self) -> bytes:
        if not self._prefix:
            return self._stream.readline()
        end = self._prefix.find(b"\n")
        if end < 0:  # the prefix ends mid-line: finish the line from the stream
            head, self._prefix = self._prefix, b""
            return head + self._stream.readline()
        line, self._prefix = self._prefix[: end + 1], self._prefix[end + 1 :]
        return line

    def read(self, n: int) -> bytes:
        head, self._prefix = self._prefix[:n], self._prefix[n:]
        if len(head) < n:
            return head + self._stream.read(n - len(head))
        return head

    def take_prefix(self) -> bytes:
        """The bytes not replayed yet, handed over (to a reader of the file descriptor)."""
        prefix, self._prefix = self._prefix, b""
        return prefix

    def fileno(self) -> int | None:
        try:
            return self._stream.fileno()
        except (AttributeError, OSError, ValueError):
            return None


class InitAnswer:
    """stdout for pygls: watches for its answer to the first ``initialize`` request.

    pygls writes each message with one ``write`` (header and body), so until that answer
    has passed each message is looked at whole; after it, writes go straight through.
    """

    def __init__(self, stdout: BinaryIO, msg_id: Any, key: str | None, sent: Any | None) -> None:
        # Where messages go: stdout, or the event loop's writer on it (lsp/stdio.py).
        self.target: Any = stdout
        self._id = msg_id
        self._key = key
        self._sent = sent  # the fast answer's result, when one was sent
        self.watching = key is not None

    @property
    def closed(self) -> bool:
        return bool(self.target.closed)

    def fileno(self) -> int | None:
        try:
            return int(self.target.fileno())
        except (AttributeError, OSError, ValueError):
            return None

    def flush(self) -> None:
        self.target.flush()

    def close(self) -> None:
        self.target.close()

    def write(self, data: bytes) -> int:
        if self.watching and self._is_answer(data):
            return len(data)
        return int(self.target.write(data))

    def _is_answer(self, data: bytes) -> bool:
        """Handle the initialize answer; True when it must not be sent (already was)."""
        _, sep, body = data.partition(b"\r\n\r\n")
        try:
            message = json.loads(body) if sep else None
        except ValueError:
            return False
        if not isinstance(message, dict) or message.get("id") != self._id or "method" in message:
            return False
        self.watching = False
        result = message.get("result")
        if "result" not in message:  # an error answer: nothing to keep
            if self._sent is not None:
                log.error("initialize was answered early, but the server failed it: %s", body)
                return True
            return False
        assert self._key is not None
        if self._sent is None:
            store_answer(self._key, result)
            return False
        if result != self._sent:
            log.warning("the early initialize answer differed from the server's; replaced")
            store_answer(self._key, result)
        return True


def serve_stdio(start: Callable[[Replay, InitAnswer], None]) -> None:
    """Answer ``initialize`` early when possible, then run ``start(stdin, stdout)``."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    # Unbuffered: nothing past the first message may hide in a read-ahead buffer, since
    # the server may go on reading the file descriptor itself (lsp/stdio.py).
    raw, message = read_first(cast(BinaryIO, getattr(stdin, "raw", stdin)))
    msg_id: Any = None
    key: str | None = None
    sent: Any | None = None
    if (
        isinstance(message, dict)
        and message.get("jsonrpc") == "2.0"
        and message.get("method") == "initialize"
        and isinstance(message.get("id"), int | str)
        and isinstance(message.get("params"), dict)
        and isinstance(message["params"].get("capabilities"), dict)
    ):
        msg_id = message["id"]
        key = cache_key(code_stamp(), message["params"]["capabilities"])
        sent = load_answer(key)
        if sent is not None:
            stdout.write(frame({"jsonrpc": "2.0", "id": msg_id, "result": sent}))
            stdout.flush()
            log.debug("initialize answered early from the cache (%s)", key)
    # Duck-typed: pygls only calls readline/read, and write/flush/close (and .closed).
    start(Replay(raw, stdin), InitAnswer(stdout, msg_id, key, sent))
