"""Settings of the quality gates (``[gates]``) and the refinement loop (``[refine]``).

Only shapes and validation live here; :mod:`tta_codegen.gates.runner` reads them. The
top-level keys apply to every language; ``[gates.languages.<language>]`` overrides the
list of gates for one language. The built-in gates (``syntax``, ``ruff``, ``mypy``,
``tests``) check Python; ``[[gates.commands]]`` adds shell commands for any language.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

BUILTIN_GATES: tuple[str, ...] = ("syntax", "definition", "ruff", "mypy", "examples", "tests")

# Errors-only rules: syntax errors (E9), comparisons that are always wrong (F63), statements
# in the wrong place (F7), undefined names (F82), unused imports (F401) and redefinitions of
# unused names (F811). Style is left to the project's own config.
DEFAULT_RUFF_SELECT: tuple[str, ...] = ("E9", "F63", "F7", "F82", "F401", "F811")

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RuffGate(_Strict):
    # Rules checked when the project has no ruff config (and added to it when it has one).
    select: list[str] = Field(default_factory=lambda: list(DEFAULT_RUFF_SELECT))
    # Lint with the project's ruff.toml / .ruff.toml / pyproject.toml [tool.ruff] when present.
    use_project_config: bool = True


class MypyGate(_Strict):
    # Extra arguments, e.g. ["--strict"]; the project's mypy config is honoured as well.
    args: list[str] = Field(default_factory=list)


class TestsGate(_Strict):
    # Extra pytest arguments, e.g. ["-x"].
    args: list[str] = Field(default_factory=list)
    # Load installed pytest plugins (entry points). Off saves seconds per run in a venv full
    # of plugins, but tests that need one (pytest-asyncio, ...) then fail.
    autoload_plugins: bool = True


class CommandGate(_Strict):
    """A shell command run on the candidate file; it passes when it exits with 0."""

    name: str
    # Placeholders: {file} (the candidate copy, absolute), {root} (the temporary project root).
    command: str
    timeout_s: float | None = Field(default=None, gt=0, le=3600)
    # Languages the command applies to; empty means every language.
    languages: list[str] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name_is_simple(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("a gate name uses only letters, digits, '_', '-' and '.'")
        if value in BUILTIN_GATES:
            raise ValueError(f"'{value}' is a built-in gate; pick another name")
        return value


class LanguageGates(_Strict):
    # Gates to run for this language, in order; replaces the top-level `enabled`.
    enabled: list[str] | None = None


class GatesConfig(_Strict):
    # Names of the gates to run on generated code, in order: built-ins and command gate names.
    # A built-in gate that does not apply to a language (all of them but for Python) and the
    # `tests` gate when there is nothing to test are left out of the results.
    enabled: list[str] = Field(
        default_factory=lambda: ["syntax", "definition", "ruff", "examples", "tests"]
    )
    # Default time limit of one gate, wall clock; the process group is killed when it is up.
    timeout_s: float = Field(default=30.0, gt=0, le=3600)
    # Address-space limit of each gate process (RLIMIT_AS).
    memory_mb: int = Field(default=2048, ge=64, le=1_048_576)
    # Processes a gate may have at once (pids cgroup when available, else RLIMIT_NPROC).
    max_processes: int = Field(default=128, ge=4, le=100_000)
    # Largest file a gate process may write (RLIMIT_FSIZE).
    max_file_mb: int = Field(default=64, ge=1, le=1_048_576)
    # Output kept per gate (head and tail); the rest is cut with a marker.
    output_limit_bytes: int = Field(default=20_000, ge=1000, le=10_000_000)
    # Gates have no network when the platform allows it (a new network namespace).
    allow_network: bool = False
    # Where no mount namespace can hide secret files from generated code (no namespaces,
    # not Linux), the `tests` gate and command gates do not run; true runs them anyway.
    allow_unsandboxed: bool = False
    # Extra environment variables passed to gate processes. Names that look like secrets
    # (*_KEY, *_TOKEN, *_SECRET, *PASSWORD*, ...) are never passed.
    pass_env: list[str] = Field(default_factory=list)
    # Interpreter for the `tests` and `mypy` gates (absolute, or relative to the workspace);
    # default: the server's own Python.
    python: str | None = None
    ruff: RuffGate = Field(default_factory=RuffGate)
    mypy: MypyGate = Field(default_factory=MypyGate)
    tests: TestsGate = Field(default_factory=TestsGate)
    commands: list[CommandGate] = Field(default_factory=list)
    languages: dict[str, LanguageGates] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names_are_known(self) -> GatesConfig:
        names = [c.name for c in self.commands]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"command gates must have unique names: {', '.join(dupes)}")
        known = set(BUILTIN_GATES) | set(names)
        lists = [("enabled", self.enabled)] + [
            (f"languages.{lang}.enabled", lg.enabled)
            for lang, lg in self.languages.items()
            if lg.enabled is not None
        ]
        for where, enabled in lists:
            unknown = [n for n in enabled if n not in known]
            if unknown:
                raise ValueError(
                    f"{where}: unknown gate(s) {', '.join(unknown)}; "
                    f"use {', '.join(BUILTIN_GATES)} or the name of a [[gates.commands]] entry"
                )
        return self

    def enabled_for(self, language: str) -> list[str]:
        override = self.languages.get(language)
        if override is not None and override.enabled is not None:
            return list(override.enabled)
        return list(self.enabled)

    def command(self, name: str) -> CommandGate | None:
        return next((c for c in self.commands if c.name == name), None)


class RefineConfig(_Strict):
    """The candidate loop: draw up to K answers, keep the first that passes, else the best."""

    enabled: bool = True
    # K: candidates drawn at most (the first is the single shot at [generation] temperature).
    max_iterations: int = Field(default=4, ge=1, le=20)
    # Temperatures of the 2nd, 3rd, ... candidates; the last value repeats.
    temperatures: list[float] = Field(default_factory=lambda: [0.4, 0.6, 0.8])
    # Wall-clock bound of the whole loop (model calls and gates), seconds.
    max_seconds: float = Field(default=90.0, gt=0, le=3600)
    # When to show a candidate's gate failures to the model for the next one: "never",
    # "tests" (only when it writes tests: the failing assertion is what it needs) or
    # "always". For code, fresh samples measured better than corrections (docs/refine.md).
    feedback: Literal["never", "tests", "always"] = "tests"

    @field_validator("temperatures")
    @classmethod
    def _temperatures_in_range(cls, value: list[float]) -> list[float]:
        if any(not 0.0 <= t <= 2.0 for t in value):
            raise ValueError("temperatures must each be between 0 and 2")
        return value
