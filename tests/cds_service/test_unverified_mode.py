"""Switching JWT checks off: only by an explicit setting, and loudly."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from conftest import patient_view_request
from support import CdssServer

from cds_service.components import JWT_CHECKS_OFF_WARNING


def test_jwt_checks_off_warns_at_every_start(
    start_server: Callable[..., CdssServer], http: httpx.Client
) -> None:
    server = start_server("sqlite", auth={"verify_jwt": False})

    response = http.post(
        server.base_url + "/cds-services/diabetes-risk", json=patient_view_request()
    )

    assert response.status_code == 200
    assert JWT_CHECKS_OFF_WARNING in server.log_file.read_text()
    server.stop()
    server.start()
    assert server.log_file.read_text().count(JWT_CHECKS_OFF_WARNING) >= 2
