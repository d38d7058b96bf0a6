"""Fits streamed code to the indentation of the place it goes, line by line.

Models answer at column 0 whatever the cursor's depth (a method body, a nested block),
and a rewrite must keep the selection's indentation. The first non-blank line fixes the
model's base indent; every later line is shifted by the difference. Lines are passed on
as soon as they are complete, so streaming continues at line granularity.
"""

from __future__ import annotations


def leading_ws(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def common_indent(text: str) -> str:
    """The indentation shared by every non-blank line (what a selection sits at)."""
    indents = [leading_ws(line) for line in text.splitlines() if line.strip()]
    if not indents:
        return ""
    first = min(indents, key=len)
    return first if all(i.startswith(first) for i in indents) else ""


class Reindenter:
    """Shift lines from the model's base indent to ``target``.

    ``first_line_prefixed``: the first line lands after text already on the document's
    line (the cursor's own indentation), so it gets no indent of its own.
    """

    def __init__(self, target: str, *, first_line_prefixed: bool = False) -> None:
        self.target = target
        self.first_line_prefixed = first_line_prefixed
        self._base: str | None = None
        self._buffer = ""
        self._first = True

    def feed(self, text: str) -> str:
        self._buffer += text
        out: list[str] = []
        while True:
            nl = self._buffer.find("\n")
            if nl < 0:
                break
            line, self._buffer = self._buffer[: nl + 1], self._buffer[nl + 1 :]
            out.append(self._line(line))
        return "".join(out)

    def finish(self) -> str:
        line, self._buffer = self._buffer, ""
        return self._line(line) if line else ""

    def _line(self, line: str) -> str:
        first, self._first = self._first, False
        if not line.strip():
            return line.lstrip(" \t") if line.strip(" \t") == "" and line.endswith("\n") else line
        if self._base is None:
            self._base = leading_ws(line)
        ws = leading_ws(line)
        body = line[len(ws) :]
        rest = ws[len(self._base) :] if ws.startswith(self._base) else ws
        if first and self.first_line_prefixed:
            return rest + body
        return self.target + rest + body


def reindent(text: str, target: str, *, first_line_prefixed: bool = False) -> str:
    r = Reindenter(target, first_line_prefixed=first_line_prefixed)
    return r.feed(text) + r.finish()
