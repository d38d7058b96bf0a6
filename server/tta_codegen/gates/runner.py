"""The gates' one entry point: :func:`run_gates` checks a candidate file and reports.

It picks the gates configured for the file's language, runs them one after the other (in
the configured order, deterministic, and gentle on shared cores) on one temporary copy,
and always returns a result per gate that applies; it never raises for the code's sake
and never calls a model (the refinement loop in the engine does, with
:func:`~tta_codegen.gates.types.failure_summary`).

Gate output is what the generated code chose to print: every result is redacted here, once,
before anyone sees it (key-shaped strings and the machine's known secret values, see
:mod:`tta_codegen.gates.secrets`) and capped in size, so the refinement prompt, the
answer, the diagnostics, the logs and the ledger all get the same clean text.

When the file does not parse, the other Python gates are not run (their answers would
only repeat the syntax error) and report so.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import replace

from tta_codegen.gates import workdir as workdirs
from tta_codegen.gates.command import command_gate
from tta_codegen.gates.definition import definition_gate
from tta_codegen.gates.examples import examples_for, examples_gate
from tta_codegen.gates.python import (
    discover_tests,
    is_test_file,
    mypy_gate,
    ruff_gate,
    syntax_gate,
    test_targets,
    tests_gate,
    warm_ruff_gate,
)
from tta_codegen.gates.settings import BUILTIN_GATES, GatesConfig
from tta_codegen.gates.types import (
    GateDiagnostic,
    GateInput,
    GateResult,
    SandboxInfo,
    failure_summary,
)
from tta_codegen.gates.workdir import Workdir, WorkdirError
from tta_codegen.redact import KnownSecrets, redact, secret_env_values

__all__ = [
    "GateDiagnostic",
    "GateInput",
    "GateResult",
    "SandboxInfo",
    "failure_summary",
    "gates_for",
    "run_gates",
]

PYTHON_GATES = frozenset(BUILTIN_GATES)
# A gate's message and each diagnostic are cut to this many characters (after redaction).
MESSAGE_LIMIT = 6000
DIAGNOSTIC_LIMIT = 1000


def gates_for(inp: GateInput, config: GatesConfig) -> list[str]:
    """The gates that apply to `inp`, in order: built-ins only for Python."""
    names = []
    for name in config.enabled_for(inp.language):
        if name in PYTHON_GATES:
            if inp.language == "python":
                names.append(name)
            continue
        gate = config.command(name)
        if gate is not None and (not gate.languages or inp.language in gate.languages):
            names.append(name)
    return names


async def run_gates(inp: GateInput, config: GatesConfig) -> list[GateResult]:
    names = gates_for(inp, config)
    if (
        "tests" in names
        and not inp.test_targets
        and not any(is_test_file(p) for p in inp.extra_files)
    ):
        # No tests named or generated: the project's own tests of this module, if any.
        found = await asyncio.to_thread(discover_tests, inp)
        if found:
            inp = replace(inp, test_targets=found)
    results: list[GateResult] = []
    wd: Workdir | None = None
    try:
        for name in names:
            if name == "syntax":
                results.append(await syntax_gate(inp))
                continue
            if any(r.name == "syntax" and not r.passed for r in results) and name in PYTHON_GATES:
                results.append(
                    GateResult(name, False, "not run: the file does not parse (see `syntax`)")
                )
                continue
            if name == "definition":
                checked = await definition_gate(inp)
                if checked is not None:
                    results.append(checked)
                continue
            if name == "ruff":
                # Warm and copy-free; a worker that cannot answer falls back below.
                warm = await warm_ruff_gate(inp, config)
                if warm is not None:
                    results.append(warm)
                    continue
            if not _has_work(name, inp):
                continue  # no examples, nothing to test: no copy made for it
            if wd is None:
                try:
                    wd = await _build_workdir(inp)
                except WorkdirError as exc:
                    results.append(GateResult(name, False, f"not run: {exc}"))
                    continue
            result = await _run_one(name, inp, wd, config)
            if result is not None:
                results.append(result)
    finally:
        if wd is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(wd.remove)
    known = wd.secrets.known if wd is not None else KnownSecrets.of(secret_env_values(os.environ))
    return [redact_result(r, known) for r in results]


def _clean(text: str, known: KnownSecrets, limit: int) -> str:
    text = redact(text, known)
    if len(text) > limit:
        cut = len(text) - limit
        text = f"{text[: limit // 2]}\n[... {cut} characters cut ...]\n{text[-limit // 2 :]}"
    return text


def redact_result(result: GateResult, known: KnownSecrets) -> GateResult:
    """``result`` with its message, diagnostics and output redacted and capped."""
    return replace(
        result,
        message=_clean(result.message, known, MESSAGE_LIMIT) if result.message else None,
        diagnostics=[
            replace(d, message=_clean(d.message, known, DIAGNOSTIC_LIMIT))
            for d in result.diagnostics
        ],
        output=redact(result.output, known),
    )


def _has_work(name: str, inp: GateInput) -> bool:
    """False for a gate that would be left out anyway (the user wrote no examples; there
    are no tests): decided before the sandbox copy, which then need not be made at all."""
    if name == "examples":
        return bool(examples_for(inp))
    if name == "tests":
        return bool(inp.test_targets) or any(is_test_file(p) for p in inp.extra_files)
    return True


async def _build_workdir(inp: GateInput) -> Workdir:
    # The copy is made in a thread that a cancel cannot stop: wait for it and remove it then,
    # or it would be left behind in the temp directory.
    build = asyncio.ensure_future(asyncio.to_thread(workdirs.build, inp))
    try:
        return await asyncio.shield(build)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            made = await build
            await asyncio.to_thread(made.remove)
        raise


async def _run_one(
    name: str, inp: GateInput, wd: Workdir, config: GatesConfig
) -> GateResult | None:
    if name == "ruff":
        return await ruff_gate(inp, wd, config)
    if name == "mypy":
        return await mypy_gate(inp, wd, config)
    if name == "examples":
        return await examples_gate(inp, wd, config)
    if name == "tests":
        targets = await asyncio.to_thread(test_targets, inp, wd)
        # Nothing to test is not a result: the gate is simply left out.
        return await tests_gate(inp, wd, config, targets) if targets else None
    gate = config.command(name)
    assert gate is not None  # gates_for() only yields known names
    return await command_gate(gate, inp, wd, config)
