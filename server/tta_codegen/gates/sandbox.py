"""Running one gate command: limits, scrubbed environment, isolation, timeout, bounded output.

Owns process life: every gate process starts in a session of its own (and, as root, a pids
cgroup of its own) so that a timeout kills it and everything it spawned. What isolation
this machine allows is probed once per server process with a real child
(:func:`capabilities`) and reported with every result (:class:`SandboxInfo`). A part that
does not work is left out and named in the notes, with one exception: where no mount
namespace can hide the secret files (:mod:`tta_codegen.gates.secrets`), gates that
execute generated code do not run unless ``[gates] allow_unsandboxed = true``
(:func:`unsandboxed_refusal`). ``TTA_GATES_NO_NAMESPACES=1`` in the server's environment
makes the probe find no namespaces, so that this path can be tested on any machine.

It never passes the parent's environment: only an allow-list (PATH, LANG, ...), the names
the user lists in ``gates.pass_env`` minus anything that looks like a secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from tta_codegen.gates import isolation
from tta_codegen.gates.settings import GatesConfig
from tta_codegen.gates.types import SandboxInfo
from tta_codegen.gates.workdir import Workdir
from tta_codegen.redact import SECRET_ENV_NAME

# Set (to anything but "" or "0") in the server's environment: behave as on a machine
# without namespaces. For tests of the unsandboxed path; documented in docs/security.md.
NO_NAMESPACES_ENV = "TTA_GATES_NO_NAMESPACES"
_PASSED_BY_DEFAULT = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM")


@dataclass(frozen=True)
class Capabilities:
    new_user: bool
    new_net: bool
    readonly_fs: bool
    cgroup_base: Path | None
    notes: tuple[str, ...] = ()

    @property
    def hides_secrets(self) -> bool:
        """Secret files can be covered: a mount namespace works (the probe checked it)."""
        return self.readonly_fs

    def info(self, allow_network: bool) -> SandboxInfo:
        if self.cgroup_base is not None:
            procs = "cgroup"
        elif os.geteuid() != 0 and os.path.isdir("/proc"):
            procs = "rlimit"
        else:
            procs = "none"
        return SandboxInfo(
            network_isolated=self.new_net and not allow_network,
            filesystem_readonly=self.readonly_fs,
            process_limit=procs,
            notes=self.notes,
        )


_PROBE = """
import json, os, socket, sys
res = {}
try:
    open(os.path.join(sys.argv[1], "probe"), "w").close()
    res["ro"] = False
except OSError:
    res["ro"] = True
try:
    open(os.path.join(sys.argv[2], "probe"), "w").close()
    res["rw"] = True
except OSError:
    res["rw"] = False
res["ifaces"] = sorted(name for _, name in socket.if_nameindex())
try:
    with open(sys.argv[3]) as fh:
        res["hidden"] = fh.read() == ""
except OSError:
    res["hidden"] = True
