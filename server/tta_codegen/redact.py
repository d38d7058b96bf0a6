"""Keeps secrets out of prompts and gate output: files never read, key-shaped strings redacted.

Two layers, because either alone leaks. Files that exist to hold credentials
(``.env*``, private keys, cloud credential files) are never opened, so their content
never reaches memory, the index on disk or a prompt. Everything else that may leave the
machine (indexed chunks, rules files, the text around the cursor) goes through
:func:`redact`, which replaces strings shaped like provider keys, cloud keys, JWTs and
private key blocks, wherever they were planted. Redaction keeps line numbers stable
(a multi-line key block becomes the same number of lines), so line ranges shown to the
user still point at the right place.

Gate output is text that code the model wrote chose to print, so it is redacted twice over:
key-shaped strings as above, and the exact values the machine holds as secrets
(:class:`KnownSecrets`: the environment's secret-named variables and the content of the
workspace's secret files), plain and base64-encoded at any alignment. Shared by
``context/`` and ``gates/``: it imports nothing of either.
"""

from __future__ import annotations

import base64
import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePath

# Environment variable names that hold secrets: never passed to a gate, and their values
# are redacted from gate output.
SECRET_ENV_NAME = re.compile(
    r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH|COOKIE|SESSION)", re.IGNORECASE
)
# Shorter values are too likely to occur by chance to be replaced everywhere.
MIN_KNOWN_SECRET = 8

# File names (matched case-insensitively against the base name) that are never read.
SECRET_FILE_PATTERNS = (
    ".env",
    ".env.*",
    "*.env",
    ".envrc",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "*.kdbx",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".netrc",
    ".pgpass",
    ".npmrc",
    ".pypirc",
    ".git-credentials",
    "credentials",
    "credentials.json",
    "credentials.*.json",
    "client_secret*.json",
    "service-account*.json",
    "*.tfvars",
    "secrets.yaml",
    "secrets.yml",
    "secrets.toml",
    "secrets.json",
)
# Directories whose whole content is credentials.
SECRET_DIRS = frozenset({".ssh", ".aws", ".gnupg", ".docker", ".kube"})
_SECRET_NAME_RE = re.compile("|".join(fnmatch.translate(p) for p in SECRET_FILE_PATTERNS))


def is_secret_path(path: str | PurePath) -> bool:
    """True for files that hold credentials by convention; they are never opened."""
    p = PurePath(path)
    if _SECRET_NAME_RE.match(p.name.lower()):
        return True
    return any(part in SECRET_DIRS for part in p.parts[:-1])


# Each pattern starts with a literal so the regex engine can skip ahead quickly; a match
# glued to a preceding letter or digit ("task-...") is not a key and is left alone.
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "private-key",
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----.*?"
            r"(?:-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|\Z)",
            re.DOTALL,
        ),
    ),
    # OpenAI / Anthropic / OpenRouter style: sk-..., sk-proj-..., sk-ant-..., sk-or-v1-...
    ("api-key", re.compile(r"sk-[A-Za-z0-9_\-]{16,}")),
    ("aws-key", re.compile(r"(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}(?![0-9A-Za-z])")),
    ("jwt", re.compile(r"eyJ[A-Za-z0-9_\-]{6,}\.eyJ[A-Za-z0-9_\-]{6,}\.[A-Za-z0-9_\-]{6,}")),
    ("github-token", re.compile(r"gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}")),
    ("slack-token", re.compile(r"xox[abposr]-[A-Za-z0-9\-]{10,}")),
    ("google-key", re.compile(r"AIza[0-9A-Za-z_\-]{35}")),
    ("hf-token", re.compile(r"hf_[A-Za-z0-9]{30,}")),
    ("stripe-key", re.compile(r"(?:sk|rk)_live_[A-Za-z0-9]{20,}")),
]
# A long literal assigned to something named like a secret: password = "hunter2hunter2".
_ASSIGNED = re.compile(r"""[:=][ \t]*(["'])([^"'\s]{12,})\1""")
_SECRET_NAME = re.compile(
    r"(password|passwd|secret|api[_-]?key|access[_-]?key|auth[_-]?token|private[_-]?key)"
    r"[\"']?[ \t]*$"
)
# INI style, unquoted: aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
_AWS_SECRET = re.compile(r"(?i:aws_secret_access_key)[ \t]*[:=][ \t]*([A-Za-z0-9/+=]{30,})")


