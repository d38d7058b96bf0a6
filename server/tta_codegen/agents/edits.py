"""Turning an agent's file change into one text replacement, and keeping it inside the
workspace.

The agent works in its own sandbox, where the workspace is mounted at an absolute path
(``/workspace`` by default). Its paths are mapped onto the editor's workspace folder and
refused when they point anywhere else (``..``, another absolute path, a symlink out).
Each operation becomes the smallest single replacement of the current text, so the
editor applies a small visible edit and keeps the user's cursor where it can.
"""

from __future__ import annotations

import posixpath
from pathlib import Path, PurePosixPath

from tta_codegen.agents.events import EditOp, InsertText, ReplaceText, WriteFile
from tta_codegen.textdiff import minimal_replacement


class AgentEditError(Exception):
    """The change cannot be applied; the message says why, for the user."""


def sandbox_relative(path: str, sandbox_root: str) -> PurePosixPath:
    """``/workspace/pkg/a.py`` → ``pkg/a.py``; raises when it leaves the workspace."""
    if not path or "\x00" in path:
        raise AgentEditError(f"the agent named an invalid path {path!r}")
    root = posixpath.normpath("/" + sandbox_root.strip("/")) if sandbox_root.strip("/") else "/"
    full = path if path.startswith("/") else posixpath.join(root, path)
    norm = posixpath.normpath(full)
    if root == "/":
        rel = norm.lstrip("/")
    elif norm == root:
        rel = ""
    elif norm.startswith(root + "/"):
        rel = norm[len(root) + 1 :]
    else:
        raise AgentEditError(
            f"the agent wrote {path!r}, outside the workspace ({sandbox_root}): refused"
        )
    if not rel or rel == ".":
        raise AgentEditError(f"the agent named the workspace itself ({path!r}), not a file")
    return PurePosixPath(rel)


def workspace_file(root: Path, rel: PurePosixPath) -> Path:
    """The file ``rel`` names under ``root``, resolved; refuses any escape (symlinks too).

    Touches the disk (``resolve``): call it off the event loop.
    """
    if rel.is_absolute() or ".." in rel.parts:
        raise AgentEditError(f"{rel} is not a path inside the workspace: refused")
    base = root.resolve()
    target = (base / Path(*rel.parts)).resolve()
    if target != base and base not in target.parents:
        raise AgentEditError(f"{rel} leads outside the workspace ({target}): refused")
    if target == base:
        raise AgentEditError(f"{rel} is the workspace itself, not a file")
    return target


def replacement(text: str | None, op: EditOp, name: str) -> tuple[int, int, str]:
    """The single replacement ``(start, end, new)`` of ``text`` that performs ``op``.

    ``text`` is None for a file that does not exist yet; only a write may create one.
    """
    if isinstance(op, WriteFile):
        return minimal_replacement(text or "", op.content)
    if text is None:
        raise AgentEditError(f"the agent edited {name}, which does not exist in the workspace")
    if isinstance(op, ReplaceText):
        if not op.old:
            raise AgentEditError(f"the agent's edit of {name} has an empty text to replace")
        count = text.count(op.old)
        if count == 0:
            raise AgentEditError(
                f"the agent's edit of {name} replaces text that is not in the editor's copy "
                "(the file differs from the agent's sandbox)"
            )
        if count > 1:
            raise AgentEditError(
                f"the agent's edit of {name} replaces text found {count} times: ambiguous"
            )
        at = text.index(op.old)
        return minimal_replacement(text, text[:at] + op.new + text[at + len(op.old) :])
    if isinstance(op, InsertText):
        lines = text.split("\n")
        if not 0 <= op.line <= len(lines):
            raise AgentEditError(
                f"the agent inserts after line {op.line} of {name}, which has {len(lines)} lines"
            )
        if op.line == len(lines):
            new = text + "\n" + op.text
        else:
            at = sum(len(line) + 1 for line in lines[: op.line])
            new = text[:at] + op.text + "\n" + text[at:]
        return minimal_replacement(text, new)
    raise AgentEditError(f"unknown edit operation {op!r}")  # pragma: no cover


__all__ = ["AgentEditError", "replacement", "sandbox_relative", "workspace_file"]
