"""Pure text diffs: the smallest replacement, a common prefix, a streamed rewrite's plan,
unified diffs.

Plain functions over strings, with no editor in sight, so every rule is unit-tested
in-process; the edit session (``lsp/edit_session.py``), the document tracker and the
agent's edits turn their answers into edits.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

_CHUNK = 1 << 14  # compared as whole slices (memcmp) before a character at a time


def common_prefix(a: str, b: str) -> int:
    """How many leading characters ``a`` and ``b`` share (a chunk at a time, then one)."""
    n = min(len(a), len(b))
    pre = 0
    while pre + _CHUNK <= n and a[pre : pre + _CHUNK] == b[pre : pre + _CHUNK]:
        pre += _CHUNK
    while pre < n and a[pre] == b[pre]:
        pre += 1
    return pre


def minimal_replacement(old: str, new: str) -> tuple[int, int, str]:
    """``(start, end, text)``: replacing ``old[start:end]`` with ``text`` gives ``new``.

    Common prefix and suffix are trimmed, so an edit touches only what changed (full-sync
    clients and whole-file agent writes are turned into minimal edits with it). Equal
    stretches are skipped a chunk at a time, so a one-line change in a 20 MB document costs
    a few comparisons of whole chunks, not a Python step per character.
    """
    n = min(len(old), len(new))
    pre = common_prefix(old, new)
    suf = 0
    limit = n - pre
    lo, ln = len(old), len(new)
    while suf + _CHUNK <= limit and (
        old[lo - suf - _CHUNK : lo - suf] == new[ln - suf - _CHUNK : ln - suf]
    ):
        suf += _CHUNK
    while suf < limit and old[lo - 1 - suf] == new[ln - 1 - suf]:
        suf += 1
    return pre, lo - suf, new[pre : ln - suf]


@dataclass
class RewriteState:
    """How far a streamed rewrite of a selection has got.

    ``received``: the reply so far. ``prefix_phase``: the reply still repeats the start of
    the original (nothing is sent while it does). ``pending_line``: the partial line not
    yet planned with :func:`plan_lines`.
    """

    received: str = ""
    prefix_phase: bool = True
    pending_line: str = ""


_LOOKAHEAD = 40


def plan_lines(new: list[str], tail: list[str]) -> tuple[int, int, str, int]:
    """Turn new lines into (kept-before, replaced span, replacement, kept-after).

    ``tail``: the original's lines not yet passed. Greedy: a new line equal to the next
    original line keeps it; equal to one a little further (and not trivially short) deletes
    the lines in between; otherwise it is inserted. Kept lines before the first change and
    after the last need no edit. Lengths are in characters.
    """
    ops: list[tuple[str, str]] = []  # ("keep" | "del" | "ins", text)
    t = 0
    for line in new:
        if t < len(tail) and tail[t] == line:
            ops.append(("keep", line))
            t += 1
            continue
        found = -1
        # Short or blank lines repeat too often to jump ahead for; they may only skip the
        # one line being replaced.
        reach = _LOOKAHEAD if len(line.strip()) >= 4 else 1
        for j in range(t + 1, min(len(tail), t + 1 + reach)):
            if tail[j] == line:
                found = j
                break
        if found >= 0:
            ops.extend(("del", tail[x]) for x in range(t, found))
            ops.append(("keep", line))
            t = found + 1
        else:
            ops.append(("ins", line))
    first = next((i for i, (k, _) in enumerate(ops) if k != "keep"), len(ops))
    last = max((i for i, (k, _) in enumerate(ops) if k != "keep"), default=-1)
    lead = sum(len(x) for _, x in ops[:first])
    skip = sum(len(x) for _, x in ops[last + 1 :]) if last >= 0 else 0
    span = 0
    text: list[str] = []
    for kind, x in ops[first : last + 1]:
        if kind in ("keep", "del"):
            span += len(x)
        if kind in ("keep", "ins"):
            text.append(x)
    if last < 0:
        return lead, 0, "", 0
    return lead, span, "".join(text), skip


def unified_diff(label: str, before: str, after: str, *, new_file: bool = False) -> str:
    """A unified diff of two versions of a file, as ``git diff`` prints it.

    A last line without a newline gets git's ``\\ No newline at end of file`` marker, so
    the patch applies as printed. ``new_file`` diffs from ``/dev/null``.
    """
    out: list[str] = []
    for line in difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile="/dev/null" if new_file else f"a/{label}",
        tofile=f"b/{label}",
    ):
        out.append(line)
        if not line.endswith("\n"):
            out.append("\n\\ No newline at end of file\n")
    return "".join(out)
