"""A throwaway PostgreSQL cluster for the team-ledger tests: Debian's server binaries
(scripts/setup.d/60-postgres.sh), initdb + pg_ctl in a temporary directory on a free
loopback port, password authentication, stopped and removed at the end. As root (CI)
the cluster runs as the unprivileged user ``ttapg`` through runuser: initdb refuses
root."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from tests.guards import SLOW_HANG_GUARD_S

PG_USER = "ttapg"
PASSWORD = "ledger-test-pw"  # a throwaway cluster's, passed through the environment


def pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def missing() -> str | None:
    """Why a cluster cannot be started here (None: it can)."""
    if pg_bin() is None:
        return "PostgreSQL server binaries (scripts/setup.d/60-postgres.sh)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(PG_USER)
        except KeyError:
            return f"the unprivileged user {PG_USER} (scripts/setup.d/60-postgres.sh)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self) -> None:
        bindir = pg_bin()
        assert bindir is not None
        self.bin = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="tta-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.dir, PG_USER)
        pwfile = self.dir / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self.as_root:
            shutil.chown(pwfile, PG_USER)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "tta",
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "--no-sync",
        )

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin / tool), *args]
        if self.as_root:
            cmd = ["runuser", "-u", PG_USER, "--", *cmd]
        subprocess.run(
            cmd,
            check=True,
            capture_output=True,
            timeout=SLOW_HANG_GUARD_S,  # a hang guard: initdb and pg_ctl take a second or two
        )

    @property
    def url(self) -> str:
        return f"postgresql://tta@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "log"),
            "-o",
            f"-k {self.dir} -p {self.port} -h 127.0.0.1 -c fsync=off",
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
