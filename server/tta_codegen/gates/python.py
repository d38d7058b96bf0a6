"""The built-in Python gates: syntax (in-process), ruff, mypy and pytest (in the sandbox).

Each turns its tool's output into a :class:`GateResult`: located diagnostics in the
candidate's coordinates and a short message a refinement prompt can act on. Lint and type
errors outside :attr:`GateInput.region` are left out: they are not the generated code's.
A tool that is not installed skips its gate (``skipped``) rather than failing it: no
rewrite of the code could make it pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path, PurePosixPath
from typing import Any

from tta_codegen.gates import sandbox
from tta_codegen.gates import workdir as workdirs
from tta_codegen.gates.ruff_worker import RuffWorkerError, ruff_diagnostics, start_ruff_ahead
from tta_codegen.gates.settings import GatesConfig
from tta_codegen.gates.types import GateDiagnostic, GateInput, GateResult, describe
from tta_codegen.gates.workdir import Workdir

MAX_LISTED = 10


def _region_start(inp: GateInput) -> int:
    return inp.region[0] if inp.region is not None else 0


def _failed_to_run(name: str, outcome: sandbox.Outcome, timeout_s: float) -> str | None:
    if outcome.error is not None:
        return f"could not start: {outcome.error}"
    if outcome.timed_out:
        return f"timed out after {timeout_s:g} s; the gate's processes were killed"
    return None


def _tool_broken(name: str, problem: str, outcome: sandbox.Outcome, info: Any) -> GateResult:
    """The tool itself failed (not the code): the gate passes as skipped, with the reason."""
    return GateResult(
        name,
        True,
        f"skipped: {problem}: {outcome.output[-1000:]}".strip(),
        duration_s=outcome.duration_s,
        skipped=True,
        output=outcome.output,
        sandbox=info,
    )


def _timeout_result(
    name: str, inp: GateInput, outcome: sandbox.Outcome, timeout_s: float, info: Any
) -> GateResult:
    message = f"timed out after {timeout_s:g} s; the gate's processes were killed"
    tail = outcome.output[-2000:]
    return GateResult(
        name=name,
        passed=False,
        message=message + (f"\n{tail}" if tail else ""),
        diagnostics=[GateDiagnostic(_region_start(inp), 0, message, None)],
        duration_s=outcome.duration_s,
        timed_out=True,
        output=outcome.output,
        sandbox=info,
    )


# --- syntax -----------------------------------------------------------------------------


def _compile(text: str, filename: str) -> SyntaxError | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SyntaxWarnings are not failures
        try:
            # compile, not just ast.parse: it also rejects `return` outside a function etc.
            compile(text, filename, "exec", dont_inherit=True)
        except SyntaxError as exc:
            return exc
        except ValueError as exc:  # e.g. null bytes
            return SyntaxError(str(exc), (filename, 1, 1, ""))
    return None


async def syntax_gate(inp: GateInput) -> GateResult:
    started = time.monotonic()
    exc = await asyncio.to_thread(_compile, inp.text, inp.path)
    duration = time.monotonic() - started
    if exc is None:
        return GateResult("syntax", True, duration_s=duration)
    line = max((exc.lineno or 1) - 1, 0)
    column = max((exc.offset or 1) - 1, 0)
    kind = type(exc).__name__
    diag = GateDiagnostic(line, column, f"{kind}: {exc.msg}", kind)
    return GateResult("syntax", False, describe([diag]), diagnostics=[diag], duration_s=duration)


log = logging.getLogger(__name__)

# --- ruff -------------------------------------------------------------------------------


def find_ruff() -> str | None:
    beside = Path(sys.executable).parent / "ruff"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("ruff")


async def warm_ruff_gate(inp: GateInput, config: GatesConfig) -> GateResult | None:
    """The ruff gate through the warm ``ruff server`` (:mod:`~tta_codegen.gates.ruff_worker`).

    Ruff only reads the text and the project's ruff config, so it needs neither the sandbox
    copy nor a process per check. ``None`` when the worker cannot answer: the caller runs
    :func:`ruff_gate` (a ``ruff check`` process in the sandbox) instead.
    """
    ruff = find_ruff()
    if ruff is None:
        return _ruff_missing()
    root, rel, select, project = await asyncio.to_thread(_ruff_target, inp, config)
    started = time.perf_counter()
    try:
        found = await ruff_diagnostics(
            ruff,
            root=root,
            path=root / rel,
            text=inp.text,
            select=select,
            project_config=project,
            limit_s=config.timeout_s,
        )
    except RuffWorkerError as exc:
        log.info("warm ruff unavailable (%s); running ruff check instead", exc)
        return None
    diags = [GateDiagnostic(d.line, d.column, d.message, d.code) for d in found]
    return _ruff_result(inp, diags, time.perf_counter() - started, "", None)


async def start_warm_ruff(inp: GateInput, config: GatesConfig) -> None:
    """Start the warm ruff that :func:`warm_ruff_gate` will check ``inp`` with, ahead of it
    (the engine calls this while the model answers; ``inp`` needs only its path)."""
    ruff = find_ruff()
    if ruff is None:
        return
    root, _, select, project = await asyncio.to_thread(_ruff_target, inp, config)
    start_ruff_ahead(
        ruff, root=root, select=select, project_config=project, limit_s=config.timeout_s
    )


def _ruff_target(inp: GateInput, config: GatesConfig) -> tuple[Path, str, tuple[str, ...], bool]:
    """(root folder, the file's path in it, the rules to select, whether ruff sees a
    project config there): the warm worker's key, built here for the gate and for the
    start ahead alike, so the worker started ahead is the one the gate finds."""
    rel = workdirs.candidate_relpath(inp)
    workspace = inp.workspace_root.resolve() if inp.workspace_root is not None else None
    project = config.ruff.use_project_config and workdirs.has_ruff_config(workspace, rel)
    # Without a workspace the file stands alone (isolated rules): any folder will do.
    root = workspace if workspace is not None else Path(tempfile.gettempdir()).resolve()
    return root, rel, tuple(config.ruff.select), project


def _ruff_missing() -> GateResult:
    return GateResult(
        "ruff", True, "skipped: ruff not found beside Python or on PATH", skipped=True
    )


def _ruff_result(
    inp: GateInput, found: list[GateDiagnostic], duration_s: float, output: str, info: Any
) -> GateResult:
    """The ruff gate's answer: the diagnostics inside the generated region, in order."""
    diags = sorted(
        (d for d in found if inp.in_region(d.line)), key=lambda d: (d.line, d.column, d.code or "")
    )
    return GateResult(
        "ruff",
        not diags,
        describe(diags, MAX_LISTED) if diags else None,
        diagnostics=diags,
        duration_s=duration_s,
        output=output,
        sandbox=info,
    )


