"""The warm process: ``tta-codegen`` commands forked from one process that imported them once.

A ``tta-codegen generate`` spends ~0.6 s importing its stack (pydantic config models, the
engine, httpx, jinja2, click; ~500 modules) before it does anything: longer than a fast
model takes to answer. ``tta-codegen daemon start`` starts a process that has imported all
of it; while it runs, every command (but ``serve`` and ``daemon``) is a fork of it that runs
the command's ``main`` exactly as a fresh process would: with the caller's arguments, its
stdin, stdout and stderr (the descriptors themselves, passed over a Unix socket, so a
terminal stays a terminal), its environment and its folder. Only the interpreter's start and
the imports are skipped; the command then builds its config, engine and clients from
nothing, as it always does, so nothing of one command reaches the next.

The caller's side (:func:`run_warm`) imports only the standard library: it finds the
socket, sends the request, forwards SIGINT, SIGTERM and SIGHUP to the fork and exits with
its exit code. No warm process, a stale one, or any doubt about the socket (see
:func:`socket_dir`) and the command simply runs in the calling process, as before.

Safety, since the request carries the caller's environment (API keys among it):

* the socket lives in a folder of the user's own, mode 0700, checked on every use and not
  followed through a link; the warm process also checks the peer's uid (``SO_PEERCRED``);
* the warm process keeps no environment of its own beyond ``PATH``, ``HOME`` and the
  locale, logs nothing of a request, and each fork replaces its environment whole;
* it is keyed on this install (interpreter, version, and every source file's size and
  mtime): code edited or upgraded since it started is never run; the caller simply does
  not find it, and the old one ends after its idle time.

The same fork server runs the test suite's servers and commands (tests/forkserver.py).
"""

from __future__ import annotations

# The caller's side runs on every command: builtin modules only (no socket.py, signal.py,
# json, hashlib, typing: 25-35 ms of a ~10 ms interpreter start). The warm process's side
# imports what it needs inside its functions.
import _signal  # type: ignore[import-not-found]  # signal.py minus its enum import
import _socket
import marshal
import os
import stat
import struct
import sys
import time
import zlib

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (13 ms); mypy knows it
if TYPE_CHECKING:
    import socket
    from collections.abc import Callable, Iterable
    from typing import Any, NoReturn

    Runner = Callable[[dict[str, Any]], None]

HEADER = struct.Struct("!I")
_CODE = struct.Struct("!i")
# Unix sockets that carry file descriptors, and uids: not on Windows.
SUPPORTED = os.name == "posix" and hasattr(_socket, "AF_UNIX") and hasattr(_socket, "SCM_RIGHTS")
# What the caller passes on to its fork (SIGABRT: a hang guard's request for stacks).
FORWARDED = (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP, _signal.SIGABRT)

REQUEST_TIMEOUT_S = 5.0
NO_DAEMON_ENV = "TTA_CODEGEN_NO_DAEMON"  # set (non-empty, not "0"): always run in-process
IDLE_S_DEFAULT = 30 * 60.0
# Commands never run by the warm process: `serve` is long-lived (nothing to gain, and an
# editor watches its process), `daemon` manages the warm process itself.
NOT_WARM = frozenset({"serve", "daemon"})
# What the warm process keeps of the environment it was started with (nothing secret).
KEPT_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "PYTHONPATH", "XDG_RUNTIME_DIR")


class WarmError(Exception):
    """The warm process cannot be used or started; the message is the one line to show."""


class _NoFolder(WarmError):
    """No socket folder yet: no warm process was ever started here."""


# -- wire format ------------------------------------------------------------------------
# A length-prefixed marshal of plain dicts, lists, strings and ints. Both ends are the same
# interpreter (the install key names it), and the warm process reads a request only from a
# peer of its own uid (_same_user), the caller only from a socket in its own 0700 folder.


def send(conn: _socket.socket, payload: dict[str, Any], fds: Iterable[int] = ()) -> None:
    """One message, with file descriptors when given (SCM_RIGHTS)."""
    body = marshal.dumps(payload)
    data = HEADER.pack(len(body)) + body
    fds = list(fds)
    ancillary = []
    if fds:
        rights = struct.pack(f"{len(fds)}i", *fds)
        ancillary = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, rights)]
    sent = conn.sendmsg([data], ancillary)
    if sent < len(data):
        conn.sendall(data[sent:])


def recv_exact(conn: _socket.socket, n: int) -> bytes:
    chunks = b""
    while len(chunks) < n:
        chunk = conn.recv(n - len(chunks))
        if not chunk:
            raise EOFError
        chunks += chunk
    return chunks


