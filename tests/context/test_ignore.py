import os
from pathlib import Path

from tta_codegen.context.ignore import IgnoreRules


def files(root: Path, names: list[str]) -> None:
    for name in names:
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x = 1\n")


def walked(rules: IgnoreRules) -> set[str]:
    return {p.relative_to(rules.root).as_posix() for p in rules.walk(10_000)}


def test_gitignore_nested_negation_and_own_ignore_file(tmp_path: Path) -> None:
    files(tmp_path, ["a.py", "build/out.py", "logs/x.log", "logs/keep.log", "sub/gen/g.py",
                     "sub/s.py", "private/notes.md", "extra/e.py", "node_modules/m/index.js",
                     ".venv/lib/site.py", "pkg/__pycache__/m.py", "web/app.min.js"])  # fmt: skip
    (tmp_path / ".gitignore").write_text("build/\n*.log\n!keep.log\n")
    (tmp_path / "sub" / ".gitignore").write_text("gen/\n")
    (tmp_path / ".tta-codegenignore").write_text("private/\n")
    rules = IgnoreRules(tmp_path, ["extra/"])
    assert walked(rules) == {".gitignore", ".tta-codegenignore", "a.py", "logs/keep.log",
                             "sub/.gitignore", "sub/s.py"}  # fmt: skip
    assert rules.is_ignored(tmp_path / "sub" / "gen" / "g.py")
    assert rules.is_ignored(tmp_path / "build" / "out.py")
    assert not rules.is_ignored(tmp_path / "sub" / "s.py")
    assert rules.is_ignored(tmp_path.parent / "outside.py")


def test_secret_files_are_never_walked(tmp_path: Path) -> None:
    files(tmp_path, ["app.py", ".env", ".env.production", "certs/tls.pem", "deploy/id_rsa",
                     "secrets.py"])  # fmt: skip
    assert walked(IgnoreRules(tmp_path)) == {"app.py", "secrets.py"}
    assert IgnoreRules(tmp_path).is_ignored(tmp_path / ".env")


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    files(outside, ["leak.py"])
    root = tmp_path / "ws"
    files(root, ["a.py"])
    os.symlink(outside, root / "link")
    os.symlink(outside / "leak.py", root / "leak.py")
    assert walked(IgnoreRules(root)) == {"a.py"}


def test_max_files_stops_the_walk(tmp_path: Path) -> None:
    files(tmp_path, [f"m{i}.py" for i in range(20)])
    assert len(list(IgnoreRules(tmp_path).walk(5))) == 5
