"""A throwaway PostgreSQL server for tests, started in a temp dir on a free port of 127.0.0.1: Debian's
`postgresql` package, else (a user who is not root, no system package) the binaries of the `pgserver` wheel
in .venv-warehouse/postgresql/; scripts/install-warehouse.sh installs one of them. As root its commands run
as the `postgres` user. Used by test_warehouse.py and test_any_tap.py.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

WHEEL_SERVER = (
    Path(__file__).resolve().parents[1] / ".venv-warehouse/postgresql/pgserver/pginstall/bin"
)


def server_bin_dir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=_major_version)
    if found:
        return found[-1].parent
    on_path = shutil.which("postgres")
    if on_path:
        return Path(on_path).parent
    # The wheel's binaries run as the user who runs the tests: not as root (see LocalPostgres).
    if os.geteuid() != 0 and (WHEEL_SERVER / "postgres").exists():
        return WHEEL_SERVER
    return None


def _major_version(path: Path) -> int:
    match = re.search(r"/postgresql/(\d+)/", str(path))
    return int(match.group(1)) if match else 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalPostgres:
    """A throwaway PostgreSQL cluster in a temp dir, on a free port of 127.0.0.1, in UTC.

    PostgreSQL refuses to run as root: as root, the server's commands run as the `postgres` user.
    """

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = _free_port()
        as_root = os.geteuid() == 0
        # The `postgres` user must reach the directory: /tmp, not a TMPDIR under root's home.
        shared_tmp = "/tmp" if as_root else None  # noqa: S108 (mkdtemp: a private 0700 directory)
        self.dir = Path(tempfile.mkdtemp(prefix="warehouse-pg-", dir=shared_tmp))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self._as: list[str] = []
        if as_root:
            account = pwd.getpwnam("postgres")
            os.chown(self.dir, account.pw_uid, account.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]

    def _run(self, tool: str, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(
            [*self._as, str(self.bin_dir / tool), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            msg = f"{tool} {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}\n{log}"
            raise RuntimeError(msg)
        return result.stdout

    def start(self) -> LocalPostgres:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c timezone=UTC "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")
        return self

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def query(self, sql: str) -> list[list[str]]:
        psql = self.bin_dir / "psql"
        if not psql.exists():
            psql = Path(shutil.which("psql") or "psql")
        connect = ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres"]
        result = subprocess.run(
            [str(psql), *connect, "-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return [line.split("\t") for line in result.stdout.splitlines() if line]

    def connection(self) -> dict[str, Any]:
        """Connection settings as Singer plugins for PostgreSQL take them."""
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "user": "postgres",
            "password": "postgres",  # trust authentication: not checked
            "database": "postgres",
        }
