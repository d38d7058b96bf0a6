"""Linux isolation of one gate process, applied in the child between fork and exec.

Owns the system calls: new network namespace (only a loopback device, no route out), new
mount namespace in which every mount is remounted read-only except the gate's own
temporary directory and in which secret files and credential folders are covered (an
empty read-only tmpfs over a folder, ``/dev/null`` over a file; see
:mod:`tta_codegen.gates.secrets`), resource limits, and joining a pids cgroup.
Everything here runs in :func:`apply` inside ``preexec_fn``; the parent prepares a
:class:`Plan` beforehand (mount table, cgroup path, paths to hide) so that the child does
as little as possible. It must not import anything heavy nor touch the event loop.

Nothing here is required: the sandbox probes which parts work on this machine once
(:mod:`tta_codegen.gates.sandbox`) and only asks for those.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import re
import resource
import socket
import struct
from dataclasses import dataclass, field

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24

_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_IFF_LOOPBACK = 0x8
_IFF_RUNNING = 0x40

# Per-mount options a remount must repeat: inside a user namespace the kernel locks them and
# refuses a remount that would drop one.
_OPTION_FLAGS = {
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": MS_NOATIME,
    "nodiratime": MS_NODIRATIME,
    "relatime": MS_RELATIME,
    "strictatime": MS_STRICTATIME,
}

# Kernel file systems left as they are: remounting them is refused or pointless, and /dev
# holds /dev/null and /dev/shm which tools write to.
_SKIP_PREFIXES = ("/proc", "/sys", "/dev")

_libc = ctypes.CDLL(None, use_errno=True)
_OCTAL = re.compile(r"\\([0-7]{3})")


@dataclass(frozen=True)
class Limits:
    cpu_s: int
    memory_bytes: int
    file_bytes: int
    nproc: int | None  # None: leave RLIMIT_NPROC alone (root ignores it; a cgroup does the job)


@dataclass(frozen=True)
class Plan:
    new_user: bool = False
    new_net: bool = False
    readonly_fs: bool = False
    # The one directory left writable when the file system is read-only.
    writable: str | None = None
    # (mount point, flags to keep), read from /proc/self/mountinfo by the parent.
    mounts: tuple[tuple[str, int], ...] = ()
    # Covered inside the mount namespace (only with readonly_fs): files read as empty,
    # folders as an empty read-only folder. A path that vanished meanwhile is skipped;
    # any other failure stops the gate (it must not run with a secret in reach).
    hide_files: tuple[str, ...] = ()
    hide_dirs: tuple[str, ...] = ()
    cgroup_procs: str | None = None  # a cgroup's cgroup.procs file to join
    limits: Limits | None = None
    uid: int = field(default_factory=os.getuid)
    gid: int = field(default_factory=os.getgid)


class IsolationError(OSError):
    pass


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise IsolationError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, flags: int) -> int:
    return int(
        _libc.mount(
            source.encode() if source is not None else None,
            target.encode(),
            None,
            ctypes.c_ulong(flags),
            None,
        )
    )


def _hide(target: str, is_dir: bool) -> None:
    if is_dir:
        rc = int(
            _libc.mount(
                b"tmpfs",
                target.encode(),
                b"tmpfs",
                ctypes.c_ulong(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC),
                b"size=4k,mode=0555",
            )
        )
    else:
        rc = _mount("/dev/null", target, MS_BIND)
    if rc != 0:
        err = ctypes.get_errno()
        if err == errno.ENOENT:
            return  # gone since the scan: nothing left to read
        raise IsolationError(err, f"hide {target}: {os.strerror(err)}")


def _unescape(text: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo.
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), text)


def read_mounts() -> tuple[tuple[str, int], ...]:
    """Mount points of this process and the per-mount flags a remount has to keep."""
    mounts: list[tuple[str, int]] = []
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) < 6:
                continue
            point = _unescape(parts[4])
            if point.startswith(_SKIP_PREFIXES):
                continue
            flags = 0
            for option in parts[5].split(","):
                flags |= _OPTION_FLAGS.get(option, 0)
            mounts.append((point, flags))
    return tuple(mounts)


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _loopback_up() -> None:
    # A new network namespace has only `lo`, and it is down; up, tests can still serve
    # and reach 127.0.0.1 while nothing leaves the machine.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        ifreq = struct.pack("16sH22x", b"lo", _IFF_UP | _IFF_LOOPBACK | _IFF_RUNNING)
        fcntl.ioctl(sock.fileno(), _SIOCSIFFLAGS, ifreq)


def apply(plan: Plan) -> None:
    """Isolate the calling (child) process as `plan` says; raises when a step fails."""
    if plan.cgroup_procs is not None:
        _write(plan.cgroup_procs, str(os.getpid()))
    flags = 0
    if plan.new_user:
        flags |= CLONE_NEWUSER
    if plan.new_net:
        flags |= CLONE_NEWNET
    if plan.readonly_fs:
        flags |= CLONE_NEWNS
    if flags:
        _check(_libc.unshare(ctypes.c_int(flags)), "unshare")
    if plan.new_user:
        # Keep our own ids inside the namespace so files keep their owners.
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{plan.uid} {plan.uid} 1")
        _write("/proc/self/gid_map", f"{plan.gid} {plan.gid} 1")
    if plan.new_net:
        with contextlib.suppress(OSError):  # no loopback is still no network
            _loopback_up()
    if plan.readonly_fs:
        # Private first, so nothing done here propagates back to the host's mounts.
        _check(_mount(None, "/", MS_REC | MS_PRIVATE), "make mounts private")
        if plan.writable is not None:
            # A bind mount of its own: it keeps the (writable) flags it has now and is not
            # in `plan.mounts`, so the loop below leaves it writable.
            _check(_mount(plan.writable, plan.writable, MS_BIND | MS_REC), "bind temp dir")
        for point, keep in plan.mounts:
            # Failures are expected for mounts hidden under others; they stay as they were.
            _mount(None, point, MS_REMOUNT | MS_BIND | MS_RDONLY | keep)
        # After the remounts: these mounts are new and not in `plan.mounts`.
        for target in plan.hide_dirs:
            _hide(target, is_dir=True)
        for target in plan.hide_files:
            _hide(target, is_dir=False)
        # The working directory was entered before the bind mount existed and still points
        # through the (now read-only) mount below it: enter it again by name.
        os.chdir(os.getcwd())
    if plan.limits is not None:
        lim = plan.limits
        wanted = [
            (resource.RLIMIT_CPU, lim.cpu_s, lim.cpu_s + 1),
            (resource.RLIMIT_AS, lim.memory_bytes, lim.memory_bytes),
            (resource.RLIMIT_FSIZE, lim.file_bytes, lim.file_bytes),
            (resource.RLIMIT_CORE, 0, 0),
        ]
        if lim.nproc is not None:
            wanted.append((resource.RLIMIT_NPROC, lim.nproc, lim.nproc))
        for kind, soft, hard in wanted:
            # A hard limit already lower than ours stays; a platform without one (RLIMIT_AS
            # on macOS) keeps the others rather than refusing to run the gate.
            with contextlib.suppress(ValueError, OSError):
                current_hard = resource.getrlimit(kind)[1]
                if current_hard != resource.RLIM_INFINITY:
                    soft, hard = min(soft, current_hard), min(hard, current_hard)
                resource.setrlimit(kind, (soft, hard))