def receive(conn: _socket.socket, max_fds: int = 0) -> tuple[dict[str, Any], list[int]]:
    """One message of :func:`send` (and the descriptors that came with it)."""
    width = struct.calcsize("i")
    msg, ancillary, _flags, _addr = conn.recvmsg(1 << 20, _socket.CMSG_SPACE(max_fds * width))
    fds: list[int] = []
    for level, kind, data in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            whole = len(data) - len(data) % width
            fds += struct.unpack(f"{whole // width}i", data[:whole])
    if not msg:
        raise EOFError
    if len(msg) < HEADER.size:
        msg += recv_exact(conn, HEADER.size - len(msg))
    (size,) = HEADER.unpack_from(msg)
    body = msg[HEADER.size :]
    if len(body) < size:
        body += recv_exact(conn, size - len(body))
    try:
        value = marshal.loads(body)
    except (EOFError, ValueError, TypeError):
        value = None
    if not isinstance(value, dict):
        for fd in fds:
            os.close(fd)
        raise ValueError("not a request")
    return value, fds


# -- where the warm process listens ------------------------------------------------------


def socket_dir(create: bool = False) -> str:
    """The user's own folder for the socket: ``$XDG_RUNTIME_DIR/tta-codegen`` or
    ``/tmp/tta-codegen-UID``. Refused (:class:`WarmError`) unless it is a real folder (not
    a link) owned by this user with no access for anyone else: another user who made it
    first could otherwise listen in place of the warm process and read the caller's keys."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    path = os.path.join(base, "tta-codegen") if base else f"/tmp/tta-codegen-{os.getuid()}"
    if create and not os.path.lexists(path):
        os.mkdir(path, 0o700)  # a race with another `daemon start` is checked just below
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise _NoFolder(f"no warm process folder {path}") from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise WarmError(
            f"{path} is not a folder of this user's with mode 0700; remove it or set "
            "XDG_RUNTIME_DIR to one, then run `tta-codegen daemon start` again"
        )
    return path


def install_key() -> str:
    """This install: the interpreter, the version and every source file's size and mtime.

    A warm process of other code (an upgrade, an edited checkout) has another key, so a
    command never runs code older than what is on disk. ~1 ms for the package's files."""
    import tta_codegen

    root = os.path.dirname(os.path.abspath(tta_codegen.__file__))
    parts = [f"{sys.executable}\0{tta_codegen.__version__}"]
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                info = os.stat(os.path.join(folder, name))
                rel = os.path.relpath(os.path.join(folder, name), root)
                parts.append(f"{rel}\0{info.st_size}\0{info.st_mtime_ns}")
    # Not a secret and not an adversary's input: two CRCs (64 bits) tell versions apart.
    data = "\0".join(parts).encode()
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}"


def socket_path(create: bool = False) -> str:
    return os.path.join(socket_dir(create), socket_name())


def socket_name() -> str:
    return f"warm-{install_key()}.sock"


def _connect(path: str) -> _socket.socket:
    conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        conn.connect(path)
    except OSError:
        conn.close()
        raise
    return conn


# -- the caller's side -------------------------------------------------------------------


def wanted(argv: list[str]) -> bool:
    """Whether this command line may run in the warm process at all."""
    if os.environ.get(NO_DAEMON_ENV, "") not in ("", "0"):
        return False
    if not SUPPORTED:
        return False
    return not any(arg in NOT_WARM for arg in argv[:1])


def run_warm(argv: list[str]) -> int | None:
    """Run ``tta-codegen ARGV`` in a fork of the warm process; its exit code, or None when
    there is no warm process for this install (the caller then runs the command itself)."""
    try:
        folder = socket_dir()
        # No socket at all (the warm process was stopped or ended): skip the install key,
        # ~5 ms of stat calls on every command of a user who once started one.
        if not any(name.endswith(".sock") for name in os.listdir(folder)):
            return None
        conn = _connect(os.path.join(folder, socket_name()))
    except (OSError, WarmError):
        return None
    return forward(conn, {"op": "run", "argv": argv})


