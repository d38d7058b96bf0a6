"""The language server object, its lifecycle handlers, and the one place features register.

:func:`create_server` builds the server and registers, in the order
``lsp/features/__init__.py`` states, every feature module's handlers
(``register(server)`` each). Handlers read their params, call a flow (e.g.
``features/generate.py``), and answer. No generation logic lives here; see ``engine``
for the pipeline and ``lsp/client.py`` for how text reaches the editor.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from cattrs import Converter
from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import default_converter
from pygls.uris import to_fs_path

from tta_codegen import __version__
from tta_codegen.background import spawn
from tta_codegen.config import Config, LoadedConfig, load_config
from tta_codegen.context.types import ContextProvider
from tta_codegen.engine import Engine
from tta_codegen.lsp.client import EditorClient
from tta_codegen.lsp.documents import DocumentTracker
from tta_codegen.lsp.edit_session import StreamingEditSession
from tta_codegen.lsp.outcomes import OutcomeState
from tta_codegen.lsp.protocol import TrackingProtocol
from tta_codegen.lsp.review_state import ReviewRegistry
from tta_codegen.wiring import build_engine

log = logging.getLogger(__name__)

SETTINGS_SECTION = "ttaCodegen"


@functools.cache
def process_converter() -> Converter:
    """pygls' message converter, one per process (a process serves one editor).

    cattrs compiles a structure and an unstructure function for each message type the
    first time a converter meets it (~20 ms each). Made once, what one server compiled
    stays compiled, and a process forked after warming it (the test suite's fork server,
    tests/forkserver.py) starts with them all."""
    converter: Converter = default_converter()  # type: ignore[no-untyped-call]
    return converter


class TtaLanguageServer(LanguageServer):
    """Server state: configuration, the engine built from it, and live generations."""

    protocol: TrackingProtocol

    def __init__(self) -> None:
        super().__init__(
            "tta-codegen",
            __version__,
            protocol_cls=TrackingProtocol,
            converter_factory=process_converter,
        )
        self.workspace_root: Path | None = None
        self.init_options: dict[str, Any] | None = None
        self.client_settings: dict[str, Any] | None = None
        # The client vouches for the workspace (VS Code's workspace trust, Neovim's
        # trusted_workspaces): initializationOptions.workspaceTrusted, tta/didChangeWorkspaceTrust.
        self.client_trusted = False
        self.trust_notice: str | None = None  # the last untrusted-keys message shown
        self.loaded = LoadedConfig(Config())
        # Set by the context feature once the workspace is known; shared by every engine.
        self.context_provider: ContextProvider | None = None
        self.engine = self._make_engine(self.loaded.config)
        # The one door to the editor; its capabilities are read at initialize.
        self.editor = EditorClient(self, self.protocol.tracker)
        # Live streaming regions (generations, and one-edit region replacements).
        self.sessions: list[StreamingEditSession] = []
        self._old_engines: list[Engine] = []
        # Pending changes and running generations (review mode; lsp/review_state.py).
        self.review = ReviewRegistry()
        # Outcome rows in flight, accepted regions watched for retention (lsp/outcomes.py).
        self.outcomes = OutcomeState()
        # Feature modules subscribe here: pygls allows one handler per LSP method, and
        # several features (config, context index, reviews) care about the same events.
        self.on_open: list[
            Callable[[TtaLanguageServer, types.DidOpenTextDocumentParams], None]
        ] = []
        self.on_change: list[
            Callable[[TtaLanguageServer, types.DidChangeTextDocumentParams], None]
        ] = []
        self.on_save: list[
            Callable[[TtaLanguageServer, types.DidSaveTextDocumentParams], None]
        ] = []
        self.on_close: list[
            Callable[[TtaLanguageServer, types.DidCloseTextDocumentParams], None]
        ] = []
        self.on_initialized: list[Callable[[TtaLanguageServer], Awaitable[None]]] = []
        self.code_action_providers: list[
            Callable[[TtaLanguageServer, types.CodeActionParams], list[types.CodeAction]]
        ] = []

    @property
    def tracker(self) -> DocumentTracker:
        return self.protocol.tracker

    def report_server_error(self, error: Exception, source: Any) -> None:
        # A message the reader could not take gets its JSON-RPC error answer, not a popup.
        if not self.protocol.answer_rejected(error):
            super().report_server_error(error, source)

    def _make_engine(self, config: Config) -> Engine:
        return build_engine(
            config,
            workspace_root=self.workspace_root,
            context=self.context_provider,
        )

    def set_context_provider(self, provider: ContextProvider | None) -> None:
        self.context_provider = provider
        self.engine.context = provider

    def reload_config(self, *, announce: bool = True) -> LoadedConfig:
        loaded = load_config(
            self.workspace_root,
            editor_settings=[
                ("initializationOptions", self.init_options),
                (f"workspace/configuration {SETTINGS_SECTION}", self.client_settings),
            ],
            trusted=self.client_trusted,
        )
        if (
            loaded.config != self.loaded.config
            or self.engine.prompts.workspace_root != self.workspace_root
        ):
            # Generations in flight keep their engine; close it once they are done.
            self._old_engines.append(self.engine)
            self.engine = self._make_engine(loaded.config)
            if not self.sessions:
                self._close_old_engines()
        self.loaded = loaded
        if announce and loaded.issues:
            self.window_show_message(
                types.ShowMessageParams(
                    type=types.MessageType.Error, message="tta-codegen: " + loaded.error_message()
                )
            )
        if announce:
            self.announce_trust()
        return loaded

    def announce_trust(self) -> None:
        """Say once (again when it changes) which workspace keys are ignored for lack of trust."""
        notice = self.loaded.trust_message()
        if notice is not None and notice != self.trust_notice:
            log.warning("%s", notice)
            self.window_show_message(
                types.ShowMessageParams(
                    type=types.MessageType.Warning, message="tta-codegen: " + notice
                )
            )
        self.trust_notice = notice

    def _close_old_engines(self) -> None:
        engines, self._old_engines = self._old_engines, []
        for engine in engines:
            spawn(engine.aclose())

    def session_done(self, session: StreamingEditSession) -> None:
        session.close()
        if session in self.sessions:
            self.sessions.remove(session)
        if not self.sessions and self._old_engines:
            self._close_old_engines()


def on_initialize(ls: TtaLanguageServer, params: types.InitializeParams) -> None:
    root_uri = params.root_uri
    if params.workspace_folders:
        root_uri = params.workspace_folders[0].uri
    if root_uri:
        path = to_fs_path(root_uri)
        ls.workspace_root = Path(path) if path else None
    elif params.root_path:
        ls.workspace_root = Path(params.root_path)
    opts = params.initialization_options
    if isinstance(opts, dict):
        # Editors nest our settings under their section name, or send them flat.
        section = opts.get(SETTINGS_SECTION)
        ls.init_options = dict(section) if isinstance(section, dict) else dict(opts)
        # Not a config key: the client's word on workspace trust, beside the settings.
        trusted = opts.get("workspaceTrusted", ls.init_options.get("workspaceTrusted"))
        ls.init_options.pop("workspaceTrusted", None)
        ls.client_trusted = trusted is True
    ls.editor.initialize(params.capabilities)
    ls.reload_config(announce=False)


async def on_initialized(ls: TtaLanguageServer, params: types.InitializedParams) -> None:
    await pull_client_settings(ls)
    if ls.loaded.issues:
        ls.reload_config(announce=True)
    # Build the provider clients now, in a worker thread: the first generation would
    # otherwise wait for their imports and SSL context (~0.1-0.2 s).
    spawn(ls.engine.router.warm())
    for hook in ls.on_initialized:
        try:
            await hook(ls)
        except Exception:
            log.exception("initialized hook %r failed", hook)


async def pull_client_settings(ls: TtaLanguageServer) -> None:
    if not ls.editor.capabilities.configuration:
        return
    try:
        result = await ls.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section=SETTINGS_SECTION)])
        )
    except Exception as exc:  # a client that claims support but errors: keep file config
        log.warning("workspace/configuration failed: %s", exc)
        return
    value = result[0] if result else None
    ls.client_settings = value if isinstance(value, dict) and value else None
    ls.reload_config(announce=False)


async def on_configuration_changed(
    ls: TtaLanguageServer, params: types.DidChangeConfigurationParams
) -> None:
    settings = params.settings
    if isinstance(settings, dict) and isinstance(settings.get(SETTINGS_SECTION), dict):
        ls.client_settings = settings[SETTINGS_SECTION]
        ls.reload_config()
    else:
        await pull_client_settings(ls)
        ls.reload_config()


def _dispatch(
    hooks: list[Callable[[TtaLanguageServer, Any], None]], ls: TtaLanguageServer, params: Any
) -> None:
    for hook in hooks:
        try:
            hook(ls, params)
        except Exception:  # one feature's bug must not break document sync for the rest
            log.exception("document hook %r failed", hook)


def on_did_open(ls: TtaLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    _dispatch(ls.on_open, ls, params)


def on_did_change(ls: TtaLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
    _dispatch(ls.on_change, ls, params)


def on_did_close(ls: TtaLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
    _dispatch(ls.on_close, ls, params)


def on_did_save(ls: TtaLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
    # Saving tta-codegen.toml (or pyproject.toml) applies it without a restart.
    name = Path(to_fs_path(params.text_document.uri) or "").name
    if name in ("tta-codegen.toml", "pyproject.toml", "config.toml"):
        ls.reload_config()
    _dispatch(ls.on_save, ls, params)


def on_code_action(
    ls: TtaLanguageServer, params: types.CodeActionParams
) -> list[types.CodeAction] | None:
    """Every feature's actions for this range; none are offered for an unopened document."""
    actions: list[types.CodeAction] = []
    for provider in ls.code_action_providers:
        try:
            actions.extend(provider(ls, params))
        except Exception:
            log.exception("code action provider %r failed", provider)
    only = params.context.only
    if only:
        actions = [
            a
            for a in actions
            if a.kind and any(a.kind == k or a.kind.startswith(f"{k}.") for k in only)
        ]
    return actions or None


def _register_lifecycle(server: TtaLanguageServer) -> None:
    """Initialize, configuration, document sync and code actions: each dispatches to the
    hook lists the feature modules fill."""
    server.feature(types.INITIALIZE)(on_initialize)
    server.feature(types.INITIALIZED)(on_initialized)
    server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)(on_configuration_changed)
    server.feature(types.TEXT_DOCUMENT_DID_OPEN)(on_did_open)
    server.feature(types.TEXT_DOCUMENT_DID_CHANGE)(on_did_change)
    server.feature(types.TEXT_DOCUMENT_DID_CLOSE)(on_did_close)
    server.feature(types.TEXT_DOCUMENT_DID_SAVE)(on_did_save)
    server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[
                types.CodeActionKind.RefactorRewrite,
                types.CodeActionKind.QuickFix,
            ],
            resolve_provider=False,
        ),
    )(on_code_action)


def create_server() -> TtaLanguageServer:
    """The server with every feature registered, in the order ``features.FEATURES`` states."""
    from tta_codegen.lsp.features import FEATURES  # feature modules import this one

    server = TtaLanguageServer()
    _register_lifecycle(server)
    for feature in FEATURES:
        feature.register(server)
    return server
