"""The FHIR server behind the demo EHR (and the tests): sekmet, a FHIR R4 server from PyPI.

Started as its own process on 127.0.0.1 with bearer-token access, its simulator off (it would
answer orders on its own), in a folder of its own.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx

from cds_service.settings import environment_without

SEKMET = Path(sys.executable).with_name("sekmet")
START_TIMEOUT_SECONDS = 60
LOAD_TIMEOUT_SECONDS = 300
FHIR_JSON = "application/fhir+json"
# sekmet's SQLite database under the data_dir the settings give it (sekmet's default name).
SEKMET_DATABASE = Path("data") / "sekmet.db"
SQLITE_BUSY_SECONDS = 30


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SekmetServer:
    """A `sekmet serve` process on 127.0.0.1 with bearer-token auth, in its own temporary folder."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/fhir"
        self.access_token = secrets.token_urlsafe(24)
        self.workdir = Path(tempfile.mkdtemp(prefix="sekmet-"))
        self.log_file = self.workdir / "sekmet.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def headers(self) -> dict[str, str]:
        """The headers of an authorised FHIR JSON request."""
        return {"Authorization": f"Bearer {self.access_token}", "Accept": FHIR_JSON}

    def write_settings(self) -> Path:
        """Write the settings.yaml the process reads; its path."""
        settings = {
            "base_url": self.base_url,
            "host": "127.0.0.1",
            "port": self.port,
            "data_dir": str(self.workdir / "data"),
            # The simulator would answer orders on its own and add resources behind our back.
            "simulator": {"enabled": False},
            "log_inbound": False,
            "server_auth": {"types": ["bearer"], "tokens": [self.access_token]},
        }
        path = self.workdir / "settings.yaml"
        # JSON is valid YAML, and needs no YAML writer here.
        path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
        return path

    def start(self) -> SekmetServer:
        """Start the process and wait until its capability statement answers."""
        settings = self.write_settings()
        # sekmet lets SEKMET_* variables override the file; none must leak in from the caller.
        env = environment_without("SEKMET_")
        command = [str(SEKMET), "serve", "-c", str(settings), "--host", "127.0.0.1"]
        command += ["--port", str(self.port)]
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log_text = self._log_text()
                self.stop()
                raise RuntimeError(f"sekmet serve exited:\n{log_text}")
            try:
                response = httpx.get(f"{self.base_url}/metadata", headers=self.headers, timeout=2)
                if response.status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        log_text = self._log_text()
        self.stop()
        raise RuntimeError(f"sekmet serve did not become ready:\n{log_text}")

    def stop(self) -> None:
        """Stop the process group (SIGTERM, then SIGKILL) and remove the temporary folder."""
        process = self.process
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=20)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def refresh_search_statistics(self) -> bool:
        """Have SQLite gather statistics on the freshly loaded tables, as after any bulk load;
        False when the database is not where sekmet puts it by default.

        Without them sekmet's planner answers `_sort=-date` slowly: a Synthea chart's risk
        observations took 2.4 s, 0.1 s after (docs/benchmarks.md). Nothing read or sent changes.
        """
        database = self.workdir / SEKMET_DATABASE
        if not database.exists():
            return False
        with closing(sqlite3.connect(database, timeout=SQLITE_BUSY_SECONDS)) as connection:
            connection.execute("ANALYZE")
            connection.commit()
        return True

    def load(self, bundle: Mapping[str, Any]) -> str:
        """POST a transaction Bundle; the id the server gave its Patient."""
        response = httpx.post(
            self.base_url,
            content=json.dumps(bundle).encode(),
            headers={**self.headers, "Content-Type": FHIR_JSON},
            timeout=LOAD_TIMEOUT_SECONDS,
        )
        if response.status_code != 200:
            raise RuntimeError(f"transaction refused ({response.status_code}): {response.text}")
        for entry in response.json().get("entry", []):
            location = entry.get("response", {}).get("location", "")
            if "/Patient/" in location:
                # Absolute, like http://127.0.0.1:PORT/fhir/Patient/<id>/_history/1.
                return str(location.split("/Patient/", 1)[1].split("/", 1)[0])
        raise RuntimeError("the transaction response names no Patient")

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        """An authorised GET of a path under the base URL; the JSON answer."""
        return self.get_url(f"{self.base_url}/{path.lstrip('/')}", **params)

    def get_url(self, url: str, **params: Any) -> dict[str, Any]:
        """An authorised GET of an absolute URL (a `next` link, say); the JSON answer."""
        response = httpx.get(url, params=params or None, headers=self.headers, timeout=60)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} failed ({response.status_code}): {response.text}")
        body: dict[str, Any] = response.json()
        return body

    def _log_text(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return "(no log)"
