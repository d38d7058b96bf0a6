"""Code out of a model's reply, as it streams: fences and the prose around them removed.

Models wrap code in markdown fences and chat around it ("Here is the function:",
"This works by..."). Only code may reach the user's document, and it should reach it
as soon as it is known to be code. So the extractor works line by line and releases a
partial line early only when its first character proves it cannot be a fence; every
decision depends on whole lines, so any chunking of a reply yields the same code.

It knows nothing of models or documents: text in, code out. :func:`whole_definitions`
keeps the complete part of Python code a reply was cut off in (see docs/refine.md).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from enum import Enum

from tta_codegen.stubs import is_stub, parse_quietly

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<marker>`{3,}|~{3,})(?P<info>[^`]*)$")
# A first line that starts like code in a common language is taken as code.
_CODE_START = re.compile(
    r"""^\s*(
        (def|class|async|await|import|from|return|if|elif|else|for|while|with|try|except|
         raise|yield|assert|lambda|pass|const|let|var|function|export|package|public|private|
         protected|static|fn|use|struct|impl|enum|type|interface|module|namespace|template|
         SELECT|CREATE|INSERT|UPDATE|DELETE|WITH)\b
        | @ | \#\!? | // | /\* | <\? | <! | <[a-zA-Z] | [{}\[\]()] | "{3} | '{3}
        | [A-Za-z_][A-Za-z0-9_.]*\s*(=|\(|\[|:\s*[A-Za-z_\[]|\+=|-=)
    )""",
    re.VERBOSE,
)
_WORD = re.compile(r"[A-Za-z']+")
_LEAD_IN = re.compile(r"^((\d+[.)]|[-*+])\s+)?(\*\*)?[A-Z][A-Za-z' ]*(\*\*)?:(\*\*)?$")


def looks_like_prose(line: str) -> bool:
    """Heuristic: a sentence addressed to a human rather than a line of code."""
    s = line.strip()
    if not s:
        return False
    if _LEAD_IN.match(s):
        return True  # "1. Code:", "- Example:", "Solution:" introduce a block
    if _CODE_START.match(s):
        return False
    words = _WORD.findall(s)
    if len(words) < 3:
        return False
    letters = sum(c.isalpha() or c.isspace() or c in ",.'!?:" for c in s) / len(s)
    return letters > 0.85 or (s[0].isupper() and s.endswith((":", ".", "!", "?")))


def _fence(line: str) -> re.Match[str] | None:
    return _FENCE.match(line.rstrip("\r\n").rstrip())


class _State(Enum):
    PREAMBLE = "preamble"
    FENCED = "fenced"
    RAW = "raw"
    DONE = "done"


@dataclass
class CodeExtractor:
    """Feed model text with :meth:`feed`; it returns the code safe to show now."""

    state: _State = _State.PREAMBLE
    language: str = ""
    saw_prose: bool = False
    _partial: str = ""  # the current incomplete line
    _released: int = 0  # chars of _partial already returned
    _held_blank: list[str] = field(default_factory=list)
    _preamble: list[str] = field(default_factory=list)
    _fence_marker: str = ""
    _fence_indent: int = 0
    _emitted_any: bool = False
    # Set by finish(): a code fence opened and never closed (the reply was cut off).
    unclosed: bool = False

    @property
    def in_code(self) -> bool:
        """True while the reply is inside its code (fenced or not) and it has not ended."""
        return self.state in (_State.FENCED, _State.RAW)

    @property
    def open_fence(self) -> bool:
        """True while inside a fenced block that has not closed yet.

        A last line holding only the closing fence, not yet ended by a newline, counts as
        closed: llama.cpp's fence stop ends the stream right after the backticks.
        """
        if self.state is not _State.FENCED:
            return False
        pending = self._partial
        m = _fence(pending)
        closing = (
            m is not None
            and m.group("marker")[0] == self._fence_marker[0]
            and len(m.group("marker")) >= len(self._fence_marker)
            and not m.group("info").strip()
        )
        return not (pending.strip() and (closing or self._indented_close(pending)))

    @property
    def done(self) -> bool:
        """True once the code block closed: the rest of the reply is prose to ignore."""
        return self.state is _State.DONE

    @property
    def saw_code(self) -> bool:
        return self._emitted_any

    def feed(self, text: str) -> str:
        if self.done or not text:
            return ""
        out: list[str] = []
        data = self._partial + text
        start = 0
        while not self.done:
            nl = data.find("\n", start)
            if nl < 0:
                break
            line = data[start : nl + 1]
            start = nl + 1
            released, self._released = self._released, 0
            out.append(self._line(line, released))
        if self.done:
            self._partial = ""
            self._released = 0
        else:
            self._partial = data[start:]
            out.append(self._early())
        return "".join(out)

    def finish(self) -> str:
        """End of reply: release what was held back, if it is code."""
        out: list[str] = []
        if self._partial and self.state is not _State.DONE:
            released, self._released = self._released, 0
            line, self._partial = self._partial, ""
            out.append(self._line(line, released))
        if self.state is _State.PREAMBLE:
            out.append(self._unfenced_preamble())
        self.unclosed = self.state is _State.FENCED
        self.state = _State.DONE
        return "".join(out)

    # -- internals -------------------------------------------------------------------

    def _strip_indent(self, line: str) -> str:
        if self._fence_indent:
            n = len(line) - len(line.lstrip(" "))
            return line[min(n, self._fence_indent) :]
        return line

    def _emit(self, text: str) -> str:
        if text:
            self._emitted_any = True
        return text

    def _early(self) -> str:
        """Release a partial line whose start proves it is code, not a fence."""
        if self.state not in (_State.FENCED, _State.RAW):
            return ""
        p = self._partial
        stripped = p.lstrip()
        if not stripped or stripped[0] in "`~":
            return ""
        if self.state is _State.RAW and self._held_blank:
            return ""  # after a blank line, a raw reply may turn into prose: wait for the line
        body = self._strip_indent(p)
        prefix_len = len(p) - len(body)
        start = max(self._released - prefix_len, 0) if self._released else 0
        if self._released == 0:
            out = "".join(self._held_blank) + body
            self._held_blank.clear()
        else:
            out = body[start:]
        self._released = len(p)
        return self._emit(out)

    def _line(self, line: str, released: int) -> str:
        if self.state is _State.PREAMBLE:
            return self._preamble_line(line)
        if released:
            body = self._strip_indent(line)
            prefix_len = len(line) - len(body)
            return self._emit(body[max(released - prefix_len, 0) :])
        m = _fence(line)
        if self.state is _State.FENCED:
            if (
                m
                and m.group("marker")[0] == self._fence_marker[0]
                and len(m.group("marker")) >= len(self._fence_marker)
                and not m.group("info").strip()
            ) or self._indented_close(line):
                self.state = _State.DONE
                return ""
        elif m:  # RAW: a fence after unfenced code ends the code
            self.state = _State.DONE
            return ""
        if not line.strip():
            self._held_blank.append(self._strip_indent(line) if line.strip(" \t") else line)
            return ""
        if self.state is _State.RAW and self._held_blank and looks_like_prose(line):
            self.state = _State.DONE
            return ""
        out = "".join(self._held_blank) + self._strip_indent(line)
        self._held_blank.clear()
        return self._emit(out)

    def _indented_close(self, line: str) -> bool:
        """A bare closing fence indented 4+ spaces: markdown would call it code, but small
        models indent their closing fence with the body, and a line of only backticks is
        code in no language we generate. (llama.cpp's fence stop ends the stream there.)"""
        bare = line.strip()
        return (
            len(bare) >= len(self._fence_marker)
            and set(bare) == {self._fence_marker[0]}
            and line[: len(line) - len(line.lstrip())].strip(" \t") == ""
        )

    def _preamble_line(self, line: str) -> str:
        m = _fence(line)
        if m:
            self.state = _State.FENCED
            self._fence_marker = m.group("marker")
            self._fence_indent = len(m.group("indent"))
            self.language = m.group("info").strip().split(" ")[0]
            self.saw_prose = self.saw_prose or any(s.strip() for s in self._preamble)
            self._preamble.clear()
            return ""
        if not self._preamble_has_text() and line.strip() and not looks_like_prose(line):
            # The reply starts with code and no fence: stream it as code.
            self.state = _State.RAW
            self._preamble.clear()
            return self._emit(line)
        self._preamble.append(line)
        return ""

    def _preamble_has_text(self) -> bool:
        return any(s.strip() for s in self._preamble)

    def _unfenced_preamble(self) -> str:
        """A reply that never opened a fence and began with prose: keep its code part."""
        lines = list(self._preamble)
        self._preamble.clear()
        while lines and (not lines[0].strip() or looks_like_prose(lines[0])):
            self.saw_prose = self.saw_prose or bool(lines[0].strip())
            lines.pop(0)
        # Cut at the first blank-line-separated prose paragraph after the code.
        for i in range(1, len(lines)):
            if not lines[i - 1].strip() and looks_like_prose(lines[i]):
                self.saw_prose = True
                lines = lines[:i]
                break
        while lines and not lines[-1].strip():
            lines.pop()
        return self._emit("".join(lines))


def extract_code(reply: str) -> str:
    """The whole-reply form, for callers that already have all the text."""
    ex = CodeExtractor()
    return ex.feed(reply) + ex.finish()


# A line at column 0 that carries on the statement above rather than starting a new one.
# (Matched at a position: no ``^``, which would only match at the start of the text.)
_CARRIES_ON = re.compile(r"(else|elif|except|finally|case)\b|[)\]}]")


def whole_definitions(code: str, required: Collection[str]) -> str | None:
    """The complete top-level statements of cut-off Python code, when they hold what was asked.

    A reply cut off (token limit, a fence that never closed) ends inside its last top-level
    statement; every statement before it ended where the next one began at column 0, so
    those are whole. Returns the code up to the start of the last such statement (ending in
    one newline) when that prefix parses and defines, at top level, every name in
    ``required`` (a ``def``/``class`` with a body, not a stub); otherwise ``None``: the cut
    is inside what was asked for, or nothing was asked for by name, and then nobody can
    tell whether the complete part is the answer. The caller must only deliver the result
    as whole code (the cut-off rest is dropped, never completed by guessing).
    """
    wanted = set(required)
    if not wanted:
        return None
    starts = [
        m.start()
        for m in re.finditer(r"(?m)^(?=[^\s#])", code)
        if m.start() > 0 and not _CARRIES_ON.match(code, m.start())
    ]
    for cut in reversed(starts):
        head = code[:cut].rstrip() + "\n"
        tree = parse_quietly(head)
        if tree is None:
            continue
        defined = {
            node.name
            for node in tree.body
            if isinstance(node, ast.ClassDef)
            or (isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not is_stub(node))
        }
        if wanted <= defined:
            return head
        return None  # dropping more statements can only define less
    return None
