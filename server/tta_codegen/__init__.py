"""tta-codegen: a language server that streams AI-generated code into the editor."""

import sys

__version__ = "0.1.0"

# httpx imports its own command-line client (httpx._main: rich.progress, rich.syntax,
# pygments; ~30 ms of a fresh process's start) whenever rich and click are installed, as
# they are with the CLI. Nothing here runs that client. None in sys.modules makes the
# import fail, and httpx then defines the stub it has for installs without them.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
