"""A real PostgreSQL server for the ledger tests: a fresh cluster in a temp folder, on a free port."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yield a SQLAlchemy URL of an empty database on a new server; stop and remove it afterwards.

    initdb and postgres refuse to run as root, so as root they run as the ``postgres`` user.
    """
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    assert binaries, "PostgreSQL is not installed (make test installs Debian's postgresql package)"
    bindir = Path(binaries[-1]).parent
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    data = Path(tempfile.mkdtemp(prefix="credkit-pg-"))
    if as_postgres:
        shutil.chown(data, "postgres", "postgres")
    port = _free_port()
    subprocess.run([*as_postgres, str(bindir / "initdb"), "-D", str(data / "db"), "-A", "trust", "-U", "postgres", "--no-sync"],
                   check=True, capture_output=True)
    log = open(data / "server.log", "wb")  # a file, not a pipe: a chatty server must never block
    server = subprocess.Popen(
        [*as_postgres, str(bindir / "postgres"), "-D", str(data / "db"), "-p", str(port), "-k", str(data),
         "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
        stdout=subprocess.DEVNULL, stderr=log,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                import psycopg

                with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres", autocommit=True) as conn:
                    conn.execute("CREATE DATABASE credkit")
                break
            except psycopg.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"PostgreSQL did not start: {(data / 'server.log').read_text()[-2000:]}") from None
                time.sleep(0.2)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/credkit"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        shutil.rmtree(data, ignore_errors=True)
