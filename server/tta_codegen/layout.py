"""Where inserted code meets the text around it: its own line, and PEP 8's blank lines.

A generation inserted at the end of a line must not glue onto it (``x = 1def add``), and
a top-level ``def``/``class`` wants two blank lines on each side in Python. The engine
frames the code with :func:`lead` before its first line and :func:`trail` after its last,
so the sink, the gates and the file all see the same text. Pure functions on strings: no
editor, no model.
"""

from __future__ import annotations

import re

_TOP_LEVEL_DEF = re.compile(r"^(def |class |async def |@)")
_DEF_STARTS = ("def ", "class ", "async def ", "@")
PEP8_TOP_LEVEL_BLANKS = 2


def starts_top_level_def(first: str) -> bool | None:
    """Whether code starting with ``first`` opens a top-level definition; ``None`` while
    ``first`` is too short to tell (a prefix of ``def ``, ``class ``...)."""
    if _TOP_LEVEL_DEF.match(first):
        return True
    if "\n" not in first and any(s.startswith(first) for s in _DEF_STARTS):
        return None
    return False


def at_line_end(text: str, offset: int) -> bool:
    """True when code before ``offset`` shares its line and nothing follows on that line."""
    line_start = text.rfind("\n", 0, offset) + 1
    nl = text.find("\n", offset)
    rest = text[offset : nl if nl >= 0 else len(text)]
    return bool(text[line_start:offset].strip()) and not rest.strip()


def lead(text: str, offset: int, *, language: str, top_level_def: bool) -> str:
    """What goes before code inserted at ``offset`` so it starts on a line of its own,
    with PEP 8's two blank lines above a top-level definition that follows other code."""
    out = ""
    if at_line_end(text, offset):
        out, above, code_above = "\n", 0, True
    else:
        line_start = text.rfind("\n", 0, offset) + 1
        if text[line_start:offset].strip():
            return ""  # inside a line: an inline insertion, not ours to reshape
        above, code_above = _blank_lines_above(text, line_start)
    if language == "python" and top_level_def and code_above:
        out += "\n" * max(PEP8_TOP_LEVEL_BLANKS - above, 0)
    return out


def trail(text: str, offset: int, code: str, *, language: str) -> str:
    """What goes after ``code`` (inserted at ``offset``): a final newline when the code
    owns its lines, and blank lines before the next top-level code after a definition."""
    if not code:
        return ""
    line_start = text.rfind("\n", 0, offset) + 1
    nl = text.find("\n", offset)
    rest_of_line = text[offset : nl if nl >= 0 else len(text)]
    if text[line_start:offset].strip() and rest_of_line.strip():
        return ""  # inline insertion between text on the same line
    out = "" if code.endswith("\n") else "\n"
    if language == "python" and any(_TOP_LEVEL_DEF.match(line) for line in code.splitlines()):
        below, code_below = _blank_lines_below(text, offset)
        if code_below:
            out += "\n" * max(PEP8_TOP_LEVEL_BLANKS - below, 0)
    return out


def _blank_lines_above(text: str, line_start: int) -> tuple[int, bool]:
    """Whitespace-only lines right above the line starting at ``line_start``, and whether
    anything but whitespace is above them. Walks back a line at a time, so a long
    document is neither copied nor split."""
    count, end = 0, line_start - 1  # end: the newline closing the line above
    while end >= 0:
        start = text.rfind("\n", 0, end) + 1
        if text[start:end].strip():
            return count, True
        count += 1
        end = start - 1
    return count, False


def _blank_lines_below(text: str, offset: int) -> tuple[int, bool]:
    """Lines that will be blank between inserted code (ending in a newline) and the text
    from ``offset``, and whether anything but whitespace follows. A line at a time."""
    count, pos = 0, offset
    while True:
        nl = text.find("\n", pos)
        if nl < 0:
            return count, bool(text[pos:].strip())
        if text[pos:nl].strip():
            return count, True
        count += 1
        pos = nl + 1