def forward(conn: _socket.socket, request: dict[str, Any]) -> int | None:
    """Hand this process's stdin, stdout, stderr, environment and folder to a fork through
    ``conn``, forward signals to it and return its exit code (None if no fork was made)."""
    forwarded: list[int] = []
    fork: list[int] = []  # its pid, once the warm process has said it

    def pass_on(signum: int, _frame: Any) -> None:
        forwarded.append(signum)
        if not fork:
            # No fork yet (or a stuck warm process): end here, as the command would. A
            # fork made meanwhile is killed by the warm process when this caller is gone.
            _signal.signal(signum, _signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        try:  # noqa: SIM105  (contextlib is 6 ms of every command's start)
            os.kill(fork[0], signum)
        except ProcessLookupError:
            pass

    previous = {signum: _signal.signal(signum, pass_on) for signum in FORWARDED}
    try:
        request = {**request, "env": dict(os.environ), "cwd": os.getcwd()}
        send(conn, request, [0, 1, 2])
        fork.append(_CODE.unpack(recv_exact(conn, _CODE.size))[0])
    except (OSError, EOFError):
        conn.close()
        for signum, handler in previous.items():
            _signal.signal(signum, handler)
        return None  # the warm process went away before it forked: nothing ran
    # Our copies of the pipes go: the fork holds them now, and a reader's end of file
    # (or a writer's) must depend on the fork alone.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    try:
        (code,) = _CODE.unpack(recv_exact(conn, _CODE.size))
    except EOFError:  # the fork was killed before it could say
        if forwarded:  # by the signal we passed on: end the same way, as the process would
            _signal.signal(forwarded[-1], _signal.SIG_DFL)
            os.kill(os.getpid(), forwarded[-1])
        code = 1  # as a crash
    return int(code)


def control(op: str, path: str | None = None) -> dict[str, Any] | None:
    """Ask this install's warm process (listening on ``path``, if the caller has it) for
    ``status`` or to ``stop``; None if none runs (:class:`WarmError` if its folder is not
    safe to use)."""
    try:
        conn = _connect(path or socket_path())
    except (OSError, _NoFolder):
        return None
    try:
        send(conn, {"op": op})
        answer, _ = receive(conn)
    except (OSError, EOFError, ValueError):
        return None
    finally:
        conn.close()
    return answer


# -- the warm process --------------------------------------------------------------------


def serve(
    listener: socket.socket,
    run: Runner,
    *,
    idle_s: float | None = None,
    parent: int | None = None,
    owns: tuple[str, int] | None = None,
    on_status: Callable[[], dict[str, Any]] | None = None,
) -> None:
    """Fork for each ``run`` request on ``listener`` until told to stop, idle for
    ``idle_s`` (no request and no fork running), when ``parent`` is given, orphaned, and
    when ``owns`` (a socket's path and inode) is given, once that path is another socket.

    Nothing here may start a thread: fork() copies only the calling one. Each fork's
    connection is kept open here too: its end of file means the caller is gone (an
    editor's SIGKILL), and the fork is killed then, as it would have died with its
    process; until it is reaped its pid cannot be reused.
    """
    import contextlib
    import select
    import signal

    forks: dict[socket.socket, int] = {}
    served = 0
    last = time.monotonic()
    while True:
        for pid in _reap():
            for conn in [c for c, p in forks.items() if p == pid]:
                del forks[conn]
                conn.close()
            last = time.monotonic()
        if parent is not None and os.getppid() != parent:
            return
        if idle_s is not None and not forks and time.monotonic() - last > idle_s:
            return
        if owns is not None and not _still_ours(*owns):
            return  # another warm process took the socket's name, or it was removed
        ready, _, _ = select.select([listener, *forks], [], [], 0.5)
        for conn in ready:
            if conn is not listener:
                with contextlib.suppress(OSError):
                    if conn.recv(1):
                        continue  # callers send nothing after the request
                with contextlib.suppress(ProcessLookupError):
                    os.kill(forks.pop(conn), signal.SIGKILL)
                conn.close()
        if listener not in ready:
            continue
        conn, _ = listener.accept()
        last = time.monotonic()
        try:
            if not _same_user(conn):
                conn.close()
                continue
            # A caller sends its request at once; one that does not (stopped, stuck) must
            # not hold up every other command.
            conn.settimeout(REQUEST_TIMEOUT_S)
            request, fds = receive(conn, max_fds=3)
            conn.settimeout(None)
        except (OSError, EOFError, ValueError):
            conn.close()
            continue
        op = request.get("op", "run")
        if op != "run":
            for fd in fds:
                os.close(fd)
            answer = {"pid": os.getpid(), "forks": len(forks), "served": served}
            answer.update(on_status() if on_status is not None else {})
            with contextlib.suppress(OSError):
                send(conn, {**answer, "stopping": op == "stop"})
            conn.close()
            if op == "stop":
                return
            continue
        if len(fds) != 3:
            for fd in fds:
                os.close(fd)
            conn.close()
            continue
        pid = os.fork()
        if pid == 0:
            listener.close()
            for other in forks:
                other.close()
            _child(conn, fds, request, run)  # never returns
        for fd in fds:
            os.close(fd)
        try:
            conn.sendall(_CODE.pack(pid))
        except OSError:
            conn.close()
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            continue
        forks[conn] = pid
        served += 1


def check_forkable() -> None:
    """Raise unless this process has one thread: fork() copies only the calling one, so a
    thread something imported started would be missing, its locks held, in every fork.
    Called before a fork server says it is ready."""
    import threading

    if threading.active_count() != 1:
        raise RuntimeError(f"a fork server must have one thread: {threading.enumerate()}")


def _still_ours(path: str, inode: int) -> bool:
    try:
        return os.stat(path).st_ino == inode
    except OSError:
        return False


def _same_user(conn: socket.socket) -> bool:
    peercred = getattr(_socket, "SO_PEERCRED", None)
    if peercred is None:  # not Linux: the folder's 0700 is the guard
        return True
    creds = conn.getsockopt(_socket.SOL_SOCKET, peercred, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return bool(uid == os.getuid())


def _reap() -> list[int]:
    """The pids of the forks that have exited since the last call (now reaped)."""
    done: list[int] = []
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return done
        if pid == 0:
            return done
        done.append(pid)


def _child(conn: socket.socket, fds: list[int], request: dict[str, Any], run: Runner) -> None:
    """The fork: become the caller's process, run the command, report its exit code."""
    import atexit
    import contextlib
    import signal

    code = 1
    real_exit = os._exit

    def report_and_exit(status: int) -> NoReturn:
        with contextlib.suppress(Exception):  # a closed pipe: nothing left to flush
            sys.stdout.flush()
            sys.stderr.flush()
        with contextlib.suppress(OSError):
            conn.sendall(_CODE.pack(status))
        real_exit(status)

    try:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
            default = signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
            signal.signal(signum, default)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        # Buffered as a fresh process's would be for these descriptors: stdout by line on a
        # terminal, else in blocks; stderr always by line (Python 3.9+). The warm process's
        # own were set up for a pipe.
        with contextlib.suppress(AttributeError, ValueError, OSError):
            sys.stdout.reconfigure(line_buffering=sys.stdout.isatty())  # type: ignore[union-attr]
        with contextlib.suppress(AttributeError, ValueError, OSError):
            sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        os.environ.clear()
        os.environ.update(request["env"])
        if os.environ.get("PYTHONFAULTHANDLER"):  # read at start-up by a real interpreter
            import faulthandler

            faulthandler.enable()
        if "random" in sys.modules:  # each fork its own sequence, as each process has
            sys.modules["random"].seed()
        os.chdir(request["cwd"])
        os._exit = report_and_exit  # the CLI ends with os._exit after flushing
        run(request)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()  # what the interpreter runs at a normal exit
    report_and_exit(code)


# -- the product's warm process ----------------------------------------------------------


def preload() -> None:
    """Import everything a command imports, at its start and at its first request."""
    import gc
    import importlib

    from tta_codegen.cli.app import load_subcommands
    from tta_codegen.models.http import FIRST_REQUEST_IMPORTS

    gc.disable()
    for module in FIRST_REQUEST_IMPORTS:
        importlib.import_module(module)
    load_subcommands()
    from tta_codegen.models.registry import PROVIDER_KINDS  # each imported at first use

    for target in PROVIDER_KINDS.values():
        importlib.import_module(target.partition(":")[0])
    # The built-in prompt library, parsed once: each fork's library (its workspace's)
    # then parses only the workspace's own templates (prompts/library.py: _PARSED).
    from tta_codegen.prompts.library import library_for
    from tta_codegen.prompts.roots import prompt_roots
    from tta_codegen.prompts.settings import PromptsConfig

    library_for(prompt_roots(PromptsConfig(), None)).refresh()
    gc.freeze()  # what the CLI does after its imports; forks then share these pages
    gc.enable()


def _run_command(request: dict[str, Any]) -> None:
    from tta_codegen.cli import run_here

    sys.argv = ["tta-codegen", *request["argv"]]
    run_here()


def main(argv: list[str]) -> None:
    """The warm process, ``main([SOCKET, IDLE_S])``: what ``daemon start`` runs."""
    import contextlib
    import signal
    import socket

    path, idle_s = argv[0], float(argv[1])
    preload()
    check_forkable()
    started = time.time()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = f"{path}.{os.getpid()}"
    listener.bind(tmp)
    os.chmod(tmp, 0o600)
    listener.listen(64)
    os.replace(tmp, path)  # a warm process already listening there ends when it sees this
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    print("ready", flush=True)  # to `daemon start`, which then stops reading
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (1, 2):
        os.dup2(devnull, fd)

    def status() -> dict[str, Any]:
        return {"socket": path, "started": started, "idle_s": idle_s}

    inode = os.stat(path).st_ino
    try:
        serve(listener, _run_command, idle_s=idle_s, owns=(path, inode), on_status=status)
    finally:
        if _still_ours(path, inode):
            with contextlib.suppress(OSError):
                os.unlink(path)