async def ruff_gate(inp: GateInput, wd: Workdir, config: GatesConfig) -> GateResult:
    """The ruff gate as a ``ruff check`` process in the sandbox (the warm worker's fallback)."""
    ruff = find_ruff()
    if ruff is None:
        return _ruff_missing()
    rules = ",".join(config.ruff.select)
    argv = [ruff, "check", "--no-cache", "--output-format", "json", "--quiet"]
    if config.ruff.use_project_config and wd.has_ruff_config:
        argv += ["--extend-select", rules] if rules else []
    else:
        argv += ["--isolated", "--select", rules or "E9"]
    argv.append(wd.candidate)
    outcome, info = await sandbox.run(
        argv, workdir=wd, config=config, timeout_s=config.timeout_s, stdout_limit=10_000_000
    )
    if outcome.timed_out:
        return _timeout_result("ruff", inp, outcome, config.timeout_s, info)
    problem = _failed_to_run("ruff", outcome, config.timeout_s)
    try:
        items = json.loads(outcome.stdout) if problem is None and outcome.stdout.strip() else []
    except ValueError:
        problem = "could not read ruff's output"
        items = []
    if problem is None and outcome.returncode not in (0, 1):
        problem = f"ruff exited with {outcome.returncode}"
    if problem is not None:
        # A broken tool or project config is not the generated code's fault.
        return _tool_broken("ruff", problem, outcome, info)
    diags: list[GateDiagnostic] = []
    for item in items:
        filename = str(item.get("filename", ""))
        if filename != wd.candidate and not filename.endswith(os.sep + wd.candidate):
            continue
        loc = item.get("location") or {}
        line, column = int(loc.get("row", 1)) - 1, int(loc.get("column", 1)) - 1
        diags.append(
            GateDiagnostic(line, max(column, 0), str(item.get("message", "")), item.get("code"))
        )
    return _ruff_result(inp, diags, outcome.duration_s, outcome.output, info)


