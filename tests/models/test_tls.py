"""The TLS context of provider clients: the CA bundle read once per process, and none for
plain-http providers (models/http.py: tls_context)."""

from __future__ import annotations

import ssl

from tta_codegen.config import ProviderConfig
from tta_codegen.models.http import make_client, tls_context


def test_https_providers_share_one_verifying_context() -> None:
    a, b = tls_context("https://api.openai.com/v1"), tls_context("HTTPS://openrouter.ai/api")
    assert a is b  # read once: ~50 ms of CPU per client otherwise
    assert a.verify_mode == ssl.CERT_REQUIRED and a.check_hostname
    assert a.cert_store_stats()["x509_ca"] > 0
    assert tls_context(None) is a  # no URL: the safe default


def test_plain_http_provider_reads_no_bundle_and_could_not_use_tls() -> None:
    ctx = tls_context("http://127.0.0.1:8080/v1")
    assert ctx is not tls_context("https://example.com")
    # Nothing trusted and a verified certificate required: a TLS handshake made with it
    # fails rather than going unverified.
    assert ctx.cert_store_stats()["x509_ca"] == 0
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname


def test_clients_are_built_with_the_shared_context() -> None:
    cfg = ProviderConfig(kind="openai", base_url="https://api.example.com/v1")
    pool = make_client(cfg)._transport._pool  # type: ignore[attr-defined]
    assert pool._ssl_context is tls_context(cfg.base_url)
