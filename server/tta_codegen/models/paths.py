"""Where the model layer keeps files: the cost ledger (data) and the model catalog (cache).

Follows the XDG base directory spec so tests and users can move both with
``XDG_DATA_HOME`` / ``XDG_CACHE_HOME``; nothing here creates directories.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_DIR = "tta-codegen"


def user_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / APP_DIR


def user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / APP_DIR


def ledger_path() -> Path:
    return user_data_dir() / "ledger.sqlite3"


def catalog_dir() -> Path:
    return user_cache_dir() / "catalog"
