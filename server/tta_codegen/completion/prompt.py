"""The FIM prompt: the code before and after the cursor, trimmed to budgets, plus context.

Budgets cut at line boundaries so a model never sees half a line at the edges. Retrieved
snippets go in front of the prefix as comments (every FIM model has been trained on
files, and a comment is the one thing every language has).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tta_codegen.models.base import ChatMessage, FimPrompt

_LINE_COMMENT = {
    "python": "#",
    "ruby": "#",
    "shellscript": "#",
    "bash": "#",
    "sh": "#",
    "yaml": "#",
    "toml": "#",
    "perl": "#",
    "r": "#",
    "lua": "--",
    "sql": "--",
    "haskell": "--",
}

CURSOR = "<CURSOR>"


@dataclass(frozen=True)
class CompletionPrompt:
    prefix: str  # the code before the cursor, within budget
    suffix: str  # the code after the cursor, within budget
    language: str
    path: str | None = None
    snippets: list[str] = field(default_factory=list)  # retrieved workspace code

    @property
    def line_prefix(self) -> str:
        """What the cursor's line holds before the cursor."""
        return self.prefix.rsplit("\n", 1)[-1]

    @property
    def line_suffix(self) -> str:
        """What the cursor's line holds after the cursor."""
        return self.suffix.split("\n", 1)[0]

    def fim(self) -> FimPrompt:
        """Prefix (with the snippets in front, as comments) and suffix for a FIM model."""
        return FimPrompt(self.context_header() + self.prefix, self.suffix)

    def context_header(self) -> str:
        if not self.snippets:
            return ""
        mark = _LINE_COMMENT.get(self.language, "//")
        lines: list[str] = []
        for snippet in self.snippets:
            lines.extend(f"{mark} {ln}".rstrip() for ln in snippet.splitlines())
            lines.append(mark)
        return "\n".join(lines) + "\n"

    def chat_messages(self) -> list[ChatMessage]:
        """For models without FIM: ask for the missing middle, and nothing else."""
        system = (
            "You are a code completion engine. The user shows a file with the marker "
            f"{CURSOR} where the cursor is. Reply with ONLY the code to insert at {CURSOR}: "
            "no explanation, no code fences, and do not repeat code before or after the "
            "marker. Reply with nothing if nothing should be inserted."
        )
        context = ""
        if self.snippets:
            context = "Related code from the workspace:\n" + "\n---\n".join(self.snippets) + "\n\n"
        where = f" ({self.path})" if self.path else ""
        user = f"{context}File{where}:\n{self.prefix}{CURSOR}{self.suffix}"
        return [ChatMessage("system", system), ChatMessage("user", user)]


def build_prompt(
    text: str,
    offset: int,
    language: str,
    *,
    max_prefix_chars: int,
    max_suffix_chars: int,
    path: str | None = None,
    snippets: list[str] | None = None,
) -> CompletionPrompt:
    """The prompt for a cursor at ``offset`` (a code-point index into ``text``)."""
    offset = max(0, min(offset, len(text)))
    before, after = text[:offset], text[offset:]
    if len(before) > max_prefix_chars:
        before = before[len(before) - max_prefix_chars :]
        cut = before.find("\n")
        # Start at a whole line, but never drop the cursor's own line.
        if 0 <= cut < len(before) - len(before.rsplit("\n", 1)[-1]) - 1:
            before = before[cut + 1 :]
    if len(after) > max_suffix_chars:
        after = after[:max_suffix_chars]
        cut = after.rfind("\n")
        if cut > len(after.split("\n", 1)[0]):
            after = after[: cut + 1]
    return CompletionPrompt(before, after, language, path, list(snippets or []))
