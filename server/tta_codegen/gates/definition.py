"""The ``definition`` gate: the code defines the function that was asked for, as asked.

A request asks for a particular function when it sits on (or just after) a stub — a
function whose body is only a docstring, ``pass``, ``...`` or ``raise NotImplementedError``
— or when its description spells a signature (``def name(a, b)``, or in words ``a function
name(a, b)``). The generated file must then define that name with those parameters, in
that order: a candidate that renames the function, drops a parameter or never defines it
cannot be what the user asked for, whatever else it passes. Checked on the syntax tree,
in-process (nothing is executed); importing the module is left to the gates that run code
(``examples``, ``tests``).
"""

from __future__ import annotations

import ast
import asyncio
import re
import time

from tta_codegen.gates.types import GateDiagnostic, GateInput, GateResult, RequiredDefinition
from tta_codegen.stubs import WHOLE_PARSE_CHARS, is_stub, parse_quietly

# "def name(a, b)", or in words "a function name(a, b)" (the README's own request).
_DEF_IN_WORDS = re.compile(r"\b(?:def|function)\s+([A-Za-z_]\w*)\s*\(([^)]*)\)")

_Function = ast.FunctionDef | ast.AsyncFunctionDef


def params_of(args: ast.arguments) -> tuple[str, ...]:
    """Parameter names in order, with ``*``/``**`` marking the variadic ones."""
    names = [a.arg for a in (*args.posonlyargs, *args.args)]
    if args.vararg is not None:
        names.append("*" + args.vararg.arg)
    names += [a.arg for a in args.kwonlyargs]
    if args.kwarg is not None:
        names.append("**" + args.kwarg.arg)
    return tuple(names)


def _functions(tree: ast.AST) -> list[_Function]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def required_definitions(
    text: str, start: int, end: int, description: str
) -> list[RequiredDefinition]:
    """What a request at ``text[start:end]`` must define: the stub it sits on, or a
    signature spelled in the description. Empty when nothing in particular was asked for.

    A document longer than ``stubs.WHOLE_PARSE_CHARS`` is not parsed whole for its stub
    (seconds and gigabytes at 20 MB; its gates are skipped anyway): only the description
    names what is asked there. A stub in such a document is found near its line by
    ``stubs.find_stub`` and takes the implement path."""
    found: list[RequiredDefinition] = []
    tree = parse_quietly(text) if len(text) <= WHOLE_PARSE_CHARS else None
    if tree is not None:
        first = text.count("\n", 0, start) + 1  # 1-based, like ast
        last = text.count("\n", 0, end) + 1
        for node in _functions(tree):
            node_end = node.end_lineno or node.lineno
            # On the def line, inside the body, or on the line right after the stub.
            if node.lineno <= last and first <= node_end + 1 and is_stub(node):
                found.append(
                    RequiredDefinition(
                        node.name, params_of(node.args), ast.get_docstring(node) or ""
                    )
                )
        # The innermost stub only (a stub method inside a stub class is not two requests).
        found = found[-1:]
    if not found:
        for match in _DEF_IN_WORDS.finditer(description):
            tree_of = parse_quietly(f"def {match[1]}({match[2]}): pass")
            if tree_of is not None:
                fn = _functions(tree_of)[0]
                found.append(RequiredDefinition(fn.name, params_of(fn.args)))
    return found


def _check(inp: GateInput) -> list[GateDiagnostic]:
    tree = parse_quietly(inp.text)
    if tree is None:
        return []  # the syntax gate reports it
    defined = [n for n in _functions(tree) if not is_stub(n)]
    line = inp.region[0] if inp.region is not None else 0
    problems: list[GateDiagnostic] = []
    for want in inp.required:
        same_name = [n for n in defined if n.name == want.name]
        if not same_name:
            problems.append(
                GateDiagnostic(
                    line,
                    0,
                    f"`{want.name}` is not defined (or still has no body); "
                    f"write `def {want.name}({', '.join(want.params)})`",
                    "missing-definition",
                )
            )
            continue
        if not any(params_of(n.args) == want.params for n in same_name):
            got = same_name[-1]
            problems.append(
                GateDiagnostic(
                    got.lineno - 1,
                    got.col_offset,
                    f"`{want.name}` takes ({', '.join(params_of(got.args))}) but "
                    f"({', '.join(want.params)}) was asked for",
                    "wrong-signature",
                )
            )
    return problems


async def definition_gate(inp: GateInput) -> GateResult | None:
    """None when nothing in particular was asked for (the gate is then left out)."""
    if not inp.required:
        return None
    started = time.monotonic()
    problems = await asyncio.to_thread(_check, inp)
    duration = time.monotonic() - started
    if not problems:
        return GateResult("definition", True, duration_s=duration)
    message = "\n".join(d.message for d in problems)
    return GateResult("definition", False, message, diagnostics=problems, duration_s=duration)
