"""A throw-away PostgreSQL server for tests and benchmarks: Debian's binaries, ``initdb`` into a temporary folder,
a Unix socket in it and no TCP port, stopped and removed afterwards. No system service is touched.

PostgreSQL refuses to run as root; as root, the server runs as ``nobody`` in a folder it owns.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import quote

#: Where Debian installs the server's programs (the package ``postgresql``).
BIN_DIRS = (Path("/usr/lib/postgresql/15/bin"), Path("/usr/lib/postgresql/16/bin"), Path("/usr/lib/postgresql/17/bin"))
#: The role every store connects as (a superuser of the throw-away cluster, trusted on its socket).
ROLE = "crossverify"
#: Settings for a test server: a commit survives the server's crash (it reached the kernel), not the machine's.
FAST = ("fsync=off", "full_page_writes=off")


def binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``; ``None`` where PostgreSQL is not installed."""
    for folder in BIN_DIRS:
        if (folder / "pg_ctl").exists():
            return folder
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


class PostgresServer:
    """One cluster in ``folder``: :meth:`start`, :meth:`stop` (as a crash, ``immediate``, or cleanly), and URLs of
    its databases. ``settings`` are ``name=value`` server options."""

    def __init__(self, folder: Path, settings: Sequence[str] = FAST, *, max_connections: int = 200) -> None:
        bin_dir = binaries()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql; scripts/setup does it)")
        self.bin, self.folder = bin_dir, folder
        self.data, self.socket = folder / "data", folder
        self.settings = [*settings, f"max_connections={max_connections}", "listen_addresses=''",
                         f"unix_socket_directories={folder}"]
        self._as = _unprivileged() if os.geteuid() == 0 else []
        if self._as:
            user = pwd.getpwnam("nobody")
            os.chown(folder, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", ROLE, "--auth=trust", "-E", "UTF8", "--no-sync",
                  "--locale=C")

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run([*self._as, str(self.bin / program), *args], capture_output=True, text=True,
                              cwd=self.folder)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed: {done.stdout}{done.stderr}")

    def start(self) -> None:
        options = " ".join(f"-c {s}" for s in self.settings)
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-o", options, "-w",
                  "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` (clean), or ``immediate`` (as a crash: the next start recovers)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{ROLE}@/{database}?host={quote(str(self.socket), safe='/')}"

    def create_database(self, name: str) -> str:
        """A new, empty database; its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _unprivileged() -> list[str]:
    """The prefix that runs a program as ``nobody`` (PostgreSQL will not run as root)."""
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]


@contextlib.contextmanager
def postgres_server(settings: Sequence[str] = FAST, *, max_connections: int = 200) -> Iterator[PostgresServer]:
    """A started server in a new temporary folder (world-traversable, as ``nobody`` must reach it), stopped and
    removed at the end."""
    folder = Path(tempfile.mkdtemp(prefix="crossverify-pg-"))
    try:
        server = PostgresServer(folder, settings, max_connections=max_connections)
        server.start()
        try:
            yield server
        finally:
            if server.running():
                server.stop("immediate")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
