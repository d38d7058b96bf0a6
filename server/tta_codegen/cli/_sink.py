"""Where ``tta-codegen generate`` puts code while it streams: memory, plus a live display.

The engine pushes code into a :class:`TerminalSink` (the CLI's :class:`CodeSink`); nothing
reaches a file or stdout until the whole generation succeeded, so a failure or Ctrl-C
leaves the user's files untouched and ``reset`` (a model failed mid-stream and the next
one starts) only has to forget memory. Progress (model, tokens, tokens/s, and the tail of
the code as it grows) is drawn with rich on stderr, which keeps stdout clean for the code
or the JSON answer. When stderr is not a terminal, it prints plain lines instead.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console, Group, RenderableType
from rich.text import Text

if TYPE_CHECKING:
    from rich.live import Live
    from rich.spinner import Spinner

_TAIL_LINES = 12


class TerminalSink:
    def __init__(self, console: Console, *, show_code: bool = True) -> None:
        self.console = console
        self.show_code = show_code
        self.parts: list[str] = []
        self.model = ""
        self.tokens = 0
        self.resets = 0
        self._first_token_at: float | None = None
        self._last_token_at: float | None = None
        self._first_count = 0  # tokens when the attempt's first one arrived
        # Earlier attempts (refinement rounds, continuations, fallbacks): tokens generated
        # after each one's first, and the seconds they took.
        self._gen_tokens = 0
        self._gen_s = 0.0
        self._started = time.perf_counter()
        self._live: Live | None = None
        self._spinner: Spinner | None = None  # made with the live display
        self.last_note = ""

    # -- CodeSink -------------------------------------------------------------------------
    def write(self, text: str) -> None:
        self.parts.append(text)

    async def reset(self) -> None:
        self.parts.clear()
        self.resets += 1

    def progress(self, model: str, tokens: int) -> None:
        now = time.perf_counter()
        if model != self.model or tokens < self.tokens:
            # A new attempt. Only another model means a fallback; the same model again is a
            # new round or a continuation, which the engine announces with note().
            if self.model and model != self.model and not self.console.is_terminal:
                self.console.print(f"{self.model} failed; trying {model}", highlight=False)
            elif not self.model and not self.console.is_terminal:
                self.console.print(f"generating with {model}", highlight=False)
            self.model = model
            self._fold_attempt()
        if tokens > 0:
            if self._first_token_at is None:
                self._first_token_at = now
                self._first_count = tokens
            self._last_token_at = now
        self.tokens = tokens

    def note(self, message: str) -> None:
        """A progress line: printed as is (the live display stays on its own line)."""
        self.last_note = message
        self.console.print(message, highlight=False, markup=False)

    # -- display --------------------------------------------------------------------------
    @property
    def text(self) -> str:
        return "".join(self.parts)

    def _fold_attempt(self) -> None:
        if self._first_token_at is not None and self._last_token_at is not None:
            self._gen_tokens += self.tokens - self._first_count
            self._gen_s += self._last_token_at - self._first_token_at
        self._first_token_at = self._last_token_at = None

    @property
    def tokens_per_s(self) -> float | None:
        """Generated tokens / generation time, over every attempt so far.

        Each attempt counts from its first token: the time before it is reading the prompt
        (and, for a remote model, the network), which is not the generation rate. Several
        rounds are several spans, never one span from the first round's start to the
        last round's end (that would count the gaps between them: gates, prompt reading).
        """
        tokens, span = self._gen_tokens, self._gen_s
        if self._first_token_at is not None and self._last_token_at is not None:
            tokens += self.tokens - self._first_count
            span += self._last_token_at - self._first_token_at
        return tokens / span if tokens > 0 and span > 0 else None

    def status_line(self) -> str:
        elapsed = time.perf_counter() - self._started
        rate = self.tokens_per_s
        bits = [self.model or "starting", f"{self.tokens} tokens"]
        if rate is not None:
            bits.append(f"{rate:.0f} tok/s")
        bits.append(f"{elapsed:.1f}s")
        return " · ".join(bits)

    def _render(self) -> RenderableType:
        spinner = self._spinner
        assert spinner is not None, "drawn only by the live display, which makes it"
        spinner.text = Text(self.status_line(), style="bold")
        if not self.show_code:
            return spinner
        tail = "\n".join(self.text.splitlines()[-_TAIL_LINES:])
        return Group(Text(tail, style="dim"), spinner)

    def __enter__(self) -> TerminalSink:
        if self.console.is_terminal:
            # Imported only where the display is drawn (~30 ms): not in CI or a pipe.
            from rich.live import Live
            from rich.spinner import Spinner

            self._spinner = Spinner("dots", style="cyan")
            self._live = Live(
                get_renderable=self._render,
                console=self.console,
                refresh_per_second=10,
                transient=True,
                redirect_stdout=False,  # stdout is for the code or the JSON answer
                redirect_stderr=False,
            )
            self._live.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
