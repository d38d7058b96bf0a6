"""Autonomous agent backends (OpenHands). POSTPONED: see ADR-001.

``docs/adr/ADR-001-openhands-integration-postponement.md`` explains why the agent is
off by default (OpenHands issue #8630, a context-condensation loop that never edits a
file) and when to switch it back on. Until then the code is kept working and tested so
that enabling it is a config change (``[agents.openhands] enabled = true``), and the
guards here make sure the known loop ends in a clear message instead of a hang.

Layout: ``base`` (the AgentBackend interface), ``events`` (what a run reports),
``openhands`` (the REST client and its run loop), ``guards`` (loop detection), ``edits``
(sandbox paths → workspace files, edit operations → text replacements), ``routing``
(which tasks go to the agent, health cache), ``settings`` (the config table), ``status``
(one-line health for ``tta-codegen doctor`` and ``tta.listModels``), ``smoke`` (the
re-activation smoke test against a real server).

This module imports nothing heavy: ``config`` imports ``agents.settings`` through it.
"""

ADR = "docs/adr/ADR-001-openhands-integration-postponement.md"
POSTPONED = True

__all__ = ["ADR", "POSTPONED"]
