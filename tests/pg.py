"""A throwaway PostgreSQL server on loopback, for tests of Optuna's shared storage.

:func:`postgres_server` finds ``initdb``/``pg_ctl`` (``$PATH``, then Debian's
``/usr/lib/postgresql/<version>/bin``). When they are missing and the tests run
as root with ``apt-get``, it installs the Debian ``postgresql`` package once.
It then initialises a cluster in a fresh temporary directory, starts it on a
free port bound to 127.0.0.1 only (as the ``postgres`` user when running as
root: the server refuses to run as root), creates a database and yields its
URL. Teardown stops the server and deletes the directory. Any step that cannot
be done skips the test with the reason.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_USER = "mrs"
PG_DB = "optuna_test"


def _find_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return candidates[-1] if candidates else None


def _try_install() -> str:
    """Install the Debian package when possible; return what happened (for the skip reason)."""
    if os.name != "posix" or os.geteuid() != 0:
        return "not root, so the postgresql package cannot be installed"
    if shutil.which("apt-get") is None:
        return "no apt-get to install the postgresql package"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"]
    for attempt in (cmd, None):
        if attempt is None:
            subprocess.run(
                ["apt-get", "update", "-q"], env=env, capture_output=True, timeout=300, check=False
            )
            attempt = cmd
        proc = subprocess.run(
            attempt, env=env, capture_output=True, text=True, timeout=600, check=False
        )
        if proc.returncode == 0:
            return "installed"
    return f"apt-get install postgresql failed: {proc.stderr.strip()[-300:]}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user(argv: list[str]) -> list[str]:
    """Run ``argv`` as ``postgres`` when we are root (initdb and postgres refuse root)."""
    if os.geteuid() != 0:
        return argv
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "postgres", "--", *argv]
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(argv)]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL ``postgresql+psycopg2://mrs@127.0.0.1:<port>/optuna_test`` of a fresh local server."""
    pytest.importorskip(
        "psycopg2", reason="psycopg2 (the dev extra psycopg2-binary) is not installed"
    )
    initdb, pg_ctl = _find_bin("initdb"), _find_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        outcome = _try_install()
        initdb, pg_ctl = _find_bin("initdb"), _find_bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            pytest.skip(f"PostgreSQL server binaries (initdb, pg_ctl) not found; {outcome}")
    if os.geteuid() == 0:
        try:
            import pwd

            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and no 'postgres' user to run the server as")
    root = Path(tempfile.mkdtemp(prefix="mrs-pg-"))
    data, sock, logfile = root / "data", root / "sock", root / "server.log"
    sock.mkdir()
    if os.geteuid() == 0:
        for p in (root, sock):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    port = _free_port()
    started = False
    try:
        proc = subprocess.run(
            _as_server_user(
                [initdb, "-D", str(data), "-U", PG_USER, "--auth=trust", "-E", "UTF8", "--no-sync"]
            ),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if proc.returncode != 0:
            pytest.skip(f"initdb failed: {proc.stderr.strip()[-300:]}")
        opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
        proc = subprocess.run(
            _as_server_user(
                [pg_ctl, "-D", str(data), "-l", str(logfile), "-o", opts, "-w", "-t", "60", "start"]
            ),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if proc.returncode != 0:
            tail = logfile.read_text()[-300:] if logfile.exists() else proc.stderr[-300:]
            pytest.skip(f"PostgreSQL server did not start: {tail.strip()}")
        started = True
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=port, user=PG_USER, dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {PG_DB}")
        conn.close()
        yield f"postgresql+psycopg2://{PG_USER}@127.0.0.1:{port}/{PG_DB}"
    finally:
        if started:
            subprocess.run(
                _as_server_user([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]),
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)
