"""`tta-codegen --help` and `prompts list` must not import the model stack (issue 18).

Checked by module names, not by time: ``python -X importtime`` lists every module a
command imported, whatever the machine's load.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

from tests.guards import HANG_GUARD_S

# By module path: the package re-exports the click group under the same name `app`.
app_module = importlib.import_module("tta_codegen.cli.app")

HEAVY = ("httpx", "llama_cpp", "tta_codegen.engine", "tta_codegen.models.router", "rich")


def imported_modules(*args: str, cwd: Path) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "tta_codegen", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,  # the command takes well under a second idle
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def test_help_imports_no_subcommand_module(tmp_path: Path) -> None:
    names = imported_modules("--help", cwd=tmp_path)
    assert "tta_codegen.cli.app" in names  # the check itself sees our modules
    for heavy in (*HEAVY, "pydantic", "jinja2", "tta_codegen.config", "tta_codegen.cli.generate"):
        assert heavy not in names, f"--help imported {heavy}"


def test_prompts_list_imports_no_model_stack(tmp_path: Path) -> None:
    names = imported_modules("prompts", "list", cwd=tmp_path)
    assert "tta_codegen.prompts.library" in names
    for heavy in HEAVY:
        assert heavy not in names, f"prompts list imported {heavy}"


def test_help_lists_every_registered_subcommand() -> None:
    """The lazy table and the modules' own registrations agree, name for name."""
    app_module.load_subcommands()
    assert set(app_module.app.commands) == set(app_module.SUBCOMMANDS)
    for name, command in app_module.app.commands.items():
        module = app_module.SUBCOMMANDS[name][0]
        assert command.callback is not None
        assert command.callback.__module__ == f"tta_codegen.cli.{module}", name


def test_generate_leaves_out_what_a_run_in_a_pipe_never_uses() -> None:
    """Imported with the command: not the gates (imported in a thread once the request is
    out, engine.import_gates_ahead), not rich's live display (only in a terminal), not
    httpx's own command-line client (pygments, rich.syntax; tta_codegen/__init__.py)."""
    later = ("tta_codegen.gates.runner", "rich.live", "rich.spinner", "pygments", "rich.syntax")
    probe = (
        "import sys, tta_codegen.cli.generate, httpx; "
        f"print([m for m in {later!r} if m in sys.modules], httpx.AsyncClient.__name__)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,  # an import, well under a second idle
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[] AsyncClient"
