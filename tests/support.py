"""Real servers for the tests: `cdss serve`, PostgreSQL, and a JWK Set publisher for `jku`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
CDSS = Path(sys.executable).with_name("cdss")
# Start-up takes seconds on an idle machine (docs/benchmarks.md); a busy one (CI beside other
# work) can take many times that, and a slow start is not what these tests are about.
START_TIMEOUT_SECONDS = 240


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def toml_value(value: Any) -> str:
    """A Python value written as TOML (JSON syntax is valid TOML but for tables)."""
    if isinstance(value, dict):
        items = ", ".join(f"{json.dumps(key)} = {toml_value(item)}" for key, item in value.items())
        return "{ " + items + " }"
    return json.dumps(value)


@dataclass
class CdssServer:
    """A `cdss serve` process on 127.0.0.1, started from a TOML file like any deployment."""

    workdir: Path
    database_url: str
    config: Mapping[str, Mapping[str, Any]]
    issuers: list[dict[str, Any]] = field(default_factory=list)
    workers: int = 2
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    # Added to the process's environment: bench/hook_load.py's `--baseline` puts an earlier
    # checkout first on PYTHONPATH, so that its code serves.
    environment: Mapping[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        """Where the service answers (and the `aud` its tokens must name)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_file(self) -> Path:
        """The configuration the service was started with."""
        return self.workdir / "cdss.toml"

    @property
    def log_file(self) -> Path:
        """Everything the service wrote to stdout and stderr."""
        return self.workdir / "serve.log"

    def write_config(self) -> None:
        """Write the TOML file the process reads."""
        sections: dict[str, dict[str, Any]] = {
            "server": {
                "public_base_url": self.base_url,
                "port": self.port,
                "workers": self.workers,
            },
            "storage": {"database_url": self.database_url},
        }
        for name, values in self.config.items():
            sections.setdefault(name, {}).update(values)
        lines = []
        for name, values in sections.items():
            lines.append(f"[{name}]")
            lines.extend(f"{key} = {toml_value(value)}" for key, value in values.items())
        for issuer in self.issuers:
            lines.append("[[auth.issuers]]")
            lines.extend(f"{key} = {toml_value(value)}" for key, value in issuer.items())
        self.config_file.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def start(self) -> CdssServer:
        """Start the process and wait until it answers."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.write_config()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CDSS_")}
        env.update(self.environment)
        log = self.log_file.open("ab")
        self.process = subprocess.Popen(
            [str(CDSS), "serve", "--config", str(self.config_file)],
            cwd=self.workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"cdss serve exited:\n{self.log_file.read_text()}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"cdss serve did not become ready:\n{self.log_file.read_text()}")

    def stop(self) -> None:
        """Stop gracefully (SIGTERM to the whole process group)."""
        self._signal(signal.SIGTERM)

    def crash(self) -> None:
        """Kill every process of the service at once, as a power cut or OOM kill would."""
        self._signal(signal.SIGKILL)

    def _signal(self, signum: int) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signum)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)


class PostgresCluster:
    """A throwaway PostgreSQL server (Debian's binaries) on 127.0.0.1, in a temporary folder."""

    def __init__(self) -> None:
        # Its own folder: pytest's temporary root is private to root, and the server runs as
        # the `postgres` user when the tests run as root.
        self.root = Path(tempfile.mkdtemp(prefix="cdss-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.bin = _postgres_bin_dir()
        self._as_postgres = os.geteuid() == 0  # the server refuses to run as root

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(
                f"{args[0]} failed: {result.stderr.strip() or result.stdout.strip()}"
            )

    def start(self) -> PostgresCluster:
        """initdb, start, and create the `cdss` role."""
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=on"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "pg.log"),
            "-w",
            "start",
        )
        return self

    def create_database(self, name: str) -> str:
        """A new empty database; its SQLAlchemy URL."""
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        """Stop the server."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def _postgres_bin_dir() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if not candidates:
        raise RuntimeError("PostgreSQL is not installed: run the README's test command")
    return candidates[0].parent


class LoopbackHttpServer:
    """A threaded HTTP server on 127.0.0.1 and a free port, serving on its own daemon thread
    from `start()` until `stop()`: the stand-ins for other parties' servers (FHIR fronts, key
    sets, the launcher, the sandbox's pages) are each one of these and a request handler."""

    def __init__(self, handler: Callable[..., BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.origin = f"http://127.0.0.1:{self.port}"
        # A short poll interval: stop() waits for the serving loop to notice.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> None:
        """Start serving."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self._server.shutdown()
        self._server.server_close()


class KeySetPublisher:
    """Serves a JWK Set over HTTP on 127.0.0.1, as an EHR publishes its keys for `jku`."""

    def __init__(self, key_set: Mapping[str, Any]) -> None:
        self.key_set = dict(key_set)
        self.requests = 0
        publisher = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                publisher.requests += 1
                body = json.dumps(publisher.key_set).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self._http = LoopbackHttpServer(Handler)
        self.url = f"{self._http.origin}/.well-known/jwks.json"

    def start(self) -> KeySetPublisher:
        """Start serving."""
        self._http.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._http.stop()
