"""Redis and PostgreSQL started by the tests themselves (never system instances), on free loopback ports.

One instance of each per test process, started on first use and stopped when the process exits. PostgreSQL
refuses to run as root: its data directory then belongs to the `postgres` (else `nobody`) system user and
its commands run through `runuser`.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable

import pytest

_names = itertools.count(1)


def free_port() -> int:
    """A TCP port nobody listens on, on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def pg_bin() -> str | None:
    """The directory of PostgreSQL's server binaries (Debian: /usr/lib/postgresql/<version>/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def missing() -> str | None:
    """Why the scale-out services cannot run here, or None."""
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (apt-get install redis-server)"
    if pg_bin() is None:
        return "PostgreSQL's initdb is not installed (apt-get install postgresql)"
    return None


class Redis:
    """redis-server on a free loopback port, without persistence, in a temporary directory."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="frb-redis-")
        self.port = free_port()
        self._start()
        self._dbs = itertools.count(1)

    def _start(self) -> None:
        log = open(os.path.join(self.dir, "redis.log"), "ab")  # noqa: SIM115 - the server writes to it
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--dir", self.dir, "--save", "", "--appendonly", "no", "--databases", "64"],
                                     stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        log.close()
        _wait_port(self.port)

    def halt(self) -> None:
        """Stop the server (without persistence, everything it held is gone); `resume` starts it on the same port."""
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def resume(self) -> None:
        self._start()

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def fresh_url(self) -> str:
        """The URL of a database number no one used yet in this run."""
        return self.url(next(self._dbs) % 64)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Postgres:
    """A PostgreSQL cluster made by initdb in a temporary directory, on a free loopback port (trust auth)."""

    def __init__(self) -> None:
        bindir = pg_bin()
        assert bindir is not None
        self.bin = bindir
        self.dir = tempfile.mkdtemp(prefix="frb-pg-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.sockets = os.path.join(self.dir, "sockets")
        os.makedirs(self.sockets)
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # postgres refuses root: run it as the postgres (or nobody) system user
            user = "postgres" if _user_exists("postgres") else "nobody"
            entry = pwd.getpwnam(user)
            for path in (self.dir, self.sockets):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            self.prefix = ["runuser", "-u", user, "--"]
        self.port = free_port()
        self._run("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.resume()
        self.stopped = False

    def resume(self) -> None:
        """Start the server (again, with the data it had)."""
        options = f"-p {self.port} -h 127.0.0.1 -k {self.sockets} -F -c max_connections=300"
        self._run("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "postgres.log"), "-w", "-t", "60",
                  "-o", options, "start")  # fmt: skip

    def halt(self) -> None:
        """Stop the server at once (`-m immediate`: open connections break as in a crash), keeping its data."""
        self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.prefix, os.path.join(self.bin, tool), *args], check=True, capture_output=True,
                       cwd=self.dir)  # fmt: skip

    def fresh_url(self) -> str:
        """The SQLAlchemy URL of a new, empty database."""
        name = f"frb{next(_names)}"
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            with contextlib.suppress(subprocess.CalledProcessError):
                self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


_started: dict[str, object] = {}


def _service(kind: str, make: Callable[[], object]) -> object:
    reason = missing()
    if reason is not None:
        if os.environ.get("FRB_REQUIRE_SCALEOUT"):
            pytest.fail(f"FRB_REQUIRE_SCALEOUT is set but {reason}")
        pytest.skip(f"scale-out tests need Redis and PostgreSQL: {reason}")
    if kind not in _started:
        service = make()
        _started[kind] = service
        atexit.register(service.stop)  # type: ignore[attr-defined]
    return _started[kind]


def redis() -> Redis:
    """This test run's Redis (skips, or fails under FRB_REQUIRE_SCALEOUT, when it cannot run here)."""
    service = _service("redis", Redis)
    assert isinstance(service, Redis)
    return service


def postgres() -> Postgres:
    """This test run's PostgreSQL (skips, or fails under FRB_REQUIRE_SCALEOUT, when it cannot run here)."""
    service = _service("postgres", Postgres)
    assert isinstance(service, Postgres)
    return service


def stop_all() -> None:
    """Stop what was started (the session's end)."""
    for service in list(_started.values()):
        service.stop()  # type: ignore[attr-defined]
    _started.clear()
