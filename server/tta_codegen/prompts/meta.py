"""A template's metadata header: where it sits in the file, how it parses, what it may say.

Every library template starts with a Jinja comment holding TOML::

    {#---
    title = "Circuit breaker"
    category = "agents"
    description = "..."
    task_type = "code_generation"

    [variables.service]
    required = true
    example = "payments"
    ---#}

Being a comment, the header never reaches the prompt; being TOML, it needs no extra
dependency. This module turns it into a validated :class:`PromptMeta` or a
:class:`TemplateProblem` that names the file, the line and the reason, so one broken
user template can be reported and skipped without hiding the others.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

# The variables every template gets from the request and the context stage; a template
# may use them freely but not declare them (they are not the user's to fill).
BUILTIN_VARIABLES: dict[str, str] = {
    "language": "language of the document (e.g. python)",
    "path": "path of the document",
    "before": "document text before the cursor or selection (a window)",
    "after": "document text after the cursor or selection (a window)",
    "selection": "the selected text being rewritten ('' for an insertion)",
    "description": "what the user typed (the request's description / instruction)",
    "instruction": "the instruction of a rewrite (same as description; '' otherwise)",
    "context": "the project context block from the context stage",
    "rules": "the project rules from the context stage",
}

TaskType = Literal["code_generation", "refinement", "tests"]
AppliesTo = Literal["none", "selection", "file"]

_ID = r"[a-z0-9][a-z0-9._-]*"
_HEADER = re.compile(r"\A\{#-?[ \t]*---[ \t]*\r?\n(?P<body>.*?)\r?\n[ \t]*---[ \t]*-?#\}", re.S)
_TOML_LINE = re.compile(r"at line (\d+)")


class VariableSpec(BaseModel):
    """One variable the user fills in (or leaves at its default)."""

    model_config = ConfigDict(extra="forbid")

    required: bool = False
    default: Any = None
    description: str = ""
    # A realistic value, shown in listings and used by the test that renders every template.
    example: Any = None

    @model_validator(mode="after")
    def _required_xor_default(self) -> VariableSpec:
        if self.required and self.default is not None:
            raise ValueError("a required variable cannot have a default")
        if not self.required and self.default is None:
            # An optional variable without a default renders as nothing, not as an error.
            self.default = ""
        return self

    def sample(self) -> Any:
        """A value good enough to render the template with."""
        if self.example is not None:
            return self.example
        return self.default if self.default is not None else "example"


class PromptMeta(BaseModel):
    """The validated header of one template."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=f"^{_ID}$", max_length=80)
    title: str = Field(min_length=1, max_length=120)
    category: str = Field(pattern=f"^{_ID}$", max_length=40)
    description: str = Field(min_length=1)
    task_type: TaskType = "code_generation"
    applies_to: AppliesTo = "none"
    # For selection templates: the instruction a code action sends with ``tta.refine``.
    instruction: str | None = None
    variables: dict[str, VariableSpec] = Field(default_factory=dict)

    @field_validator("variables")
    @classmethod
    def _names(cls, value: dict[str, VariableSpec]) -> dict[str, VariableSpec]:
        for name in value:
            if not name.isidentifier():
                raise ValueError(f"variable name {name!r} is not an identifier")
            if name in BUILTIN_VARIABLES:
                raise ValueError(
                    f"variable {name!r} is built in (filled from the request); do not declare it"
                )
        return value

    @property
    def action_instruction(self) -> str:
        return self.instruction or self.description


@dataclass(frozen=True)
class TemplateProblem:
    """Why one template file was skipped."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class ParsedHeader:
    data: dict[str, Any]
    body: str
    first_line: int  # 1-based line of the first TOML line in the file


def parse_header(source: str, file: str) -> ParsedHeader | TemplateProblem:
    match = _HEADER.match(source)
    if match is None:
        return TemplateProblem(
            file, 1, "no metadata header: the file must start with a {#--- TOML ---#} comment"
        )
    first_line = source.count("\n", 0, match.start("body")) + 1
    try:
        data = tomllib.loads(match.group("body"))
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE.search(str(exc))
        if found:
            line = first_line + int(found.group(1)) - 1
        else:  # "at end of document": an unterminated value, reported where the header ends
            line = first_line + match.group("body").count("\n")
        return TemplateProblem(file, line, f"metadata header is not valid TOML: {exc}")
    return ParsedHeader(data, match.group("body"), first_line)


def validate_meta(
    header: ParsedHeader, path: Path, category_hint: str
) -> PromptMeta | TemplateProblem:
    """The header as :class:`PromptMeta`; ``id`` defaults to the file stem, ``category``
    to the folder the file is in."""
    data = dict(header.data)
    data.setdefault("id", path.stem)
    data.setdefault("category", category_hint)
    try:
        return PromptMeta.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(header)"
        reason = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        line = _key_line(header, [str(p) for p in err["loc"]])
        return TemplateProblem(str(path), line, f"{loc}: {reason}{more}")


def _key_line(header: ParsedHeader, loc: list[str]) -> int:
    """Best effort: the line where the offending key (or its table) is written."""
    patterns = []
    if len(loc) >= 2 and loc[0] == "variables":
        name = re.escape(loc[1])
        if len(loc) >= 3:
            patterns.append(rf"^\s*{re.escape(loc[2])}\s*=")
        patterns.append(rf"^\s*\[\s*variables\.{name}\s*\]")
    if loc:
        patterns.append(rf"^\s*{re.escape(loc[0])}\s*[=.\]]")
        patterns.append(rf"^\s*\[\s*{re.escape(loc[0])}")
    lines = header.body.splitlines()
    start = 0
    if len(loc) >= 2 and loc[0] == "variables":
        # Look for the variable's own keys after its table header.
        table = re.compile(rf"^\s*\[\s*variables\.{re.escape(loc[1])}\s*\]")
        start = next((i for i, text in enumerate(lines) if table.match(text)), 0)
    for pattern in patterns:
        rx = re.compile(pattern)
        for i in range(start, len(lines)):
            if rx.match(lines[i]):
                return header.first_line + i
        start = 0
    return header.first_line
