"""A warm ruff for the ruff gate: one long-lived ``ruff server`` per workspace, per loop.

Starting ``ruff check`` for every candidate costs a process start and a config search
(~30-60 ms on 2 cores) on the path between the model's last token and the answer; the
same check through a running ``ruff server`` (pull diagnostics, ``textDocument/
diagnostic``) takes about a millisecond. The text is sent in ``didOpen``, so no file is
written and no sandbox copy is needed: ruff only reads it (and the project's ruff config,
found from the document's real path exactly as ``ruff check`` would find it); it runs no
project code.

A worker that dies or stops answering is closed and started afresh once; if that fails
too, :class:`RuffWorkerError` tells the gate to fall back to a ``ruff check`` process.
Workers belong to the event loop that started them (their pipes do) and end with it, or
when the server process exits (ruff server exits when its stdin closes).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

__all__ = [
    "RuffDiagnostic",
    "RuffWorkerError",
    "close_ruff_workers",
    "ruff_diagnostics",
    "start_ruff_ahead",
]


class RuffWorkerError(Exception):
    """The warm ruff could not answer; the caller runs ``ruff check`` instead."""


@dataclass(frozen=True)
class RuffDiagnostic:
    line: int  # 0-based
    column: int  # 0-based
    code: str | None
    message: str


@dataclass(frozen=True)
class _Key:
    ruff: str
    root: str
    select: tuple[str, ...]
    project_config: bool


def _settings(select: tuple[str, ...], project_config: bool) -> dict[str, Any]:
    """Editor settings equivalent to the gate's ``ruff check`` flags.

    Project config: ``--extend-select RULES`` on top of it. Otherwise ``--isolated
    --select RULES``: the project's files are not consulted at all (``editorOnly``).
    """
    if project_config:
        return {"lint": {"extendSelect": list(select)}} if select else {}
    return {"configurationPreference": "editorOnly", "lint": {"select": list(select or ("E9",))}}


class RuffWorker:
    """One ``ruff server`` process and the LSP conversation with it."""

    def __init__(self, key: _Key) -> None:
        self.key = key
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._lock = asyncio.Lock()
        self._docs = itertools.count(1)
        self._starting: asyncio.Task[None] | None = None  # start_soon's start, until done
        self.dead = False

    async def start(self, limit_s: float) -> None:
        try:
            self._proc = await asyncio.create_subprocess_exec(
                self.key.ruff,
                "server",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C in the terminal is ours to handle
            )
        except OSError as exc:
            raise RuffWorkerError(f"cannot start ruff server: {exc}") from exc
        self._reader = asyncio.create_task(self._read_loop())
        root = Path(self.key.root).as_uri()
        await self._request(
            "initialize",
            {
                "processId": None,
                "rootUri": root,
                "workspaceFolders": [{"uri": root, "name": "workspace"}],
                "capabilities": {"textDocument": {"diagnostic": {}}},
                "initializationOptions": {
                    "settings": _settings(self.key.select, self.key.project_config)
                },
            },
            limit_s,
        )
        self._notify("initialized", {})

    def start_soon(self, limit_s: float) -> None:
        """Start in the background; :meth:`ready` waits for it (a check needs it done)."""
        self._starting = asyncio.create_task(self.start(limit_s))
        self._starting.add_done_callback(self._started)

    def _started(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            self.dead = True
        elif (exc := task.exception()) is not None:  # retrieved here: never "unretrieved"
            self.dead = True
            log.info("warm ruff did not start ahead: %s", exc)

    async def ready(self) -> None:
        """Wait for a start begun by :meth:`start_soon`; raise if it failed."""
        starting = self._starting
        if starting is not None:
            await asyncio.wait({starting})
        if self.dead:
            raise RuffWorkerError("ruff server did not start")

    async def check(self, path: Path, text: str, limit_s: float) -> list[RuffDiagnostic]:
        """Ruff's diagnostics for ``text`` as the content of ``path``."""
        async with self._lock:
            # A fresh version per check: the server must never serve a cached answer.
            uri = path.as_uri()
            self._notify(
                "textDocument/didOpen",
                {
                    "textDocument": {
                        "uri": uri,
                        "languageId": "python",
                        "version": next(self._docs),
                        "text": text,
                    }
                },
            )
            try:
                result = await self._request(
                    "textDocument/diagnostic", {"textDocument": {"uri": uri}}, limit_s
                )
            finally:
                if not self.dead:
                    self._notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        items = result.get("items") if isinstance(result, dict) else None
        if not isinstance(items, list):
            raise RuffWorkerError(f"ruff server answered {str(result)[:200]!r}")
        return [_diagnostic(item) for item in items if isinstance(item, dict)]

    async def aclose(self) -> None:
        self.dead = True
        if self._starting is not None and not self._starting.done():
            self._starting.cancel()
            await asyncio.wait({self._starting})
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            if proc.stdin is not None:
                with contextlib.suppress(Exception):
                    proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), 2)
            except (TimeoutError, asyncio.CancelledError):
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        self._fail_waiting("ruff server closed")

    # -- JSON-RPC over the pipes -----------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        proc = self._proc
        if self.dead or proc is None or proc.stdin is None or proc.stdin.is_closing():
            raise RuffWorkerError("ruff server is not running")
        body = json.dumps(message).encode()
        proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def _notify(self, method: str, params: Any) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    async def _request(self, method: str, params: Any, limit_s: float) -> Any:
        msg_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[msg_id] = future
        try:
            self._send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
            return await asyncio.wait_for(future, limit_s)
        except TimeoutError:
            self.dead = True
            raise RuffWorkerError(f"ruff server did not answer {method} in {limit_s:g} s") from None
        finally:
            self._waiting.pop(msg_id, None)

    async def _read_loop(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        try:
            while True:
                message = await _read_message(proc.stdout)
                if message is None:
                    break
                if "method" in message:
                    if "id" in message:
                        # A request of the server's (registerCapability, ...): accept it.
                        self._send({"jsonrpc": "2.0", "id": message["id"], "result": None})
                    continue
                future = self._waiting.get(message.get("id", -1))
                if future is None or future.done():
                    continue
                if "error" in message:
                    future.set_exception(RuffWorkerError(f"ruff server: {message['error']}"))
                else:
                    future.set_result(message.get("result"))
        except (OSError, ValueError, RuffWorkerError, asyncio.IncompleteReadError) as exc:
            log.debug("ruff server stream ended: %s", exc)
        finally:
            self.dead = True
            self._fail_waiting("ruff server exited")

    def _fail_waiting(self, why: str) -> None:
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(RuffWorkerError(why))


async def _read_message(stream: asyncio.StreamReader) -> dict[str, Any] | None:
    length = None
    while True:
        line = await stream.readline()
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode("ascii", "replace").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length is None:
        raise ValueError("a message without Content-Length")
    body = await stream.readexactly(length)
    message = json.loads(body)
    return message if isinstance(message, dict) else {}


def _diagnostic(item: dict[str, Any]) -> RuffDiagnostic:
    start = (item.get("range") or {}).get("start") or {}
    code = item.get("code")
    # The server appends "help: ..." paragraphs; `ruff check` reports the first one.
    message = str(item.get("message", "")).split("\n\n", 1)[0]
    return RuffDiagnostic(
        int(start.get("line", 0)),
        int(start.get("character", 0)),
        str(code) if code is not None else None,
        message,
    )


# One worker per key, per event loop (a worker's pipes belong to the loop that made them).
_workers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_Key, RuffWorker]] = (
    weakref.WeakKeyDictionary()
)


