"""Safety checks: secrets must not leave in a prompt; dangerous code is flagged on the way in.

Off unless ``[safety] enabled = true``. Each check is a small class with a ``name`` (used
in messages and in ``safety.disabled_checks``) and one method. Prompt checks return
findings that refuse the request before anything is sent (the secret itself is never
echoed: only what kind it was and where). Output checks return warnings the engine
reports with the generated code; they never block it.

Add a check by writing a class and listing it in ``PROMPT_CHECKS`` or ``OUTPUT_CHECKS``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from tta_codegen.models.errors import ModelError
from tta_codegen.models.settings import SafetyConfig


@dataclass(frozen=True)
class Finding:
    check: str
    message: str
    line: int  # 0-based line in the checked text

    def to_dict(self) -> dict[str, object]:
        return {"check": self.check, "message": self.message, "line": self.line}


class SafetyRefused(ModelError):
    """The prompt contained something that must not be sent to a model."""

    def __init__(self, findings: list[Finding]) -> None:
        where = "; ".join(f"{f.message} (line {f.line + 1}, check {f.check})" for f in findings)
        super().__init__(
            f"refused before sending: the prompt contains secrets: {where}. Remove them from "
            "the document or the context (or disable the check in [safety] disabled_checks)"
        )
        self.findings = findings


class Check(Protocol):
    name: ClassVar[str]

    def run(self, text: str) -> list[Finding]: ...


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset)


class _RegexCheck:
    """A check that flags every match of one of its patterns."""

    name: ClassVar[str] = ""
    patterns: ClassVar[Sequence[tuple[re.Pattern[str], str]]] = ()

    def run(self, text: str) -> list[Finding]:
        found: list[Finding] = []
        seen_lines: set[int] = set()
        for pattern, message in self.patterns:
            for m in pattern.finditer(text):
                line = _line_of(text, m.start())
                if line not in seen_lines:
                    seen_lines.add(line)
                    found.append(Finding(self.name, message, line))
        return sorted(found, key=lambda f: f.line)


# -- prompt checks ------------------------------------------------------------------------


class PrivateKeyCheck(_RegexCheck):
    name = "private_key"
    patterns = (
        (
            re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY"),
            "a private key block",
        ),
    )


class ApiKeyCheck(_RegexCheck):
    name = "api_key"
    patterns = (
        (re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{20,}"), "an Anthropic API key"),
        (re.compile(r"\bsk-(?:proj-|or-v1-)?[A-Za-z0-9_\-]{20,}"), "an OpenAI-style API key"),
        (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), "an AWS access key id"),
        (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}"), "a GitHub token"),
        (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,}"), "a GitHub token"),
        (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), "a Slack token"),
        (re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"), "a Google API key"),
        (re.compile(r"\b[rs]k_live_[0-9A-Za-z]{20,}"), "a Stripe live key"),
    )


# -- output checks ------------------------------------------------------------------------


class EvalExecCheck(_RegexCheck):
    """eval/exec of anything but a literal: with user input it runs arbitrary code."""

    name = "eval_exec"
    patterns = (
        (
            re.compile(r"(?<![\w.])(?:eval|exec)\s*\(\s*(?!['\"\)])"),
            "eval()/exec() of a non-literal runs arbitrary code if it ever sees user input; "
            "use ast.literal_eval or explicit parsing",
        ),
    )


class ShellTrueCheck(_RegexCheck):
    name = "shell_true"
    patterns = (
        (
            re.compile(r"\bshell\s*=\s*True\b"),
            "subprocess with shell=True allows shell injection; pass a list of arguments",
        ),
        (re.compile(r"\bos\.system\s*\("), "os.system runs a shell; use subprocess with a list"),
    )


class PickleLoadsCheck(_RegexCheck):
    name = "pickle_loads"
    patterns = (
        (
            re.compile(r"\b(?:c?[Pp]ickle|dill|joblib)\.loads?\s*\("),
            "unpickling untrusted data runs arbitrary code; use json or a safe format",
        ),
        (
            re.compile(r"\byaml\.load\s*\((?![^)]*SafeLoader)"),
            "yaml.load without SafeLoader can build arbitrary objects; use yaml.safe_load",
        ),
    )


class TlsVerifyCheck(_RegexCheck):
    name = "tls_verify_disabled"
    patterns = (
        (re.compile(r"\bverify\s*=\s*False\b"), "TLS certificate verification is disabled"),
        (re.compile(r"_create_unverified_context|CERT_NONE"), "TLS verification is disabled"),
        (re.compile(r"rejectUnauthorized\s*:\s*false"), "TLS verification is disabled"),
        (re.compile(r"InsecureSkipVerify\s*:\s*true"), "TLS verification is disabled"),
    )


PROMPT_CHECKS: tuple[type[_RegexCheck], ...] = (PrivateKeyCheck, ApiKeyCheck)
OUTPUT_CHECKS: tuple[type[_RegexCheck], ...] = (
    EvalExecCheck,
    ShellTrueCheck,
    PickleLoadsCheck,
    TlsVerifyCheck,
)


class SafetyChecker:
    """The configured checks; a disabled checker passes everything."""

    def __init__(self, config: SafetyConfig | None) -> None:
        self.config = config or SafetyConfig()
        skip = set(self.config.disabled_checks)
        self.prompt_checks: list[Check] = [c() for c in PROMPT_CHECKS if c.name not in skip]
        self.output_checks: list[Check] = [c() for c in OUTPUT_CHECKS if c.name not in skip]

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    def check_prompt(self, texts: Sequence[str]) -> None:
        """Raise SafetyRefused when a prompt part holds a secret."""
        if not self.enabled:
            return
        findings = [f for text in texts for check in self.prompt_checks for f in check.run(text)]
        if findings:
            raise SafetyRefused(findings)

    def check_output(self, code: str) -> list[Finding]:
        if not self.enabled:
            return []
        found = [f for check in self.output_checks for f in check.run(code)]
        return sorted(found, key=lambda f: (f.line, f.check))


KNOWN_CHECKS = tuple(c.name for c in (*PROMPT_CHECKS, *OUTPUT_CHECKS))
