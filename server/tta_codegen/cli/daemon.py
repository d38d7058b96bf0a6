"""``tta-codegen daemon start|stop|status``: the warm process (:mod:`tta_codegen.cli.warm`).

While it runs, commands start in tens of milliseconds instead of ~0.6 s of imports. It is
never started behind the user's back: a CI job or a shell that never runs ``daemon start``
gets the plain, process-per-command behaviour.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time

import click

from tta_codegen.cli import warm
from tta_codegen.cli.app import EXIT_FAILED, EXIT_OK, app, fail

START_TIMEOUT_S = 120.0  # imports on a loaded 2-core machine take a few seconds, not minutes


@app.group("daemon")
def daemon_group() -> None:
    """Keep a warm process so commands skip their ~0.6 s of imports."""


@daemon_group.command("start")
@click.option(
    "--idle-minutes",
    type=click.FloatRange(min=0, min_open=True),
    default=warm.IDLE_S_DEFAULT / 60,
    show_default=True,
    help="End after this long with no command.",
)
def start(idle_minutes: float) -> None:
    """Start this install's warm process (nothing happens if it already runs)."""
    if not warm.SUPPORTED:
        fail("the warm process needs Unix sockets (Linux or macOS)", EXIT_FAILED)
    try:
        path = warm.socket_path(create=True)
    except warm.WarmError as exc:
        fail(str(exc), EXIT_FAILED)
    running = warm.control("status", path)
    if running is not None:
        click.echo(f"already running (pid {running['pid']}, socket {path})")
        sys.exit(EXIT_OK)
    env = {name: os.environ[name] for name in warm.KEPT_ENV if name in os.environ}
    code = "import sys\nfrom tta_codegen.cli.warm import main\nmain(sys.argv[1:])"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, path, repr(idle_minutes * 60)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # not in the terminal's process group: Ctrl-C is not for it
        env=env,
        cwd="/",
    )
    assert proc.stdout is not None and proc.stderr is not None
    began = time.monotonic()
    ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT_S)
    line = proc.stdout.readline() if ready else b""
    if line.strip() != b"ready":
        proc.kill()
        errors = proc.stderr.read().decode(errors="replace").strip().splitlines()
        reason = errors[-1] if errors else f"no answer within {START_TIMEOUT_S:.0f} s"
        fail(f"the warm process did not start: {reason}", EXIT_FAILED)
    proc.stdout.close()
    proc.stderr.close()
    click.echo(
        f"warm process ready in {time.monotonic() - began:.1f} s (pid {proc.pid}, socket "
        f"{path}); it ends after {idle_minutes:g} min with no command"
    )


@daemon_group.command("stop")
def stop() -> None:
    """Stop this install's warm process; commands then start as separate processes."""
    try:
        answer = warm.control("stop")
    except warm.WarmError:
        answer = None
    click.echo("stopped" if answer is not None else "no warm process was running")


@daemon_group.command("status")
def status() -> None:
    """Whether this install's warm process runs, and since when."""
    try:
        answer = warm.control("status")
    except warm.WarmError as exc:
        click.echo(f"not running ({exc})")
        return
    if answer is None:
        click.echo("not running: each command starts its own process (`tta-codegen daemon start`)")
        return
    up = time.time() - float(answer["started"])
    click.echo(
        f"running: pid {answer['pid']}, up {up:.0f} s, {answer['served']} command(s) served, "
        f"{answer['forks']} running now, "
        f"ends after {float(answer['idle_s']) / 60:g} min idle, socket {answer['socket']}"
    )