# --- interpreter for mypy and pytest ----------------------------------------------------


def interpreter(config: GatesConfig, workspace: Path | None) -> str:
    if config.python is None:
        return sys.executable
    path = Path(config.python)
    if not path.is_absolute() and workspace is not None:
        path = workspace / path
    return str(path)


def _has_module(python: str, module: str) -> bool | None:
    """Whether `module` is importable by `python`; None when that is not ours to tell cheaply."""
    if python != sys.executable:
        return None
    return importlib.util.find_spec(module) is not None


# --- mypy -------------------------------------------------------------------------------

_MYPY_LINE = re.compile(
    r"^(?P<file>[^:\n]+):(?P<line>\d+):(?:(?P<col>\d+):)? (?P<sev>error|note|warning): "
    r"(?P<msg>.*?)(?:  \[(?P<code>[a-z0-9-]+)\])?$"
)


async def mypy_gate(inp: GateInput, wd: Workdir, config: GatesConfig) -> GateResult:
    python = interpreter(config, wd.workspace)
    if _has_module(python, "mypy") is False:
        return GateResult("mypy", True, "skipped: mypy is not installed", skipped=True)
    argv = [
        python,
        "-m",
        "mypy",
        "--no-color-output",
        "--show-column-numbers",
        "--show-error-codes",
        "--no-error-summary",
        "--hide-error-context",
        "--no-pretty",
        "--cache-dir",
        str(wd.home / ".mypy_cache"),
        *config.mypy.args,
        wd.candidate,
    ]
    mypy_path = os.pathsep.join(p for p in wd.python_path()[1:])
    outcome, info = await sandbox.run(
        argv,
        workdir=wd,
        config=config,
        timeout_s=config.timeout_s,
        extra_env={"MYPYPATH": mypy_path},
        stdout_limit=10_000_000,
    )
    if outcome.timed_out:
        return _timeout_result("mypy", inp, outcome, config.timeout_s, info)
    problem = _failed_to_run("mypy", outcome, config.timeout_s)
    if problem is None and "No module named mypy" in outcome.stderr:
        problem = "mypy is not installed for " + python
    if problem is None and outcome.returncode not in (0, 1):
        problem = f"mypy exited with {outcome.returncode}"
    if problem is not None:
        return _tool_broken("mypy", problem, outcome, info)
    diags: list[GateDiagnostic] = []
    for raw in outcome.stdout.splitlines():
        match = _MYPY_LINE.match(raw.strip())
        if match is None or match["sev"] != "error":
            continue
        if Path(match["file"]).as_posix() != wd.candidate:
            continue
        line = int(match["line"]) - 1
        if not inp.in_region(line):
            continue
        column = max(int(match["col"] or 1) - 1, 0)
        diags.append(GateDiagnostic(line, column, match["msg"], match["code"]))
    return GateResult(
        "mypy",
        not diags,
        describe(diags, MAX_LISTED) if diags else None,
        diagnostics=diags,
        duration_s=outcome.duration_s,
        output=outcome.output,
        sandbox=info,
    )


