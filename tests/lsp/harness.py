"""An editor, as far as the server can tell: a pytest-lsp client that keeps documents.

It applies the server's ``workspace/applyEdit`` to its own copy of each document, bumps
the version and sends ``didChange`` the way VS Code does, so the server sees the same
conversation it would see from a real editor. ``strict_versions`` makes it reject edits
made against an old version (VS Code's behaviour); ``type_text`` plays a user typing.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from cattrs import Converter
from lsprotocol import types
from pygls.protocol import JsonRPCResponseMessage, default_converter
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import PositionCodec
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import register_lsp_features

from tests.guards import HANG_GUARD_S, until


@dataclass
class EditRecord:
    uri: str
    version: int | None
    edits: list[types.TextEdit]
    applied: bool
    at: float

    @property
    def bytes(self) -> int:
        return sum(len(e.new_text.encode("utf-8")) for e in self.edits)


@dataclass
class Editor:
    client: LanguageClient
    root: Path
    docs: dict[str, TextDocument] = field(default_factory=dict)
    edits: list[EditRecord] = field(default_factory=list)
    strict_versions: bool = True
    reject_all: bool = False
    # Called after an edit is applied but before didChange is sent (to simulate typing).
    on_edit: Any = None
    encoding: str = "utf-16"
    created: list[str] = field(default_factory=list)
    server_capabilities: types.ServerCapabilities | None = None

    def uri(self, name: str) -> str:
        return (self.root / name).as_uri()

    def open(self, name: str, text: str, language_id: str = "python") -> str:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        uri = path.as_uri()
        self.docs[uri] = TextDocument(
            uri, text, version=0, position_codec=PositionCodec(encoding=self.encoding)
        )
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                types.TextDocumentItem(uri=uri, language_id=language_id, version=0, text=text)
            )
        )
        return uri

    def text(self, uri: str) -> str:
        return self.docs[uri].source

    def close(self, uri: str) -> None:
        self.docs.pop(uri)
        self.client.text_document_did_close(
            types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri=uri))
        )

    def _change(self, uri: str, rng: types.Range, text: str) -> None:
        doc = self.docs[uri]
        change = types.TextDocumentContentChangePartial(range=rng, text=text)
        doc.apply_change(change)
        doc.version = (doc.version or 0) + 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=doc.version),
                content_changes=[change],
            )
        )

    def type_text(self, uri: str, line: int, character: int, text: str) -> None:
        pos = types.Position(line=line, character=character)
        self._change(uri, types.Range(pos, pos), text)

    def replace(self, uri: str, rng: types.Range, text: str) -> None:
        self._change(uri, rng, text)

    def apply_edit(self, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        loop = asyncio.get_running_loop()
        edit = params.edit
        for dc in edit.document_changes or []:
            if isinstance(dc, types.CreateFile):
                path = Path(unquote(urlparse(dc.uri).path))
                if not path.exists():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text("", encoding="utf-8")
                self.created.append(dc.uri)
                continue
            if not isinstance(dc, types.TextDocumentEdit):
                return types.ApplyWorkspaceEditResult(applied=False, failure_reason="unsupported")
            uri = dc.text_document.uri
            doc = self.docs.get(uri)
            edits = [e for e in dc.edits if isinstance(e, types.TextEdit)]
            if doc is None:
                # Not open: the editor edits the file on disk (as VS Code does, in the background).
                path = Path(unquote(urlparse(uri).path))
                disk = TextDocument(
                    uri,
                    path.read_text(encoding="utf-8"),
                    position_codec=PositionCodec(encoding=self.encoding),
                )
                for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character))[
                    ::-1
                ]:
                    disk.apply_change(
                        types.TextDocumentContentChangePartial(range=e.range, text=e.new_text)
                    )
                path.write_text(disk.source, encoding="utf-8")
                self.edits.append(
                    EditRecord(uri, dc.text_document.version, edits, True, loop.time())
                )
                continue
            ok = not self.reject_all
            if ok and self.strict_versions and dc.text_document.version is not None:
                ok = dc.text_document.version == doc.version
            self.edits.append(EditRecord(uri, dc.text_document.version, edits, ok, loop.time()))
            if not ok:
                return types.ApplyWorkspaceEditResult(
                    applied=False, failure_reason="document version mismatch"
                )
            # Edits in one TextDocumentEdit refer to the same original text: apply bottom-up.
            for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character))[
                ::-1
            ]:
                self._change(uri, e.range, e.new_text)
            if self.on_edit is not None:
                self.on_edit(self, uri)
        for uri, changes in (edit.changes or {}).items():
            for e in sorted(changes, key=lambda e: (e.range.start.line, e.range.start.character))[
                ::-1
            ]:
                self._change(uri, e.range, e.new_text)
        return types.ApplyWorkspaceEditResult(applied=True)

    async def execute(self, command: str, argument: Any, **kw: Any) -> Any:
        return await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=command, arguments=[argument], **kw)
        )

    def start(self, command: str, argument: Any, **kw: Any) -> tuple[str, asyncio.Future[Any]]:
        """Send a command without waiting; returns its request id and its answer."""
        msg_id = f"cmd-{uuid.uuid4()}"
        fut = asyncio.ensure_future(
            self.client.protocol.send_request_async(
                types.WORKSPACE_EXECUTE_COMMAND,
                types.ExecuteCommandParams(command=command, arguments=[argument], **kw),
                msg_id=msg_id,
            )
        )
        return msg_id, fut

    def cancel(self, msg_id: str) -> None:
        """What an editor does when the user cancels: ``$/cancelRequest``."""
        self.client.cancel_request(types.CancelParams(id=msg_id))

    async def wait_for(self, predicate: Any, timeout: float = HANG_GUARD_S) -> None:
        """Wait until ``predicate()`` holds; ``timeout`` only guards against a hang."""
        await until(predicate, "the editor's condition", timeout=timeout)

    async def code_actions(
        self, uri: str, rng: types.Range, diagnostics: list[types.Diagnostic] | None = None
    ) -> list[dict[str, Any]]:
        """The server's code actions as raw JSON.

        lsprotocol decodes ``CodeAction | Command`` ambiguously in the client (an action with
        a ``command`` can come back as a Command), so the answer is kept undecoded.
        """
        protocol = self.client.protocol
        msg_id = f"ca-{uuid.uuid4()}"
        answer = protocol.send_request(
            types.TEXT_DOCUMENT_CODE_ACTION,
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=rng,
                context=types.CodeActionContext(diagnostics=diagnostics or []),
            ),
            msg_id=msg_id,
        )
        # send_request registers the result type synchronously; the reply cannot arrive
        # before this line, so the answer is structured as a plain response (raw JSON).
        protocol._result_types[msg_id] = JsonRPCResponseMessage
        result = await asyncio.wrap_future(answer)
        assert result is None or isinstance(result, list), result
        return list(result or [])

    def applied_edits(self) -> list[EditRecord]:
        return [e for e in self.edits if e.applied]


def server_env(extra: dict[str, str] | None = None, home: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    for name in list(env):
        if name.startswith("TTA_CODEGEN_"):
            del env[name]
    if home is not None:
        env["XDG_CONFIG_HOME"] = str(home / ".config")
        env["XDG_DATA_HOME"] = str(home / ".local" / "share")
        env["XDG_CACHE_HOME"] = str(home / ".cache")
    env["TTA_CODEGEN_NO_DAEMON"] = "1"  # never a warm process the developer started
    env.update(extra or {})
    return env


def provider_settings(
    base_url: str, models: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    """initializationOptions that point the server at the fake provider."""
    models = models or ["fake-a"]
    settings: dict[str, Any] = {
        "providers": {"fake": {"kind": "openai", "base_url": base_url}},
        "models": [{"id": m, "provider": "fake"} for m in models],
        "routing": {"default": models[0], "fallbacks": models[1:]},
    }
    for key, value in extra.items():
        settings[key] = value
    return settings


ApplyHook = Callable[[types.ApplyWorkspaceEditParams], types.ApplyWorkspaceEditResult]


# The test process's fork server (tests/forkserver.py), once tests/conftest.py started it.
FORK_SERVER: dict[str, str] = {}
FORK_SERVER_PY = str(Path(__file__).resolve().parents[1] / "forkserver.py")


def tta_command(*args: str, env: dict[str, str] | None = None, process: bool = False) -> list[str]:
    """``tta-codegen ARGS``: forked from the test process's fork server (the same code,
    without a second of imports), or a process of its own: with ``process``, when ``env``
    (the environment the command will run in) sets its own ``PYTHON*`` variables, and outside
    the test suite (the benchmarks)."""
    return python_module_command("tta_codegen", *args, env=env, process=process)


def python_module_command(
    module: str, *args: str, env: dict[str, str] | None = None, process: bool = False
) -> list[str]:
    """``python -m MODULE ARGS`` (the project's root on the path, as the fork server has
    it), forked or a process of its own as :func:`tta_command` decides."""
    sock = FORK_SERVER.get("socket")
    if sock and not process and not (env is not None and _own_interpreter(env)):
        named = [] if module == "tta_codegen" else ["--module", module]
        return [sys.executable, "-S", FORK_SERVER_PY, "connect", sock, *named, *args]
    return [sys.executable, "-m", module, *args]


def _own_interpreter(env: dict[str, str]) -> bool:
    """An interpreter reads ``PYTHON*`` variables as it starts, which a fork skips: a command
    whose environment sets its own gets a process of its own. The fork server honours one,
    the faulthandler a hang guard asks for."""
    return any(
        env.get(k) != os.environ.get(k)
        for k in {*env, *os.environ}
        if k.startswith("PYTHON") and k != "PYTHONFAULTHANDLER"
    )


def serve_command(
    log_level: str = "warning", *, env: dict[str, str] | None = None, process: bool = False
) -> list[str]:
    """Our language server over stdio, as editors start it (:func:`tta_command`)."""
    return tta_command("serve", "--log-level", log_level, env=env, process=process)


@functools.cache
def _shared_converter() -> Converter:
    """One converter for every client in this process. cattrs compiles a structure and an
    unstructure function per message type the first time a converter meets it; a converter
    per client (pytest-lsp's default) did that again in every test, ~0.2 s of CPU each."""
    return default_converter()


@functools.cache
def _capabilities(client_spec: str) -> types.ClientCapabilities:
    """pytest-lsp's ``client_capabilities``, read once per process: it builds a converter of
    its own at every call (~0.15 s of CPU). The object is shared: nothing may change it."""
    return client_capabilities(client_spec)


def _client() -> LanguageClient:
    """pytest-lsp's test client (``make_test_lsp_client``), with the shared converter."""
    client = LanguageClient(converter_factory=_shared_converter)
    register_lsp_features(client)
    return client


async def start_editor(
    root: Path,
    settings: dict[str, Any] | None,
    *,
    env: dict[str, str] | None = None,
    capabilities: str = "visual-studio-code",
    encoding: str = "utf-16",
    log_level: str = "warning",
    server_command: list[str] | None = None,
    apply: ApplyHook | None = None,
    client_info: types.ClientInfo | None = None,
    timeout: float = HANG_GUARD_S,
) -> Editor:
    """Start a language server over stdio and initialise it as ``capabilities``' editor does.

    ``server_command`` is our server by default (``serve_command``); a benchmark passes a
    peer's, a test its own wrapper. ``apply`` handles ``workspace/applyEdit`` instead of
    ``editor.apply_edit``, for a caller that also watches the edits (and calls that itself). A
    server that fails to initialise is stopped before the error is raised. ``timeout`` only
    guards against a hang: start-up and ``initialize`` take about a second idle.
    """
    env = env or server_env(home=root.parent)
    config = ClientServerConfig(
        client_factory=_client,
        server_command=server_command or serve_command(log_level, env=env),
        server_env=env,
    )
    client = await config.start()
    assert isinstance(client, LanguageClient)
    editor = Editor(client, root, encoding=encoding)
    handler: ApplyHook = editor.apply_edit if apply is None else apply

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def _apply(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        return handler(params)

    try:
        result = await asyncio.wait_for(
            client.initialize_session(
                types.InitializeParams(
                    capabilities=_capabilities(capabilities),
                    client_info=client_info,
                    root_uri=root.as_uri(),
                    workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
                    initialization_options=settings,
                )
            ),
            timeout,
        )
    except BaseException:
        await client.stop()
        raise
    editor.server_capabilities = result.capabilities
    return editor


async def stop_editor(editor: Editor) -> None:
    try:
        await asyncio.wait_for(editor.client.shutdown_session(), HANG_GUARD_S)
    finally:
        await editor.client.stop()
