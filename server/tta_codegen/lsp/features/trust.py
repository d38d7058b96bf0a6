"""Workspace trust from the editor: the client's flag, its changes, and ``tta.trustWorkspace``.

The client says whether the user trusts the folder (``initializationOptions.workspaceTrusted``,
read in ``server.on_initialize``; then the ``tta/didChangeWorkspaceTrust`` notification,
``{trusted}``). ``tta.trustWorkspace`` (``{revoke?}``) records the folder and the hash of
its config exactly as ``tta-codegen trust`` does, for clients without a trust model of
their own (Neovim's ``:TTATrust``). Either way the config is reloaded at once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pydantic import Field, ValidationError
from pygls.exceptions import JsonRpcInvalidParams

from tta_codegen import trust
from tta_codegen.config import workspace_fingerprint
from tta_codegen.lsp.params import _Params, parse_params
from tta_codegen.lsp.server import TtaLanguageServer

log = logging.getLogger(__name__)

DID_CHANGE_TRUST = "tta/didChangeWorkspaceTrust"


class TrustWorkspaceParams(_Params):
    revoke: bool = False


class TrustChangedParams(_Params):
    trusted: bool = Field(strict=True)


def _plain(params: Any) -> Any:
    """pygls hands an unknown method's params over as a named tuple: back to a dict."""
    as_dict = getattr(params, "_asdict", None)
    return as_dict() if callable(as_dict) else params


def register(server: TtaLanguageServer) -> None:
    server.feature(DID_CHANGE_TRUST)(on_trust_changed)
    server.command("tta.trustWorkspace")(cmd_trust_workspace)
    server.on_initialized.append(_announce)


def on_trust_changed(ls: TtaLanguageServer, params: Any) -> None:
    try:
        parsed = TrustChangedParams.model_validate(_plain(params))
    except ValidationError:
        log.warning("%s: ignored, params must be {trusted: boolean}", DID_CHANGE_TRUST)
        return
    ls.client_trusted = parsed.trusted
    ls.reload_config()


async def cmd_trust_workspace(ls: TtaLanguageServer, *args: Any) -> dict[str, Any]:
    params = parse_params(TrustWorkspaceParams, args, "tta.trustWorkspace", optional=True)
    root = ls.workspace_root
    if root is None:
        raise JsonRpcInvalidParams("tta.trustWorkspace: the server has no workspace folder")
    if params.revoke:
        await asyncio.to_thread(trust.record, root, None)
    else:
        digest = await asyncio.to_thread(workspace_fingerprint, root)
        if digest is None:
            raise JsonRpcInvalidParams(
                f"tta.trustWorkspace: {root} has no tta-codegen.toml or [tool.tta-codegen]"
            )
        await asyncio.to_thread(trust.record, root, digest)
    loaded = ls.reload_config()
    return {"root": str(root), "trusted": not loaded.ignored, "store": str(trust.store_path())}


async def _announce(ls: TtaLanguageServer) -> None:
    ls.announce_trust()
