"""File handling for ``tta-codegen generate``: where to insert, and writing without loss.

Files are read and written as bytes decoded as UTF-8, so line endings and everything the
generation did not touch come back byte for byte. Writes go to a temporary file in the
same folder that then replaces the target in one rename: an interrupted run never leaves
a half-written file.

A rename replaces whatever the folder allows, so before it the kernel is asked whether the
*file* may be written (an open for writing, which honours modes, ACLs and read-only
mounts the way an editor's save would), a symlink is followed to the file it names (the
link stays a link), and the replacement keeps the file's mode and owner. These checks
also run before any model call, so a file that cannot take the code costs nothing.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


class FileProblem(Exception):
    """A file the user named cannot be used; the message says why, in one line."""


NOT_TEXT = "is not a text file (binary, or not UTF-8)"


def read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileProblem(f"{path}: no such file (use --out to create a new file)") from None
    except IsADirectoryError:
        raise FileProblem(f"{path}: is a directory") from None
    except OSError as exc:
        raise FileProblem(f"{path}: cannot be read: {exc.strerror}") from None
    # NUL never appears in source text but decodes as UTF-8: it marks a binary file.
    if b"\x00" in data:
        raise FileProblem(f"{path}: {NOT_TEXT}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise FileProblem(f"{path}: {NOT_TEXT}") from None


def check_writable(path: Path) -> None:
    """Refuse, before any work, a file the user may not write or a new file's missing folder.

    An existing file (through its symlink) is opened for writing without truncating: the
    kernel answers as it would for an editor's save, where a mode check by hand would
    miss ACLs and read-only mounts. A file whose mode lets nobody write it is refused
    too, even for root (whom the kernel lets write it): someone marked it read-only, and
    editors ask before they overwrite such a file. A new file needs an existing folder:
    it is not created, so a typo in a path never makes folders appear.
    """
    target = path.resolve()
    if target.is_dir():
        raise FileProblem(f"{path}: is a directory")
    folder = target.parent
    if not target.exists():
        if not folder.is_dir():
            raise FileProblem(f"{path}: folder {path.parent} does not exist (create it first)")
    else:
        try:
            # O_NONBLOCK: a FIFO without a reader must not hang the command.
            fd = os.open(target, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            raise FileProblem(f"{path}: cannot be written: {exc.strerror}") from None
        try:
            mode = os.fstat(fd).st_mode
        finally:
            os.close(fd)
        if not mode & 0o222:
            raise FileProblem(
                f"{path}: cannot be written: it is read-only (chmod u+w {path} to allow it)"
            )
    # The temporary file and the rename need the folder too.
    if not os.access(folder, os.W_OK | os.X_OK):
        raise FileProblem(f"{path}: cannot be written: folder {folder} is not writable")


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
    """Replace (or create) ``path`` with ``text`` in one rename, keeping mode and owner.

    A symlink is resolved first, so the file it points to is replaced and the link stays.
    """
    check_writable(path)
    target = path.resolve()
    folder = target.parent
    try:
        st: os.stat_result | None = target.stat()
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise FileProblem(f"{path}: cannot be written: {exc.strerror}") from None
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise FileProblem(f"{path}: cannot be written: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        if st is not None:
            if (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
                try:
                    os.chown(tmp, st.st_uid, st.st_gid)
                except PermissionError:
                    raise FileProblem(
                        f"{path}: cannot be written without changing its owner "
                        f"(it belongs to uid {st.st_uid}, gid {st.st_gid})"
                    ) from None
            os.chmod(tmp, st.st_mode & 0o7777)
        else:
            # mkstemp makes 0600 files; a new file gets the usual umask-based mode.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except FileProblem:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise FileProblem(f"{path}: cannot be written: {exc.strerror}") from None
