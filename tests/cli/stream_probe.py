"""Prints how this process's stdout and stderr are buffered (tests/cli/test_warm.py)."""

import sys

print(f"stdout line_buffering={sys.stdout.line_buffering}", file=sys.stderr)  # type: ignore[attr-defined]
print(f"stderr line_buffering={sys.stderr.line_buffering}", file=sys.stderr)  # type: ignore[attr-defined]
