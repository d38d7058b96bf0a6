"""File handling for ``tta-codegen generate``: where to insert, and writing without loss.

Files are read and written as bytes decoded as UTF-8, so line endings and everything the
generation did not touch come back byte for byte. Writes go to a temporary file in the
same folder that then replaces the target in one rename: an interrupted run never leaves
a half-written file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


class FileProblem(Exception):
    """A file the user named cannot be used; the message says why, in one line."""


def read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileProblem(f"{path}: no such file (use --out to create a new file)") from None
    except IsADirectoryError:
        raise FileProblem(f"{path}: is a directory") from None
    except OSError as exc:
        raise FileProblem(f"{path}: cannot be read: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise FileProblem(f"{path}: is not UTF-8 text") from None


def line_count(text: str) -> int:
    if not text:
        return 0
    return text.count("\n") + (0 if text.endswith("\n") else 1)


@dataclass(frozen=True)
class InsertionPoint:
    offset: int  # where the code goes, in characters
    line: int  # 1-based line the code will start on


def insertion_point(text: str, line: int | None) -> InsertionPoint:
    """Before line ``line`` (1-based); ``None`` or one past the last line means the end."""
    lines = line_count(text)
    if line is None:
        line = lines + 1
    if line < 1 or line > lines + 1:
        raise FileProblem(f"--line {line} is outside the file (1..{lines + 1}; {lines + 1} = end)")
    if line == lines + 1:
        return InsertionPoint(len(text), line)
    offset = 0
    for _ in range(line - 1):
        offset = text.index("\n", offset) + 1
    return InsertionPoint(offset, line)


def splice_code(text: str, start: int, end: int, code: str) -> str:
    """``text`` with ``[start, end)`` replaced by ``code``, in the file's line endings.

    Nothing else is added: the engine already framed the code (its own line, blank lines,
    a final newline), and the gates judged exactly ``text[:start] + code + text[end:]``.
    """
    newline = "\r\n" if "\r\n" in text else "\n"
    code = code.replace("\r\n", "\n")
    if newline != "\n":
        code = code.replace("\n", newline)
    return text[:start] + code + text[end:]


def write_atomic(path: Path, text: str) -> None:
    """Replace (or create) ``path`` with ``text`` in one rename, keeping its permissions."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise FileProblem(f"{path}: cannot be written: {exc.strerror}") from None
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise FileProblem(f"{path}: cannot be written: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        else:
            # mkstemp makes 0600 files; a new file gets the usual umask-based mode.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise FileProblem(f"{path}: cannot be written: {exc.strerror}") from None
