"""From a model's raw continuation to the suggestion shown as ghost text.

Rules, in order: drop code fences a chat model adds; in the middle of a line, complete
that line only; otherwise cut at the end of the block (or statement) the cursor is in,
judged by indentation; never repeat what already follows the cursor; keep the model's
indentation; and drop a suggestion that is empty or whitespace only.
"""

from __future__ import annotations

import re

from tta_codegen.completion.prompt import CompletionPrompt

MAX_LINES = 30
_FENCE_OPEN = re.compile(r"^[ \t]*```[^\n`]*\n")
_FENCE_CLOSE = re.compile(r"(?m)^[ \t]*```")
_BLOCK_OPENERS = (":", "{", "(", "[", "=>", "->")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _strip_fences(raw: str) -> str:
    opened = _FENCE_OPEN.match(raw)
    if opened:
        raw = raw[opened.end() :]
        closed = _FENCE_CLOSE.search(raw)
        if closed:
            raw = raw[: closed.start()]
    return raw


def next_nonblank(suffix: str) -> str:
    """The first non-blank line after the cursor's line, stripped ("" if none)."""
    for line in suffix.split("\n")[1:]:
        if line.strip():
            return line.strip()
    return ""


def _trim_tail(text: str, tail: str) -> str:
    """Remove a repeat of ``tail`` (the rest of the cursor's line) from the end of ``text``."""
    if not tail:
        return text
    while text.rstrip().endswith(tail):
        text = text.rstrip()[: -len(tail)]
    for k in range(min(len(text), len(tail)), 0, -1):
        if text.endswith(tail[:k]):
            text = text[:-k]
            break
    while text.rstrip().endswith(tail):
        text = text.rstrip()[: -len(tail)]
    return text


def _block_end(lines: list[str], prompt: CompletionPrompt) -> tuple[list[str], bool]:
    """The lines that belong to the block or statement the cursor is in; True if it ended."""
    line_prefix = prompt.line_prefix
    base = _indent(line_prefix) if line_prefix.strip() else len(line_prefix)
    first = (line_prefix + lines[0]).rstrip()
    opens = first.endswith(_BLOCK_OPENERS)
    if not opens and line_prefix.strip() and len(lines) > 1:
        # Mid-statement with a complete first line that opens nothing: one line.
        return lines[:1], True
    kept = [lines[0]]
    ended = len(lines) > MAX_LINES
    for line in lines[1:MAX_LINES]:
        if not line.strip():
            kept.append(line)
            continue
        ind = _indent(line)
        if opens and ind <= base:
            if line.strip()[0] in "}])" and ind == base:
                kept.append(line)  # the closing bracket of the block we opened
            ended = True
            break
        if not opens and ind < base:
            ended = True
            break
        kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    return kept, ended


def finish(raw: str, prompt: CompletionPrompt) -> str | None:
    """The suggestion for ``raw``, or None when nothing worth showing is left."""
    text = _strip_fences(raw.replace("\r\n", "\n"))
    line_prefix = prompt.line_prefix
    if not line_prefix.strip() and line_prefix and text.startswith(line_prefix):
        text = text[len(line_prefix) :]  # a chat model repeated the cursor's indentation
    tail = prompt.line_suffix.strip()
    if tail:
        text = _trim_tail(text.split("\n", 1)[0].rstrip(), tail)
    else:
        lines = text.split("\n")
        stop = next_nonblank(prompt.suffix)
        if stop:
            for i, line in enumerate(lines):
                if line.strip() == stop:
                    lines = lines[:i]
                    break
        if not lines:
            return None
        text = "\n".join(_block_end(lines, prompt)[0]).rstrip()
    return text if text.strip() else None


def complete_enough(raw: str, prompt: CompletionPrompt) -> bool:
    """True once more streamed text cannot change the suggestion (stop the model early)."""
    text = _strip_fences(raw)
    if prompt.line_suffix.strip():
        return "\n" in text
    lines = text.split("\n")
    if len(lines) < 2:
        return False
    stop = next_nonblank(prompt.suffix)
    if stop and any(line.strip() == stop for line in lines[:-1]):
        return True
    line_prefix = prompt.line_prefix
    if line_prefix.strip() and not (line_prefix + lines[0]).rstrip().endswith(_BLOCK_OPENERS):
        return True  # a statement completed on its own line
    # Judge complete lines only: the last one may still be growing.
    return _block_end(lines[:-1], prompt)[1]