# --- tests ------------------------------------------------------------------------------


def is_test_file(path: str) -> bool:
    name = PurePosixPath(path).name
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def test_targets(inp: GateInput, wd: Workdir) -> list[str]:
    """The test files to run: those named, else generated test files among the extra files."""
    if inp.test_targets:
        return [t for t in inp.test_targets if (wd.work / t).is_file()]
    return sorted(p for p in inp.extra_files if is_test_file(p))


# Directories never searched for a project's tests.
_SKIP_DIRS = frozenset({"node_modules", "__pycache__", "site-packages", "build", "dist", "venv"})
# Files looked at when searching for a module's tests, at most: a bound on a huge tree.
MAX_SCANNED = 5000


def _import_names(relpath: str) -> set[str]:
    """The dotted names a test could import the module at ``relpath`` by."""
    parts = list(PurePosixPath(relpath).with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    names = set()
    # Every suffix that starts at an import root: `src/pkg/m.py` is `pkg.m` (and `m`).
    for i in range(len(parts)):
        names.add(".".join(parts[i:]))
    return {n for n in names if n}


def _imports_of(relpath: str) -> re.Pattern[str]:
    """Matches an import of the module at ``relpath`` in a test file's text."""

    def either(names: set[str]) -> str:
        return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))

    module = PurePosixPath(relpath).with_suffix("")
    forms = [rf"import\s+(?:{either(_import_names(relpath))})\b"]
    forms.append(rf"from\s+(?:{either(_import_names(relpath))})\s+import\b")
    if len(module.parts) > 1 and module.name != "__init__":
        # `from pkg import m` (possibly among other names, possibly parenthesised).
        package = either(_import_names(str(module.parent) + ".py"))
        forms.append(rf"from\s+(?:{package})\s+import\s+\(?[\w\s,]*?\b{re.escape(module.name)}\b")
    return re.compile(rf"^\s*(?:{'|'.join(forms)})", re.MULTILINE)


def discover_tests(inp: GateInput) -> list[str]:
    """Test files in the workspace that import the candidate's module (relpaths, sorted).

    The project's own tests for a module are the best judge of code generated into it:
    ``tests/test_m.py`` doing ``import m`` or ``from m import f`` (or ``from pkg import m``)
    is run by the tests gate when code is generated into ``m.py``. Blocking: call in a thread.
    """
    if inp.workspace_root is None or not inp.workspace_root.is_dir():
        return []
    root = inp.workspace_root
    rel = Path(inp.path)
    if rel.is_absolute():
        try:
            rel = rel.relative_to(root)
        except ValueError:
            return []
    relpath = rel.as_posix()
    if is_test_file(relpath):
        return []
    pattern = _imports_of(relpath)
    found: list[str] = []
    scanned = 0
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".") and d not in _SKIP_DIRS)
        for name in sorted(files):
            scanned += 1
            if scanned > MAX_SCANNED:
                return sorted(found)
            path = Path(directory) / name
            candidate = path.relative_to(root).as_posix()
            if not is_test_file(candidate) or candidate == relpath:
                continue
            try:
                text = path.read_text(encoding="utf-8", errors="replace")[:200_000]
            except OSError:
                continue
            if pattern.search(text):
                found.append(candidate)
    return sorted(found)


def _junit_failures(path: Path) -> tuple[list[tuple[str, str, str]], dict[str, int]]:
    """(test id, message, details) of each failed test, and the counts from a JUnit XML file."""
    root = ET.parse(path).getroot()
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    failures: list[tuple[str, str, str]] = []
    for suite in root.iter("testsuite"):
        for key in counts:
            counts[key] += int(suite.get(key, "0"))
    for case in root.iter("testcase"):
        for tag in ("failure", "error"):
            node = case.find(tag)
            if node is not None:
                test_id = f"{case.get('classname', '')}::{case.get('name', '')}".strip(":")
                failures.append((test_id, node.get("message", ""), node.text or ""))
    return failures, counts


