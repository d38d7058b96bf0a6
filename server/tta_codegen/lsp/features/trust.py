"""Workspace trust from the editor: the client's flag, its changes, and ``tta.trustWorkspace``.

The client says whether the user trusts the folder (``initializationOptions.workspaceTrusted``,
read in ``server.on_initialize``; then the ``tta/didChangeWorkspaceTrust`` notification,
``{trusted}``). ``tta.trustWorkspace`` (``{revoke?}``) records the folder and the hash of
its config exactly as ``tta-codegen trust`` does, for clients without a trust model of
their own (Neovim's ``:TTATrust``). Either way the config is reloaded at once.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import Field
from pygls.exceptions import JsonRpcInvalidParams

from tta_codegen import trust
from tta_codegen.config import workspace_fingerprint
from tta_codegen.lsp.params import _Params
from tta_codegen.lsp.server import TtaLanguageServer, parse_params, server

DID_CHANGE_TRUST = "tta/didChangeWorkspaceTrust"


class TrustWorkspaceParams(_Params):
    revoke: bool = False


class TrustChangedParams(_Params):
    trusted: bool = Field(strict=True)


def _plain(params: Any) -> Any:
    """pygls hands unknown methods' params over as attribute objects: back to a dict."""
    if params is None or isinstance(params, dict):
        return params
    return {k: v for k, v in vars(params).items() if not k.startswith("_")}


@server.feature(DID_CHANGE_TRUST)
def on_trust_changed(ls: TtaLanguageServer, params: Any) -> None:
    parsed = TrustChangedParams.model_validate(_plain(params) or {})
    ls.client_trusted = parsed.trusted
    ls.reload_config()


@server.command("tta.trustWorkspace")
async def cmd_trust_workspace(ls: TtaLanguageServer, *args: Any) -> dict[str, Any]:
    params = parse_params(TrustWorkspaceParams, args, "tta.trustWorkspace") if args else None
    root = ls.workspace_root
    if root is None:
        raise JsonRpcInvalidParams("tta.trustWorkspace: the server has no workspace folder")
    if params is not None and params.revoke:
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


server.on_initialized.append(_announce)