async def ruff_diagnostics(
    ruff: str,
    *,
    root: Path,
    path: Path,
    text: str,
    select: tuple[str, ...],
    project_config: bool,
    limit_s: float,
) -> list[RuffDiagnostic]:
    """Lint ``text`` as ``path`` with the warm ruff of ``root``; start or restart it as needed.

    Raises :class:`RuffWorkerError` when a fresh worker cannot answer either.
    """
    key = _Key(ruff, str(root), select, project_config)
    workers = _workers.setdefault(asyncio.get_running_loop(), {})
    for attempt in range(2):
        worker = workers.get(key)
        try:
            if worker is None or worker.dead:
                if worker is not None:
                    await worker.aclose()
                worker = workers[key] = RuffWorker(key)
                await worker.start(limit_s)
            else:
                await worker.ready()  # started ahead (start_ruff_ahead): maybe not yet done
            return await worker.check(path, text, limit_s)
        except RuffWorkerError:
            workers.pop(key, None)
            if worker is not None:
                await worker.aclose()
            if attempt == 1:
                raise
    raise AssertionError("unreachable")


def start_ruff_ahead(
    ruff: str, *, root: Path, select: tuple[str, ...], project_config: bool, limit_s: float
) -> None:
    """Start the warm ruff that :func:`ruff_diagnostics` will use for this key, now.

    A generation calls this while the model is still answering: the process start and the
    LSP handshake (~10 ms on 2 cores, more on a busy machine) then happen during the
    model's time instead of between its last token and the answer. A worker already there
    is left alone: running or starting, it is the one to use; dead, the check that needs it
    closes it (its process too) and starts another, as without this. One that cannot start
    here is started again, once, by that check.
    """
    key = _Key(ruff, str(root), select, project_config)
    workers = _workers.setdefault(asyncio.get_running_loop(), {})
    if key in workers:
        return
    worker = workers[key] = RuffWorker(key)
    worker.start_soon(limit_s)


async def close_ruff_workers() -> None:
    """Stop this loop's workers (a CLI run's end, the server's shutdown)."""
    workers = _workers.pop(asyncio.get_running_loop(), {})
    for worker in workers.values():
        await worker.aclose()
