"""The floor: the least a CDS service can do for a hook call, under `cdss serve`'s gunicorn.

A Flask app that does only what no CDS Hooks service can skip: it reads the same bearer JWT as
`cdss serve` (ES384, the issuer on the allow-list, the audience the exact URL called, `exp`,
`iat` and `jti` present, the same clock skew), parses the same request body with `json.loads`
and answers one fixed card. It keeps no replay store, builds no record, runs no model and
writes nothing. Its gunicorn is `cdss serve`'s own (`cds_service.server`: bind, workers,
gthread threads, timeouts, access log, collector settings), so `bench/hook_load.py` can set the
two side by side and show what the service costs above this floor.

Run from the repository root (the JWKS file holds the public keys the issuer signs with):

    .venv/bin/python bench/floor.py --port 8090 --issuer https://ehr.example.test --jwks jwks.json
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from flask import Flask, Response, request

from cds_service.access_settings import AuthSettings
from cds_service.auth.cds_jwt import REQUIRED_CLAIMS
from cds_service.server import CdsGunicornApp, settle_after_start
from cds_service.settings import ServerSettings, Settings

# The algorithm the benchmark's EHR signs with, and the one the specification recommends.
ALGORITHM = "ES384"
HOST = "127.0.0.1"
# The service's own default, so that both accept the same tokens.
CLOCK_SKEW_SECONDS = AuthSettings().clock_skew_seconds
JSON = "application/json"
START_SECONDS = 60
FIXED_CARD = {
    "uuid": "00000000-0000-4000-8000-000000000000",
    "summary": "Floor benchmark: a fixed card",
    "indicator": "info",
    "source": {"label": "bench/floor.py"},
}
# Serialized once: the floor's answer costs nothing to build.
FIXED_RESPONSE = json.dumps({"cards": [FIXED_CARD]}).encode()
UNAUTHORIZED = json.dumps({"error": "unauthorized"}).encode()
BAD_BODY = json.dumps({"error": "the body is not JSON"}).encode()


def verification_keys(key_set: Mapping[str, Any]) -> dict[str, jwt.PyJWK]:
    """The key set's ES384 keys by `kid`, as PyJWT key objects built once."""
    return {
        jwk["kid"]: jwt.PyJWK(dict(jwk), algorithm=ALGORITHM)
        for jwk in key_set["keys"]
        if jwk.get("alg", ALGORITHM) == ALGORITHM
    }


def create_floor_app(issuer: str, key_set: Mapping[str, Any], public_base_url: str) -> Flask:
    """The floor service: a verified token and a parsed body give the fixed card."""
    app = Flask(__name__)
    keys = verification_keys(key_set)

    def token_is_valid(token: str) -> bool:
        try:
            key = keys.get(jwt.get_unverified_header(token).get("kid", ""))
            if key is None:
                return False
            jwt.decode(
                token,
                key=key.key,
                algorithms=[ALGORITHM],
                audience=public_base_url + request.path,
                issuer=issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": list(REQUIRED_CLAIMS), "verify_sub": False},
            )
        except jwt.PyJWTError:
            return False
        return True

    @app.post("/cds-services/<service_id>")
    def hook_call(service_id: str) -> Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token_is_valid(token.strip()):
            return Response(UNAUTHORIZED, status=401, mimetype=JSON)
        try:
            json.loads(request.get_data())
        except ValueError:
            return Response(BAD_BODY, status=400, mimetype=JSON)
        return Response(FIXED_RESPONSE, mimetype=JSON)

    @app.get("/readyz")
    def ready() -> Response:
        return Response(b"{}", mimetype=JSON)

    return app


class _FloorGunicornApp(CdsGunicornApp):
    """`cdss serve`'s gunicorn configuration, each worker serving the floor instead."""

    def __init__(self, settings: Settings, issuer: str, key_set: Mapping[str, Any]) -> None:
        self._issuer = issuer
        self._key_set = key_set
        # The floor loads no models; only `load`, overridden below, would read them.
        super().__init__(settings, shared=None)  # type: ignore[arg-type]

    def load(self) -> Flask:
        app = create_floor_app(self._issuer, self._key_set, self._settings.server.public_base_url)
        settle_after_start()
        return app


def floor_settings(port: int, workers: int, threads: int) -> Settings:
    """The settings `cdss serve` would run gunicorn with, on 127.0.0.1:`port`."""
    server = ServerSettings(
        public_base_url=f"http://{HOST}:{port}",
        host=HOST,
        port=port,
        workers=workers,
        threads=threads,
    )
    return Settings(server=server)


@dataclass
class Floor:
    """A `bench/floor.py` process on 127.0.0.1."""

    port: int
    process: subprocess.Popen[bytes]
    log_file: Path

    @property
    def base_url(self) -> str:
        """Where the floor answers (and the `aud` its tokens name)."""
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def running_floor(
    workdir: Path, jwks_file: Path, *, port: int, issuer: str, workers: int, threads: int
) -> Iterator[Floor]:
    """The floor as its own process on `port`, trusting `issuer` with the keys in `jwks_file`;
    stopped (its whole process group) on leaving."""
    log_file = workdir / "floor.log"
    command = [sys.executable, str(Path(__file__).resolve()), "--port", str(port)]
    command += ["--issuer", issuer, "--jwks", str(jwks_file)]
    command += ["--workers", str(workers), "--threads", str(threads)]
    with log_file.open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
    floor = Floor(port, process, log_file)
    try:
        wait_until_ready(floor)
        yield floor
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def wait_until_ready(floor: Floor) -> None:
    """Return once the floor answers `/readyz`; raise if it exits or takes too long."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if floor.process.poll() is not None:
            raise RuntimeError(f"the floor exited:\n{floor.log_file.read_text()}")
        conn = http.client.HTTPConnection("127.0.0.1", floor.port, timeout=1)
        try:
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    raise RuntimeError("the floor did not become ready")


def main(argv: list[str] | None = None) -> None:
    """Serve the floor until stopped."""
    defaults = ServerSettings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--issuer", required=True, help="the one trusted `iss`")
    parser.add_argument("--jwks", type=Path, required=True, help="the issuer's public key set")
    parser.add_argument("--workers", type=int, default=defaults.workers)
    parser.add_argument("--threads", type=int, default=defaults.threads)
    args = parser.parse_args(argv)
    key_set = json.loads(args.jwks.read_text(encoding="utf-8"))
    settings = floor_settings(args.port, args.workers, args.threads)
    _FloorGunicornApp(settings, args.issuer, key_set).run()


if __name__ == "__main__":
    main()
