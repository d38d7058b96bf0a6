"""The ``examples`` gate: the examples the user already wrote must hold for the code.

Examples come from the docstring of the function being written (see
:mod:`tta_codegen.gates.definition`) and from the request's description, never from what the
model wrote itself. Two forms are read:

- doctest lines: ``>>> expression`` (``...`` continues it), the expected output on the
  lines below, up to a blank line or the next ``>>>``;
- call lines: ``name(args) == value`` (also ``==>``, ``->``, ``=>``, ``➞``, ``→``,
  ``should return``, ``returns``), for a function being asked for anywhere in the text, or
  for any name inside an ``Example(s):`` / ``For example`` section.

They run in the gate sandbox (a subprocess, like the tests), one after the other in the
module's namespace, each with a two-second alarm. An example passes when its output reads
the same as the expected text (as doctest compares it), or when the expected text evaluates
to a value equal to the result (so ``'a'`` matches ``"a"`` and ``0.30000000000000004``
matches ``0.3`` within 1e-9). The gate reports the share that passed (partial credit for
the candidate selection) and what each call returned (for agreement between candidates).
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
from dataclasses import asdict, dataclass
from pathlib import PurePosixPath

from tta_codegen.gates import sandbox
from tta_codegen.gates.python import MAX_LISTED, _failed_to_run, _timeout_result, interpreter
from tta_codegen.gates.settings import GatesConfig
from tta_codegen.gates.types import GateDiagnostic, GateInput, GateResult
from tta_codegen.gates.workdir import Workdir

# Examples kept per gate run: enough to judge, few enough to stay fast.
MAX_EXAMPLES = 30


@dataclass(frozen=True)
class Example:
    source: str  # Python: a statement or an expression
    expected: str | None  # expected output (doctest) or expression (call line); None: none


_OPERATORS = r"==>|==|=>|->|➞|→|\bshould\s+return\b|\breturns?\b"
_CALL_LINE = re.compile(
    r"^\s*(?:[-*•]\s*)?(?P<call>(?P<name>[A-Za-z_][\w.]*)\(.*\))\s*"
    rf"(?:{_OPERATORS})\s*(?P<expected>.+?)\s*[.,;]?\s*$"
)
_SECTION = re.compile(r"^\s*(?:examples?\b|for\s+examples?\b)", re.IGNORECASE)


def _is_expression(text: str) -> bool:
    try:
        ast.parse(text, mode="eval")
    except (SyntaxError, ValueError):
        return False
    return True


def _doctests(lines: list[str]) -> list[Example]:
    found: list[Example] = []
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped.startswith(">>>"):
            i += 1
            continue
        source = [stripped[3:].strip()]
        i += 1
        while i < len(lines) and lines[i].strip().startswith("..."):
            source.append(lines[i].strip()[3:].removeprefix(" "))
            i += 1
        expected: list[str] = []
        while i < len(lines) and lines[i].strip() and not lines[i].strip().startswith(">>>"):
            expected.append(lines[i].strip())
            i += 1
        found.append(Example("\n".join(source), "\n".join(expected) or None))
    return found


def _call_lines(lines: list[str], names: set[str]) -> list[Example]:
    found: list[Example] = []
    in_section = False
    for line in lines:
        if _SECTION.match(line):
            in_section = True
            rest = line.split(":", 1)[1] if ":" in line else ""
            line = rest
        if ">>>" in line:
            continue
        match = _CALL_LINE.match(line)
        if match is None:
            continue
        name = match["name"].split(".")[-1]
        if name not in names and not in_section:
            continue
        call, expected = match["call"], match["expected"].rstrip(".,;")
        if _is_expression(call) and _is_expression(expected):
            found.append(Example(call, expected))
    return found


def extract_examples(texts: list[str], names: list[str]) -> list[Example]:
    """The examples in ``texts`` (docstrings, a description), in order, without repeats."""
    found: list[Example] = []
    for text in texts:
        lines = text.splitlines()
        found += _doctests(lines)
        found += _call_lines(lines, set(names))
    unique: list[Example] = []
    for example in found:
        if example not in unique:
            unique.append(example)
    return unique[:MAX_EXAMPLES]


def examples_for(inp: GateInput) -> list[Example]:
    texts = [r.docstring for r in inp.required if r.docstring]
    if inp.description:
        texts.append(inp.description)
    return extract_examples(texts, [r.name for r in inp.required])


def module_name(wd: Workdir) -> str:
    """The candidate's import name, from the nearest import root above it."""
    path = PurePosixPath(wd.candidate)
    for root in sorted(wd.source_roots, key=len, reverse=True):
        if not root or path.is_relative_to(root):
            rel = path.relative_to(root) if root else path
            parts = list(rel.with_suffix("").parts)
            if parts and parts[-1] == "__init__":
                parts.pop()
            return ".".join(parts)
    return path.stem


