"""Command gates: a shell command with `{file}`, passing on exit status 0."""

from __future__ import annotations

from pathlib import Path

from tests.gates.conftest import MODULE, one, run


def command(name: str, cmd: str, **extra: object) -> dict[str, object]:
    return {"name": name, "command": cmd, **extra}


async def test_file_placeholder_is_the_candidate_copy(workspace: Path) -> None:
    gate = command(
        "has-add", "grep -q 'def add' {file} && test {file} != " + str(workspace / "mod.py")
    )
    results = await run(workspace, MODULE, enabled=["has-add"], commands=[gate])
    assert one(results, "has-add").passed


async def test_failing_command_reports_output_and_located_lines(workspace: Path) -> None:
    gate = command(
        "no-return", "grep -n return {file} | sed 's|^|{file}:|'; ! grep -q return {file}"
    )
    result = one(await run(workspace, MODULE, enabled=["no-return"], commands=[gate]), "no-return")
    assert not result.passed
    assert result.message is not None and "exited with 1" in result.message
    assert [(d.line, d.message) for d in result.diagnostics] == [(1, "return a + b")]


async def test_command_gates_apply_to_their_languages_only(workspace: Path) -> None:
    gates = [command("js-only", "false", languages=["javascript"]), command("any", "true")]
    results = await run(
        workspace,
        "console.log(1)\n",
        path="x.js",
        language="javascript",
        enabled=["syntax", "ruff", "js-only", "any"],
        commands=gates,
    )
    # The Python gates do not apply to JavaScript.
    assert [(r.name, r.passed) for r in results] == [("js-only", False), ("any", True)]


async def test_per_gate_timeout(workspace: Path) -> None:
    gate = command("slow", "sleep 30", timeout_s=1)
    result = one(await run(workspace, MODULE, enabled=["slow"], commands=[gate]), "slow")
    assert not result.passed and result.timed_out
    # Killed at its limit, not waited out: well under the 30 s the command would sleep
    # (a bound on behaviour, not a speed check).
    assert result.duration_s < 29
    assert "timed out after 1 s" in (result.message or "")
