"""PostgreSQL from Debian's packages, one cluster in the state folder.

Postgres refuses to run as root; when we are root it runs as the ``postgres`` user the
Debian package creates, with the data folder owned by that user.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import subprocess
from pathlib import Path
from typing import Any

import psycopg

from stack import install, process
from stack.errors import StartError
from stack.services.base import Service


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    install.apt_install("pg_ctl", "postgresql")
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not found:
        raise StartError("postgresql installed but no /usr/lib/postgresql/*/bin/postgres found")
    return Path(found[-1]).parent


def _reachable(user: str, path: Path) -> bool:
    return subprocess.run(["runuser", "-u", user, "--", "test", "-x", str(path)], capture_output=True).returncode == 0


class Postgres(Service):
    name = "postgres"

    def _user(self) -> str | None:
        return "postgres" if os.geteuid() == 0 else None

    @property
    def data_dir(self) -> Path:  # type: ignore[override]
        """In the state folder, unless the postgres user cannot reach it (a clone under /root,
        say): then under /var/lib/anemos, keyed by the state folder, still ours alone."""
        own = self.s.path("data", self.name)
        user = self._user()
        if user is None or _reachable(user, self.s.state_dir):
            return own
        key = hashlib.sha256(str(self.s.state_dir.resolve()).encode()).hexdigest()[:12]
        return Path("/var/lib/anemos") / key / self.name

    def ports(self) -> list[int]:
        return [self.s.postgres_port]

    def install(self) -> None:
        if not glob.glob("/usr/lib/postgresql/*/bin/postgres"):
            install.apt_install("pg_ctlcluster", "postgresql")

    def _initdb(self) -> None:
        data = self.data_dir
        if (data / "PG_VERSION").exists():
            return
        data.mkdir(parents=True, exist_ok=True)
        user = self._user()
        if user:
            pw = pwd.getpwnam(user)
            os.chown(data, pw.pw_uid, pw.pw_gid)
        pwfile = data.parent / "pg.pw"
        pwfile.parent.mkdir(parents=True, exist_ok=True)
        pwfile.write_text(self.s.postgres_password.get_secret_value() + "\n")
        if user:
            os.chmod(pwfile, 0o644)
        cmd = [
            str(_bindir() / "initdb"), "-D", str(data), "-U", self.s.postgres_user, "--pwfile", str(pwfile),
            "-A", "scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
        ]
        if user:
            cmd = ["runuser", "-u", user, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True)
        pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            shutil.rmtree(data, ignore_errors=True)
            raise StartError(f"initdb failed: {result.stderr[-800:]}")

    def start(self) -> None:
        self._initdb()
        sock_dir = self.data_dir.parent / f"{self.name}-socket"
        sock_dir.mkdir(parents=True, exist_ok=True)
        user = self._user()
        if user:
            pw = pwd.getpwnam(user)
            os.chown(sock_dir, pw.pw_uid, pw.pw_gid)
        argv = [
            str(_bindir() / "postgres"), "-D", str(self.data_dir), "-h", self.s.host, "-p", str(self.s.postgres_port),
            "-k", str(sock_dir), "-c", "max_connections=200", "-c", "shared_buffers=128MB",
            "-c", "fsync=on", "-c", "logging_collector=off",
        ]
        process.spawn(self.s.state_dir, self.name, argv, user=user)

    def _connect(self, dbname: str) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=self.s.host, port=self.s.postgres_port, user=self.s.postgres_user,
            password=self.s.postgres_password.get_secret_value(), dbname=dbname, connect_timeout=2, autocommit=True,
        )

    def ready(self) -> bool:
        with self._connect("postgres") as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)

    def after_start(self) -> None:
        with self._connect("postgres") as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.s.postgres_db,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{self.s.postgres_db}"')  # name comes from settings, not input

    def endpoints(self) -> dict[str, Any]:
        return {
            "dsn": self.s.postgres_dsn,
            "jdbc_url": self.s.jdbc_url,
            "host": self.s.host,
            "port": self.s.postgres_port,
            "user": self.s.postgres_user,
            "password": self.s.postgres_password.get_secret_value(),
            "database": self.s.postgres_db,
        }