# Runs in the sandbox: argv[1] the examples (JSON), argv[2] the module name. Prints one JSON
# line of results. Kept free of third-party imports.
_RUNNER = r"""
import contextlib, importlib, io, json, math, signal, sys, traceback

def _alarm(signum, frame):
    raise TimeoutError("the example took more than 2 s")

def _same(value, expected_value):
    if isinstance(value, float) or isinstance(expected_value, float):
        try:
            return math.isclose(value, expected_value, rel_tol=1e-9, abs_tol=1e-9)
        except TypeError:
            return False
    try:
        return bool(value == expected_value)
    except Exception:
        return False

def _norm(text):
    return " ".join(text.split())

def main():
    examples = json.load(open(sys.argv[1], encoding="utf-8"))
    results = []
    try:
        module = importlib.import_module(sys.argv[2])
    except BaseException as exc:
        line = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        print(json.dumps({"import_error": line}))
        return
    ns = dict(vars(module))
    signal.signal(signal.SIGALRM, _alarm)
    for ex in examples:
        source, expected = ex["source"], ex["expected"]
        out = io.StringIO()
        got, value, has_value, error = "", None, False, None
        signal.alarm(2)
        try:
            with contextlib.redirect_stdout(out):
                try:
                    code = compile(source, "<example>", "eval")
                    value, has_value = eval(code, ns), True
                except SyntaxError:
                    exec(compile(source, "<example>", "exec"), ns)
        except BaseException as exc:
            error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        finally:
            signal.alarm(0)
        printed = out.getvalue()
        if error is not None:
            got = printed + "Traceback (most recent call last):\n" + error
            ok = expected is not None and expected.startswith("Traceback") and \
                _norm(expected.splitlines()[-1]).split(":")[0] == _norm(error).split(":")[0]
            observed = "raised " + error.split(":")[0]
        else:
            shown = repr(value) if has_value and value is not None else ""
            got = printed + shown
            observed = shown or printed
            ok = expected is None or _norm(got) == _norm(expected)
            if not ok and has_value:
                try:
                    ok = _same(value, eval(expected, ns))
                except BaseException:
                    ok = False
        results.append({"ok": bool(ok), "got": got[-300:], "observed": observed[-300:]})
    print(json.dumps({"results": results}))

main()
"""


async def examples_gate(inp: GateInput, wd: Workdir, config: GatesConfig) -> GateResult | None:
    """None when the user wrote no examples (the gate is then left out)."""
    examples = examples_for(inp)
    if not examples:
        return None
    data, script = wd.home / "examples.json", wd.home / "run_examples.py"

    def write() -> None:
        data.write_text(json.dumps([asdict(e) for e in examples]), encoding="utf-8")
        script.write_text(_RUNNER, encoding="utf-8")

    await asyncio.to_thread(write)
    argv = [interpreter(config, wd.workspace), str(script), str(data), module_name(wd)]
    outcome, info = await sandbox.run(argv, workdir=wd, config=config, timeout_s=config.timeout_s)
    if outcome.timed_out:
        return _timeout_result("examples", inp, outcome, config.timeout_s, info)
    problem = _failed_to_run("examples", outcome, config.timeout_s)
    lines = [ln for ln in outcome.stdout.splitlines() if ln.startswith("{")]
    try:
        report = json.loads(lines[-1]) if lines else None
    except ValueError:
        report = None
    line = inp.region[0] if inp.region is not None else 0
    if problem is not None or report is None:
        message = problem or f"the examples did not run: {outcome.output[-1500:]}"
        diag = GateDiagnostic(line, 0, message, "examples")
        return GateResult(
            "examples", False, message, [diag], outcome.duration_s, output=outcome.output,
            sandbox=info, fraction=0.0,
        )  # fmt: skip
    if "import_error" in report:
        message = f"importing the module failed: {report['import_error']}"
        diag = GateDiagnostic(line, 0, message, "import-error")
        return GateResult(
            "examples", False, message, [diag], outcome.duration_s, output=outcome.output,
            sandbox=info, fraction=0.0,
        )  # fmt: skip
    results = report["results"]
    failed = [(ex, r) for ex, r in zip(examples, results, strict=False) if not r["ok"]]
    passed = len(results) - len(failed)
    observed = [str(r["observed"]) for r in results]
    fraction = passed / len(examples)
    if not failed:
        return GateResult(
            "examples", True, None, duration_s=outcome.duration_s, output=outcome.output,
            sandbox=info, fraction=1.0, observed=observed,
        )  # fmt: skip
    listed = [f"{len(failed)} of {len(examples)} example(s) failed"]
    diags: list[GateDiagnostic] = []
    for ex, r in failed[:MAX_LISTED]:
        want = ex.expected if ex.expected is not None else "no error"
        text = f"{ex.source} gave {r['got'].strip() or 'nothing'}, expected {want}"
        listed.append("- " + text)
        diags.append(GateDiagnostic(line, 0, text, "example-failed"))
    return GateResult(
        "examples", False, "\n".join(listed), diags, outcome.duration_s, output=outcome.output,
        sandbox=info, fraction=fraction, observed=observed,
    )  # fmt: skip