print(json.dumps(res))
"""

_caps: Capabilities | None = None


async def capabilities() -> Capabilities:
    """What isolation works here: probed with a real child once, then cached.

    No lock: two first runs at once both probe and find the same answer.
    """
    global _caps
    if _caps is None:
        _caps = await _probe()
    return _caps


def _find_pids_cgroup() -> Path | None:
    """A cgroup directory under which we may create children with ``pids.max`` (root only)."""
    if os.geteuid() != 0:
        return None
    try:
        lines = Path("/proc/self/cgroup").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    candidates: list[Path] = []
    for line in lines:
        _, controllers, rel = line.split(":", 2)
        rel = rel.lstrip("/")
        if "pids" in controllers.split(","):
            candidates.append(Path("/sys/fs/cgroup/pids") / rel)
        elif controllers == "":
            candidates += [Path("/sys/fs/cgroup") / rel, Path("/sys/fs/cgroup/unified") / rel]
    for base in candidates:
        _remove_stale_cgroups(base)
        probe = base / f"tta-gates-probe-{os.getpid()}"
        try:
            probe.mkdir()
        except OSError:
            continue
        try:
            if (probe / "pids.max").exists():
                return base
        finally:
            with contextlib.suppress(OSError):
                probe.rmdir()
    return None


def _remove_stale_cgroups(base: Path) -> None:
    """Remove run cgroups left behind by a server that died mid-run (named tta-gates-PID-N)."""
    with contextlib.suppress(OSError):
        for child in base.glob("tta-gates-*"):
            owner = child.name.split("-")[2]
            if owner.isdigit() and not Path("/proc", owner).exists():
                with contextlib.suppress(OSError):
                    child.rmdir()  # only succeeds when empty


async def _probe() -> Capabilities:
    cgroup = await asyncio.to_thread(_find_pids_cgroup)
    notes: list[str] = []
    if cgroup is None and os.geteuid() == 0:
        notes.append("no pids cgroup: the process count of gates is not limited (root)")
    if os.environ.get(NO_NAMESPACES_ENV, "") not in ("", "0"):
        notes.append(f"namespaces turned off by {NO_NAMESPACES_ENV}")
        return Capabilities(False, False, False, cgroup, tuple(notes))
    if not sys.platform.startswith("linux"):
        notes.append("not Linux: no network or file-system isolation")
        return Capabilities(False, False, False, cgroup, tuple(notes))
    new_user = os.geteuid() != 0
    for new_net, readonly in ((True, True), (True, False), (False, True)):
        plan = isolation.Plan(new_user=new_user, new_net=new_net, readonly_fs=readonly)
        ok, why = await _try_plan(plan)
        if ok:
            if not new_net:
                notes.append("no network namespace: gates can reach the network")
            if not readonly:
                notes.append("no mount namespace: the workspace is protected only by permissions")
            return Capabilities(new_user, new_net, readonly, cgroup, tuple(notes))
        notes.append(why)
    notes.append("no namespaces: gates can reach the network and write where the user can")
    return Capabilities(False, False, False, cgroup, tuple(notes))


async def _try_plan(plan: isolation.Plan) -> tuple[bool, str]:
    what = f"net={plan.new_net} readonly_fs={plan.readonly_fs}"
    with (
        tempfile.TemporaryDirectory(prefix="tta-gates-probe-") as protected,
        tempfile.TemporaryDirectory(prefix="tta-gates-probe-") as writable,
    ):
        mounts = await asyncio.to_thread(isolation.read_mounts) if plan.readonly_fs else ()
        secret = os.path.join(protected, "secret")
        await asyncio.to_thread(Path(secret).write_text, "probe", encoding="utf-8")
        hidden = (secret,) if plan.readonly_fs else ()
        plan = replace(plan, writable=writable, mounts=mounts, hide_files=hidden)
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-I",
                "-c",
                _PROBE,
                protected,
                writable,
                secret,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=functools.partial(isolation.apply, plan),
            )
            out, _ = await asyncio.wait_for(proc.communicate(), 20)
        except (OSError, subprocess.SubprocessError, TimeoutError) as exc:
            return False, f"isolation {what} unavailable: {exc}"
        try:
            res = json.loads(out)
        except ValueError:
            return False, f"isolation {what} unavailable: probe exited {proc.returncode}"
        if plan.new_net and set(res["ifaces"]) - {"lo"}:
            return False, f"isolation {what}: network namespace still sees {res['ifaces']}"
        if plan.readonly_fs and not (res["ro"] and res["rw"]):
            return False, f"isolation {what}: read-only remount did not hold"
        if plan.readonly_fs and not res["hidden"]:
            return False, f"isolation {what}: a secret file could not be hidden"
        return True, ""


async def unsandboxed_refusal(config: GatesConfig) -> str | None:
    """Why a gate that executes generated code must not run here, or None when it may.

    Without a mount namespace the secret files cannot be hidden from the code, so it does
    not run unless the user said ``allow_unsandboxed``.
    """
    caps = await capabilities()
    if caps.hides_secrets or config.allow_unsandboxed:
        return None
    why = "; ".join(caps.notes) or "no mount namespace"
    return (
        "skipped: generated code was not run: this machine has no sandbox that hides "
        f"secret files from it ({why}); set [gates] allow_unsandboxed = true to run it anyway"
    )


@dataclass
class BoundedText:
    """Keeps the head and the tail of a stream within `limit` bytes; marks what was cut."""

    limit: int
    head: bytearray = field(default_factory=bytearray)
    tail: bytearray = field(default_factory=bytearray)
    dropped: int = 0

    def add(self, chunk: bytes) -> None:
        head_room = self.limit // 4 - len(self.head)
        if head_room > 0:
            self.head += chunk[:head_room]
            chunk = chunk[head_room:]
        self.tail += chunk
        tail_limit = self.limit - self.limit // 4
        if len(self.tail) > tail_limit:
            cut = len(self.tail) - tail_limit
            del self.tail[:cut]
            self.dropped += cut

    def text(self) -> str:
        head = self.head.decode("utf-8", errors="replace")
        tail = self.tail.decode("utf-8", errors="replace")
        if self.dropped:
            return f"{head}\n[... {self.dropped} bytes cut ...]\n{tail}"
        return head + tail


@dataclass
class Outcome:
    returncode: int | None
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False
    error: str | None = None  # the command could not start

    @property
    def output(self) -> str:
        return "\n".join(part for part in (self.stdout.strip(), self.stderr.strip()) if part)


def scrubbed_env(workdir: Workdir, config: GatesConfig) -> dict[str, str]:
    parent = os.environ
    path = os.pathsep.join([str(Path(sys.executable).parent), parent.get("PATH", "/usr/bin:/bin")])
    env = {
        "PATH": path,
        "HOME": str(workdir.home),
        "TMPDIR": str(workdir.home),
        "XDG_CACHE_HOME": str(workdir.home / ".cache"),
        "XDG_CONFIG_HOME": str(workdir.home / ".config"),
        "LANG": parent.get("LANG", "C.UTF-8"),
        "PYTHONPATH": os.pathsep.join(workdir.python_path()),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONUNBUFFERED": "1",
        "PYTHONIOENCODING": "utf-8",
        "NO_COLOR": "1",
        "TTA_GATES_MIRROR": str(workdir.work),
        "TTA_GATES_WORKSPACE": str(workdir.workspace) if workdir.workspace else "",
    }
    for name in (*_PASSED_BY_DEFAULT, *config.pass_env):
        if name in parent and name not in env and not SECRET_ENV_NAME.search(name):
            env[name] = parent[name]
    return env


def _count_user_processes(uid: int) -> int | None:
    """Processes of `uid` now, or None where there is no /proc to count them in."""
    count = 0
    try:
        entries = list(os.scandir("/proc"))
    except OSError:
        return None
    for entry in entries:
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if os.stat(entry.path).st_uid == uid:
                    count += 1
    return count if count else None


def _new_cgroup(base: Path, max_processes: int) -> Path | None:
    path = base / f"tta-gates-{os.getpid()}-{time.monotonic_ns()}"
    try:
        path.mkdir()
        (path / "pids.max").write_text(str(max_processes))
        return path
    except OSError:
        with contextlib.suppress(OSError):
            path.rmdir()
        return None


def _kill_cgroup(path: Path) -> None:
    """SIGKILL every process in the cgroup, a few passes (a forking process may add one)."""
    kill_file = path / "cgroup.kill"  # cgroup v2: one write kills all, atomically
    with contextlib.suppress(OSError):
        if kill_file.exists():
            kill_file.write_text("1")
    for _ in range(5):
        try:
            pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
        except OSError:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.005)


def _remove_cgroup(path: Path) -> None:
    """Remove the cgroup once its last (killed) process is reaped; a zombie still counts."""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            _kill_cgroup(path)
            time.sleep(0.01)


def _kill_group(pgid: int) -> None:
    # Repeat: a process forking while the first signal is delivered may leave a child behind.
    for _ in range(20):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.005)


async def _drain(stream: asyncio.StreamReader | None, sink: BoundedText) -> None:
    if stream is None:
        return
    while chunk := await stream.read(65536):
        sink.add(chunk)


async def run(
    argv: list[str],
    *,
    workdir: Workdir,
    config: GatesConfig,
    timeout_s: float,
    extra_env: dict[str, str] | None = None,
    stdout_limit: int | None = None,
) -> tuple[Outcome, SandboxInfo]:
    """Run `argv` in `workdir.work`, isolated and limited; never raises for the command's sake."""
    caps = await capabilities()
    env = scrubbed_env(workdir, config)
    env.update(extra_env or {})
    cgroup = (
        await asyncio.to_thread(_new_cgroup, caps.cgroup_base, config.max_processes)
        if caps.cgroup_base is not None
        else None
    )
    nproc: int | None = None
    if cgroup is None and os.geteuid() != 0:
        # RLIMIT_NPROC counts every process of the user, so leave room for those running.
        running = await asyncio.to_thread(_count_user_processes, os.getuid())
        nproc = running + config.max_processes if running is not None else None
    mounts = await asyncio.to_thread(isolation.read_mounts) if caps.readonly_fs else ()
    plan = isolation.Plan(
        new_user=caps.new_user,
        new_net=caps.new_net and not config.allow_network,
        readonly_fs=caps.readonly_fs,
        writable=str(workdir.root),
        mounts=mounts,
        hide_files=workdir.secrets.files if caps.readonly_fs else (),
        hide_dirs=workdir.secrets.dirs if caps.readonly_fs else (),
        cgroup_procs=str(cgroup / "cgroup.procs") if cgroup else None,
        limits=isolation.Limits(
            cpu_s=math.ceil(timeout_s) + 1,
            memory_bytes=config.memory_mb * 1024 * 1024,
            file_bytes=config.max_file_mb * 1024 * 1024,
            nproc=nproc,
        ),
    )
    info = caps.info(config.allow_network)
    if cgroup is None and caps.cgroup_base is not None:
        info = replace(info, process_limit="none")
    out = BoundedText(stdout_limit or config.output_limit_bytes)
    err = BoundedText(config.output_limit_bytes)
    started = time.monotonic()
    spawn = asyncio.ensure_future(
        asyncio.create_subprocess_exec(
            *argv,
            cwd=workdir.work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=functools.partial(isolation.apply, plan),
        )
    )
    try:
        # Shielded: cancelled half-way, asyncio would kill only the leader and leave its
        # children running; let the start finish so the whole group can be killed.
        proc = await asyncio.shield(spawn)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            started_proc = await spawn
            await asyncio.to_thread(_kill_group, started_proc.pid)
            with contextlib.suppress(ProcessLookupError):
                started_proc.kill()
            await started_proc.wait()
        if cgroup is not None:
            await asyncio.to_thread(_remove_cgroup, cgroup)
        raise
    except (OSError, subprocess.SubprocessError) as exc:
        if cgroup is not None:
            await asyncio.to_thread(_remove_cgroup, cgroup)
        return Outcome(None, "", "", time.monotonic() - started, error=str(exc)), info

    readers = asyncio.gather(_drain(proc.stdout, out), _drain(proc.stderr, err))
    timed_out = False
    try:
        await asyncio.wait_for(proc.wait(), timeout_s)
    except TimeoutError:
        timed_out = True
    finally:
        # Also on success and on cancellation: nothing the gate started outlives it.
        await asyncio.to_thread(_kill_group, proc.pid)
        if cgroup is not None:
            await asyncio.to_thread(_kill_cgroup, cgroup)
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        if cgroup is not None:
            await asyncio.to_thread(_remove_cgroup, cgroup)
        try:
            # A grandchild that escaped the group could hold the pipes open: don't wait forever.
            await asyncio.wait_for(readers, 2)
        except TimeoutError:
            readers.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await readers
    duration = time.monotonic() - started
    return (
        Outcome(proc.returncode, out.text(), err.text(), duration, timed_out=timed_out),
        info,
    )
