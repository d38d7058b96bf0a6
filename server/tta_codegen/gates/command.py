"""Command gates: any shell command the user configures, run on the candidate copy.

The command passes when it exits with 0. ``{file}`` becomes the candidate copy's absolute
path and ``{root}`` the temporary project root, both shell-quoted; other braces are left
alone (``${VAR}``, awk programs). Lines of output shaped ``path:line[:col]: message`` that
name the candidate become diagnostics, which covers most linters and compilers.
"""

from __future__ import annotations

import re
import shlex

from tta_codegen.gates import sandbox
from tta_codegen.gates.settings import CommandGate, GatesConfig
from tta_codegen.gates.types import GateDiagnostic, GateInput, GateResult, describe
from tta_codegen.gates.workdir import Workdir

_LOCATED = re.compile(
    r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?:(?P<col>\d+):)?\s*(?P<msg>.+)$", re.MULTILINE
)


def expand(command: str, wd: Workdir) -> str:
    return command.replace("{file}", shlex.quote(str(wd.candidate_path))).replace(
        "{root}", shlex.quote(str(wd.work))
    )


def _diagnostics(output: str, wd: Workdir) -> list[GateDiagnostic]:
    names = {wd.candidate, str(wd.candidate_path), "./" + wd.candidate}
    diags = []
    for match in _LOCATED.finditer(output):
        if match["file"] in names:
            line = max(int(match["line"]) - 1, 0)
            column = max(int(match["col"] or 1) - 1, 0)
            diags.append(GateDiagnostic(line, column, match["msg"].strip(), None))
    return diags


async def command_gate(
    gate: CommandGate, inp: GateInput, wd: Workdir, config: GatesConfig
) -> GateResult:
    refusal = await sandbox.unsandboxed_refusal(config)
    if refusal is not None:
        return GateResult(gate.name, True, refusal, skipped=True)
    timeout = gate.timeout_s or config.timeout_s
    argv = ["/bin/sh", "-c", expand(gate.command, wd)]
    outcome, info = await sandbox.run(argv, workdir=wd, config=config, timeout_s=timeout)
    region_start = inp.region[0] if inp.region is not None else 0
    if outcome.timed_out:
        message = f"timed out after {timeout:g} s; the gate's processes were killed"
        return GateResult(
            gate.name,
            False,
            message,
            diagnostics=[GateDiagnostic(region_start, 0, message, None)],
            duration_s=outcome.duration_s,
            timed_out=True,
            output=outcome.output,
            sandbox=info,
        )
    if outcome.error is not None:
        return GateResult(
            gate.name,
            False,
            f"could not start: {outcome.error}",
            duration_s=outcome.duration_s,
            sandbox=info,
        )
    if outcome.returncode == 0:
        return GateResult(
            gate.name, True, duration_s=outcome.duration_s, output=outcome.output, sandbox=info
        )
    diags = _diagnostics(outcome.output, wd)
    summary = describe(diags) if diags else outcome.output[-3000:]
    message = f"`{gate.command}` exited with {outcome.returncode}" + (
        f"\n{summary}" if summary else ""
    )
    if not diags:
        diags = [GateDiagnostic(region_start, 0, message.splitlines()[0], None)]
    return GateResult(
        gate.name,
        False,
        message,
        diagnostics=diags,
        duration_s=outcome.duration_s,
        output=outcome.output,
        sandbox=info,
    )
