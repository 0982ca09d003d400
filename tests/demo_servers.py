"""The demo EHR (SMART authorization server and FHIR front) on 127.0.0.1, in a thread."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import httpx
from support import free_port
from werkzeug.serving import BaseWSGIServer, make_server

from demo_ehr.app import DemoEhrConfig, create_demo_ehr


class DemoEhrServer:
    """`create_demo_ehr` served by Werkzeug on a port of its own until `stop`."""

    def __init__(self, upstream_fhir_url: str, upstream_token: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.fhir_base_url = self.base_url + "/fhir"
        self._upstream = (upstream_fhir_url, upstream_token)
        self._server: BaseWSGIServer | None = None
        self._upstream_client = httpx.Client(timeout=10)

    def start(
        self,
        clients: Mapping[str, tuple[str, ...]],
        cds_base_url: str,
        issuer: str,
        signing_key: Mapping[str, Any],
    ) -> DemoEhrServer:
        """Serve, trusting these SMART clients (client_id -> redirect URIs), calling this service
        as this issuer with this key."""
        config = DemoEhrConfig(
            self.base_url,
            *self._upstream,
            clients=clients,
            cds_base_url=cds_base_url,
            issuer=issuer,
            signing_key=signing_key,
        )
        app = create_demo_ehr(config, self._upstream_client)
        self._server = make_server("127.0.0.1", self.port, app, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self._upstream_client.close()