async def tests_gate(
    inp: GateInput, wd: Workdir, config: GatesConfig, targets: list[str]
) -> GateResult:
    refusal = await sandbox.unsandboxed_refusal(config)
    if refusal is not None:
        return GateResult("tests", True, refusal, skipped=True)
    python = interpreter(config, wd.workspace)
    if _has_module(python, "pytest") is False:
        return GateResult("tests", True, "skipped: pytest is not installed", skipped=True)
    junit = wd.home / "junit.xml"
    argv = [
        python,
        "-m",
        "pytest",
        "-q",
        "--no-header",
        "--tb=short",
        "-p",
        "no:cacheprovider",
        f"--rootdir={wd.work}",
        f"--junitxml={junit}",
        *config.tests.args,
        *targets,
    ]
    env = {} if config.tests.autoload_plugins else {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    outcome, info = await sandbox.run(
        argv, workdir=wd, config=config, timeout_s=config.timeout_s, extra_env=env
    )
    if outcome.timed_out:
        return _timeout_result("tests", inp, outcome, config.timeout_s, info)
    if outcome.error is not None:
        return GateResult(
            "tests", True, f"skipped: could not start: {outcome.error}", skipped=True, sandbox=info
        )
    if outcome.returncode == 0:
        return GateResult(
            "tests", True, None, duration_s=outcome.duration_s, output=outcome.output, sandbox=info
        )
    failures: list[tuple[str, str, str]] = []
    counts: dict[str, int] = {}
    with contextlib.suppress(OSError, ET.ParseError):
        failures, counts = await asyncio.to_thread(_junit_failures, junit)
    return _tests_failed(inp, wd, outcome, failures, counts, targets, info)


_LOCATION = re.compile(r"^(?P<file>[^\s:]+\.py):(?P<line>\d+):", re.MULTILINE)


def _tests_failed(
    inp: GateInput,
    wd: Workdir,
    outcome: sandbox.Outcome,
    failures: list[tuple[str, str, str]],
    counts: dict[str, int],
    targets: list[str],
    info: Any,
) -> GateResult:
    fraction = 0.0
    if outcome.returncode == 5:
        header = f"no tests were collected from {', '.join(targets)}"
    elif counts:
        bad = counts["failures"] + counts["errors"]
        header = f"{bad} of {counts['tests']} test(s) failed"
        if counts["tests"]:
            fraction = max(counts["tests"] - bad, 0) / counts["tests"]
    else:
        header = f"pytest exited with {outcome.returncode}"
    lines = [header]
    diags: list[GateDiagnostic] = []
    for test_id, message, details in failures[:MAX_LISTED]:
        first = message.strip().splitlines()[0] if message.strip() else "failed"
        lines.append(f"- {test_id}: {first[:500]}")
        # Where the failure went through the candidate, point there; else at the region.
        at = [int(m["line"]) - 1 for m in _LOCATION.finditer(details) if m["file"] == wd.candidate]
        line = at[-1] if at else _region_start(inp)
        diags.append(GateDiagnostic(line, 0, f"{test_id}: {first[:500]}", "test-failure"))
        excerpt = details.strip()[-1500:]
        if excerpt:
            lines.append("  " + excerpt.replace("\n", "\n  "))
    if len(failures) > MAX_LISTED:
        lines.append(f"... and {len(failures) - MAX_LISTED} more failed test(s)")
    if not failures:
        tail = outcome.output[-3000:]
        if tail:
            lines.append(tail)
        diags.append(GateDiagnostic(_region_start(inp), 0, header, "test-failure"))
    return GateResult(
        "tests",
        False,
        "\n".join(lines),
        diagnostics=diags,
        duration_s=outcome.duration_s,
        output=outcome.output,
        sandbox=info,
        fraction=fraction,
    )
