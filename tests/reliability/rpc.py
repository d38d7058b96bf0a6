"""A bare JSON-RPC client over the server's stdio: for sending what no real client would."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.workspace import TextDocument

from tests.guards import HANG_GUARD_S
from tests.lsp.harness import tta_command


class RawServer:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self._next = 0
        self.stderr = b""
        self._pending: dict[Any, asyncio.Future[dict[str, Any]]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.unmatched: list[dict[str, Any]] = []  # answers to no request of ours (id: null)
        self.server_requests: list[dict[str, Any]] = []
        self.docs: dict[str, TextDocument] = {}
        # Echo each applied edit as the whole text, as full-sync clients do (the default is
        # one incremental change per edit).
        self.full_sync = False
        self._reader = asyncio.ensure_future(self._read())
        self._err = asyncio.ensure_future(self._read_stderr())

    @classmethod
    async def start(
        cls,
        home: Path,
        env: dict[str, str] | None = None,
        log_level: str = "debug",
        *,
        process: bool = False,
    ) -> RawServer:
        """The server, forked from the fork server unless ``process`` (a test that reads the
        server's own process: /proc/<pid>) or ``env`` asks for an interpreter of its own."""
        full = dict(os.environ)
        full.update(
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_DATA_HOME=str(home / "data"),
            XDG_CACHE_HOME=str(home / "cache"),
        )
        full.update(env or {})
        proc = await asyncio.create_subprocess_exec(
            *tta_command("serve", "--log-level", log_level, env=full, process=process),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=full,
        )  # fmt: skip
        return cls(proc)

    def send_bytes(self, body: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)

    def send(self, message: dict[str, Any]) -> None:
        self.send_bytes(json.dumps(message).encode())

    async def request(
        self, method: str, params: Any = None, timeout: float = HANG_GUARD_S
    ) -> dict[str, Any]:
        self._next += 1
        msg_id = f"raw-{self._next}"
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = fut
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return await asyncio.wait_for(fut, timeout)

    async def answer_to(
        self, message: dict[str, Any], timeout: float = HANG_GUARD_S
    ) -> dict[str, Any]:
        """Send ``message`` as it is (any shape, with an ``id``) and wait for its answer."""
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[message["id"]] = fut
        self.send(message)
        return await asyncio.wait_for(fut, timeout)

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        out = self.proc.stdout
        while True:
            header = await out.readuntil(b"\r\n\r\n")
            length = 0
            for line in header.decode().split("\r\n"):
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            msg = json.loads(await out.readexactly(length))
            if "id" in msg and ("result" in msg or "error" in msg):
                fut = self._pending.pop(msg["id"], None)
                if fut is not None and not fut.done():
                    fut.set_result(msg)
                elif fut is None:
                    self.unmatched.append(msg)
            elif "id" in msg:
                self.server_requests.append(msg)
                # Answer the server's own requests (configuration, progress, edits) plainly.
                result: Any = None
                if msg.get("method") == "workspace/configuration":
                    result = [None]
                elif msg.get("method") == "workspace/applyEdit":
                    result = {"applied": self._apply(msg["params"]["edit"])}
                self.send({"jsonrpc": "2.0", "id": msg["id"], "result": result})
            else:
                self.notifications.append(msg)

    def open(self, uri: str, text: str) -> None:
        """didOpen, and keep a copy so edits can be applied and echoed like an editor does."""
        self.docs[uri] = TextDocument(uri, text, version=0)
        self.notify("textDocument/didOpen",
                    {"textDocument": {"uri": uri, "languageId": "python", "version": 0, "text": text}})  # fmt: skip

    def _apply(self, edit: dict[str, Any]) -> bool:
        changes = [
            {"textDocument": {"uri": uri}, "edits": edits}
            for uri, edits in (edit.get("changes") or {}).items()
        ]
        for dc in [*(edit.get("documentChanges") or []), *changes]:
            doc = self.docs.get(dc.get("textDocument", {}).get("uri", ""))
            if doc is None:
                return False
            for e in sorted(dc["edits"], key=lambda e: (e["range"]["start"]["line"],
                            e["range"]["start"]["character"]), reverse=True):  # fmt: skip
                change = types.TextDocumentContentChangePartial(
                    range=types.Range(
                        types.Position(**e["range"]["start"]), types.Position(**e["range"]["end"])
                    ),
                    text=e["newText"],
                )
                doc.apply_change(change)
                if self.full_sync:
                    continue
                doc.version = (doc.version or 0) + 1
                self.notify("textDocument/didChange", {
                    "textDocument": {"uri": doc.uri, "version": doc.version},
                    "contentChanges": [{"range": e["range"], "text": e["newText"]}],
                })  # fmt: skip
            if self.full_sync:
                doc.version = (doc.version or 0) + 1
                self.notify("textDocument/didChange", {
                    "textDocument": {"uri": doc.uri, "version": doc.version},
                    "contentChanges": [{"text": doc.source}],
                })  # fmt: skip
        return True

    async def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        while chunk := await self.proc.stderr.read(65536):
            self.stderr += chunk

    async def initialize(self, root: Path, options: dict[str, Any] | None = None) -> None:
        answer = await self.request(
            "initialize",
            {"processId": None, "rootUri": root.as_uri(),
             "capabilities": {"workspace": {"applyEdit": True,
                                            "workspaceEdit": {"documentChanges": True}}},
             "initializationOptions": options},
        )  # fmt: skip
        assert "result" in answer, answer
        self.notify("initialized", {})

    async def close(self) -> int:
        if self.proc.returncode is None:
            try:
                await self.request("shutdown", None)
                self.notify("exit", None)
                await asyncio.wait_for(self.proc.wait(), HANG_GUARD_S)
            except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
                self.proc.kill()
                await self.proc.wait()
        self._reader.cancel()
        await asyncio.gather(self._err, return_exceptions=True)
        return self.proc.returncode or 0
