"""Issue 19, items 1-4: files the CLI must refuse or handle without loss.

Each runs the real command in a subprocess; the permission case without root's
CAP_DAC_OVERRIDE, as a normal user would run it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.cli.conftest import NO_DAC_OVERRIDE, RunCli, fake_config
from tests.fakes.provider import FakeProvider, Reply

CODE = "def add(a, b):\n    return a + b\n"
REPLY = Reply.text(f"```python\n{CODE}```\n")


def use_fake(ws: Path, fake: FakeProvider) -> None:
    (ws / "tta-codegen.toml").write_text(fake_config(fake.base_url))
    fake.add(REPLY)


def model_calls(fake: FakeProvider) -> int:
    return sum(r.path.endswith("/chat/completions") for r in fake.requests)


def read_only_file(ws: Path) -> Path:
    ro = ws / "ro.py"
    ro.write_text("x = 1\n")
    ro.chmod(0o444)
    return ro


def assert_untouched(ro: Path, fake: FakeProvider) -> None:
    assert ro.read_text() == "x = 1\n"
    assert stat.S_IMODE(ro.stat().st_mode) == 0o444
    assert model_calls(fake) == 0


async def test_read_only_file_is_refused_before_any_model_call(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    use_fake(ws, fake)
    ro = read_only_file(ws)
    r = await cli("generate", "add two numbers", "--file", "ro.py", prefix=NO_DAC_OVERRIDE)
    assert r.code == 2, r.stderr
    assert "permission denied" in r.stderr.lower()
    assert r.stderr.startswith("tta-codegen: ") and r.stderr.count("\n") == 1
    assert_untouched(ro, fake)


async def test_a_read_only_mode_is_refused_even_where_root_could_write_it(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    """Run as whoever runs the suite (root on CI): the mode says read-only, so no write."""
    use_fake(ws, fake)
    ro = read_only_file(ws)
    link = ws / "link.py"
    link.symlink_to("ro.py")
    for name in ("ro.py", "link.py"):
        r = await cli("generate", "add two numbers", "--file", name)
        assert r.code == 2, r.stderr
        assert (
            r.stderr
            == f"tta-codegen: {name}: cannot be written: it is read-only (chmod u+w {name} to allow it)\n"
        )
    assert_untouched(ro, fake)


async def test_symlink_edits_the_target_and_stays_a_link(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    use_fake(ws, fake)
    target = ws / "target.py"
    target.write_text("x = 1\n")
    target.chmod(0o640)
    link = ws / "link.py"
    link.symlink_to("target.py")
    r = await cli("generate", "add two numbers", "--file", "link.py")
    assert r.code == 0, r.stderr
    assert link.is_symlink() and os.readlink(link) == "target.py"
    assert target.read_text() == "x = 1\n\n\n" + CODE  # PEP 8: two blank lines before a def
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in ws.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize(
    "content",
    [
        b"\x00" * 2048,  # decodes as UTF-8, but is no text
        b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56,
        bytes(range(128, 256)) * 8,
    ],
    ids=["nul", "elf", "random"],
)
async def test_binary_files_are_refused_the_same_way(
    ws: Path, fake: FakeProvider, cli: RunCli, content: bytes
) -> None:
    use_fake(ws, fake)
    (ws / "z.bin").write_bytes(content)
    r = await cli("generate", "add two numbers", "--file", "z.bin")
    assert r.code == 2, r.stderr
    assert "z.bin: is not a text file (binary, or not UTF-8)" in r.stderr
    assert (ws / "z.bin").read_bytes() == content
    assert model_calls(fake) == 0


async def test_out_into_a_missing_folder_is_refused_before_any_model_call(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    use_fake(ws, fake)
    r = await cli("generate", "add two numbers", "--out", "nodir/sub/x.py")
    assert r.code == 2, r.stderr
    assert "folder nodir/sub does not exist" in r.stderr
    assert not (ws / "nodir").exists()
    assert model_calls(fake) == 0