def _sub_key(kind: str, text: str, pattern: re.Pattern[str]) -> str:
    def replace(m: re.Match[str]) -> str:
        start = m.start()
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
            return m.group(0)
        return f"[REDACTED {kind}]" + "\n" * m.group(0).count("\n")

    return pattern.sub(replace, text)


def _sub_assigned(text: str) -> str:
    def replace(m: re.Match[str]) -> str:
        line_start = text.rfind("\n", 0, m.start()) + 1
        name = text[max(line_start, m.start() - 60) : m.start()].lower()
        if _SECRET_NAME.search(name) is None:
            return m.group(0)
        value = m.group(2)
        return m.group(0).replace(value, "[REDACTED secret-value]")

    return _ASSIGNED.sub(replace, text)


def encoded_forms(value: str) -> set[str]:
    """``value`` and the parts of its base64 (standard and URL-safe) that appear whatever
    surrounds it: one per alignment of its first byte in a 3-byte group."""
    raw = value.encode("utf-8")
    forms = {value}
    for skip in range(3):
        body = raw[skip:]
        body = body[: len(body) - len(body) % 3]
        if len(body) < 6:
            continue
        forms.add(base64.b64encode(body).decode("ascii"))
        forms.add(base64.urlsafe_b64encode(body).decode("ascii"))
    return {f for f in forms if len(f) >= MIN_KNOWN_SECRET}


@dataclass(frozen=True)
class KnownSecrets:
    """Exact secret values this machine holds; :meth:`redact` replaces them and their base64."""

    pattern: re.Pattern[str] | None = None

    @classmethod
    def of(cls, values: Iterable[str]) -> KnownSecrets:
        forms: set[str] = set()
        for value in values:
            value = value.strip()
            if len(value) >= MIN_KNOWN_SECRET:
                forms |= encoded_forms(value)
        if not forms:
            return cls()
        # Longest first, so a value wins over a shorter one it contains.
        alternatives = sorted(forms, key=len, reverse=True)
        return cls(re.compile("|".join(re.escape(f) for f in alternatives)))

    def redact(self, text: str) -> str:
        if self.pattern is None or not text:
            return text
        return self.pattern.sub("[REDACTED secret]", text)


def secret_env_values(environ: Mapping[str, str]) -> list[str]:
    """Values of the variables whose names say they hold a secret (``*_API_KEY``, ...)."""
    return [v for name, v in environ.items() if SECRET_ENV_NAME.search(name) and v.strip()]


_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_.-]*\s*[=:]\s*(.*?)\s*$")


def secret_file_values(text: str) -> list[str]:
    """The values a secret file holds: the whole text, each line, and each ``NAME=value``.

    Only for redaction: the values never leave memory.
    """
    values = [text.strip()]
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        values.append(line)
        match = _ASSIGNMENT.match(line)
        if match:
            values.append(match.group(1).strip("'\""))
    return [v for v in values if len(v) >= MIN_KNOWN_SECRET]


def redact(text: str, known: KnownSecrets | None = None) -> str:
    """``text`` with every key-shaped string replaced by ``[REDACTED <kind>]``, and with
    the exact values in ``known`` (and their base64) replaced by ``[REDACTED secret]``."""
    if not text:
        return text
    if known is not None:
        text = known.redact(text)
    for kind, pattern in _PATTERNS:
        text = _sub_key(kind, text, pattern)
    text = _sub_assigned(text)
    return _AWS_SECRET.sub(lambda m: m.group(0).replace(m.group(1), "[REDACTED aws-secret]"), text)


def contains_secret(text: str) -> bool:
    return redact(text) != text
