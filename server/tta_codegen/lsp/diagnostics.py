"""Gate failures and safety warnings of a finished generation, as LSP diagnostics.

They are published on the generated region (source ``tta-codegen``) so the user sees
exactly which gate still fails and where; a later generation in the same document
replaces them, and a passing one clears them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from tta_codegen.engine import GenerationResult
from tta_codegen.lsp.answers import DiagnosticAnswer

if TYPE_CHECKING:
    from tta_codegen.lsp.server import TtaLanguageServer

SOURCE = "tta-codegen"


def result_diagnostics(
    result: GenerationResult, region: types.Range, doc_first_line: int
) -> list[types.Diagnostic]:
    """``doc_first_line``: the line, in the candidate the gates saw, where the region began."""
    out: list[types.Diagnostic] = []
    start_line = region.start.line
    for gate in result.gates:
        if gate.passed:
            continue
        placed = False
        for d in gate.diagnostics:
            line = start_line + (d.line - doc_first_line)
            if not (region.start.line <= line <= max(region.end.line, region.start.line)):
                continue
            pos = types.Position(line=line, character=max(0, d.column))
            out.append(
                types.Diagnostic(
                    range=types.Range(pos, types.Position(line=line, character=pos.character + 1)),
                    message=f"{gate.name}: {d.message}",
                    severity=types.DiagnosticSeverity.Error,
                    source=SOURCE,
                    code=d.code or gate.name,
                )
            )
            placed = True
        if not placed:
            out.append(
                types.Diagnostic(
                    range=types.Range(region.start, region.start),
                    message=f"gate {gate.name} failed: {gate.message or '(no output)'}",
                    severity=types.DiagnosticSeverity.Error,
                    source=SOURCE,
                    code=gate.name,
                )
            )
    for w in result.warnings:
        line = start_line + w.line
        pos = types.Position(line=line, character=0)
        out.append(
            types.Diagnostic(
                range=types.Range(pos, types.Position(line=line, character=200)),
                message=w.message,
                severity=types.DiagnosticSeverity.Warning,
                source=SOURCE,
                code=w.check,
            )
        )
    return out


def publish(ls: TtaLanguageServer, uri: str, diagnostics: list[types.Diagnostic]) -> None:
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics)
    )


def answer_diagnostics(diagnostics: list[types.Diagnostic]) -> list[DiagnosticAnswer]:
    return [
        DiagnosticAnswer(line=d.range.start.line, message=d.message, source=d.source)
        for d in diagnostics
    ]
