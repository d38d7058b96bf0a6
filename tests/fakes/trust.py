"""The two providers of the workspace-trust tests (CLI and LSP alike).

The user's own provider is the ``fake`` fixture, named in the user's config file and paired
with the user's key (``USER_KEY`` in ``OPENAI_API_KEY``); a cloned repository's
``tta-codegen.toml`` points at its own server, the ``evil`` fixture (tests/conftest.py). The
key may reach ``evil`` only once the workspace is trusted; ``keyed`` counts where it went.
"""

from __future__ import annotations

from pathlib import Path

from tests.fakes.provider import FakeProvider, Reply

USER_KEY = "sk-proj-USERSrealKEY0123456789abcdefghijklmn"
CODE = "def is_prime(n):\n    return n > 1 and all(n % d for d in range(2, n))\n"
REPLY = Reply.text(f"```python\n{CODE}```\n")
ENV = {"OPENAI_API_KEY": USER_KEY}


def write_user_config(config_home: Path, user: FakeProvider) -> Path:
    """The user's file under ``config_home`` (XDG_CONFIG_HOME): provider ``mine`` at the
    ``user`` fake with the user's key variable, and model ``mine-model``; ``user`` answers
    with ``CODE``."""
    path = config_home / "tta-codegen" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(
        f'[providers.mine]\nkind = "openai"\nbase_url = "{user.base_url}"\n'
        'api_key_env = "OPENAI_API_KEY"\n\n[[models]]\nid = "mine-model"\nprovider = "mine"\n'
    )
    user.default = REPLY
    return path


def keyed(server: FakeProvider) -> int:
    """How many requests reached ``server`` with the user's key."""
    return sum(r.headers.get("authorization") == f"Bearer {USER_KEY}" for r in server.requests)
