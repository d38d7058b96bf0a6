"""Fixtures for the gate tests: a small real workspace that must come out of every test unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.guards import HANG_GUARD_S
from tta_codegen.gates import sandbox
from tta_codegen.gates.runner import GateInput, GateResult, run_gates
from tta_codegen.gates.settings import GatesConfig

MODULE = "def add(a, b):\n    return a + b\n"
TEST = (
    "from mod import add\n\n\ndef test_add():\n    assert add(1, 2) == 3, 'add(1, 2) should be 3'\n"
)


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file's bytes and every directory, keyed by relative path."""
    state: dict[str, bytes | None] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        state[rel] = path.read_bytes() if path.is_file() else None
    return state


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Path]:
    """mod.py + tests/test_mod.py; asserts byte for byte that no gate changed anything."""
    root = tmp_path / "ws"
    (root / "tests").mkdir(parents=True)
    (root / "mod.py").write_text(MODULE)
    (root / "tests" / "test_mod.py").write_text(TEST)
    before = snapshot(root)
    yield root
    assert snapshot(root) == before, "a gate changed the workspace"


@pytest.fixture
async def caps() -> sandbox.Capabilities:
    return await sandbox.capabilities()


def config(**kwargs: object) -> GatesConfig:
    # The gates' own time limit is a hang guard here (tests of the limit set their own).
    data: dict[str, object] = {"timeout_s": HANG_GUARD_S, "tests": {"autoload_plugins": False}}
    data.update(kwargs)
    return GatesConfig.model_validate(data)


async def run(
    workspace: Path | None,
    text: str,
    *,
    path: str = "mod.py",
    enabled: list[str] | None = None,
    region: tuple[int, int] | None = None,
    targets: list[str] | None = None,
    extra: dict[str, str] | None = None,
    language: str = "python",
    **cfg: object,
) -> list[GateResult]:
    conf = config(enabled=enabled or ["syntax"], **cfg)
    inp = GateInput(
        path=path,
        text=text,
        language=language,
        workspace_root=workspace,
        region=region,
        extra_files=extra or {},
        test_targets=targets or [],
    )
    return await run_gates(inp, conf)


def one(results: list[GateResult], name: str) -> GateResult:
    found = [r for r in results if r.name == name]
    assert len(found) == 1, [r.name for r in results]
    return found[0]
