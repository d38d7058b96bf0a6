"""WorkspaceContext.gather on a real workspace: what the engine receives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.guards import until
from tta_codegen.config import Config
from tta_codegen.context.provider import WorkspaceContext
from tta_codegen.context.settings import ContextConfig
from tta_codegen.request import GenerationRequest

CLIENT = "from app import net\n\n\ndef main():\n    pass\n"


def workspace(root: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/net.py": 'def retry_with_backoff(fn):\n    """Retry fn with exponential backoff."""\n'
        "    return fn()\n",
        "app/client.py": CLIENT,
        "CLAUDE.md": "Always log external calls with structlog.\n",
        "team/rules.txt": "Name tests test_<behaviour>.\n",
        "../outside.md": "must never be read\n",
    }
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def request(root: Path, description: str) -> GenerationRequest:
    path = str(root / "app" / "client.py")
    return GenerationRequest("generate", path, "python", CLIENT, 20, 20, description)


async def test_gather_packs_rules_examples_and_map(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    workspace(root)
    cfg = ContextConfig(rules=["team/rules.txt", "../outside.md", ".env"])
    ctx = WorkspaceContext([root], cfg, cache_dir=tmp_path / "cache")
    await ctx.start()
    result = await ctx.gather(request(root, "retry with backoff"), Config(context=cfg))
    assert "structlog" in result.rules and "Name tests" in result.rules
    assert "must never be read" not in result.rules
    assert "def retry_with_backoff(fn):" in result.text
    sources = [(p.kind, p.source) for p in result.parts]
    assert ("rules", "CLAUDE.md") in sources and ("rules", "team/rules.txt") in sources
    assert ("example", "app/net.py:1-3") in sources
    assert any(kind == "repo_map" for kind, _ in sources)
    assert result.used_tokens <= result.max_tokens
    await ctx.close()


async def test_index_off_still_gives_rules_and_window(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    workspace(root)
    cfg = ContextConfig(index=False)
    ctx = WorkspaceContext([root], cfg, cache_dir=tmp_path / "cache")
    assert await ctx.start() is None
    result = await ctx.gather(request(root, "retry"), Config(context=cfg))
    assert "structlog" in result.rules
    assert [p.kind for p in result.parts] == ["rules", "current_file"]
    assert not (tmp_path / "cache").exists()


async def test_opened_document_is_searchable_before_it_is_saved(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    workspace(root)
    cfg = ContextConfig()
    ctx = WorkspaceContext([root], cfg, cache_dir=tmp_path / "cache")
    await ctx.start()
    path = root / "app" / "shapes.py"
    ctx.document_opened(path, "def polygon_area_sum(points):\n    return 0\n")

    async def example_from_buffer() -> list[Any]:
        result = await ctx.gather(request(root, "polygon area"), Config(context=cfg))
        return [p for p in result.parts if p.kind == "example" and "shapes.py" in p.source]

    found = await until(example_from_buffer, "the open buffer indexed", interval=0.02)
    example = found[0]
    assert "polygon_area_sum" in example.text
    assert "open in the editor" in example.reason
    await ctx.close()


async def test_changed_ignore_settings_drop_files(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    workspace(root)
    cfg = ContextConfig()
    ctx = WorkspaceContext([root], cfg, cache_dir=tmp_path / "cache")
    await ctx.start()
    assert ctx.status().files == 5
    narrower = ContextConfig(ignore=["app/net.py"])
    await ctx.reconfigure(narrower)
    assert ctx.status().files == 4
    result = await ctx.gather(request(root, "retry backoff"), Config(context=narrower))
    assert "retry_with_backoff(fn):" not in result.text
    # Settings changed by a config reload reach the index through gather itself.
    await ctx.gather(request(root, "retry backoff"), Config(context=cfg))
    await until(lambda: ctx.status().files == 5, "the reload's settings in the index")
    await ctx.close()
