"""Slowing admin token guessing without locking administrators out, through `cdss serve`.

Wrong tokens are refused 429 once an address (or every address together) has been refused too
often; a valid token is always let in. Behind a reverse proxy the client's address comes from
`X-Forwarded-For` only when the connection comes from a configured trusted proxy.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import pytest
from support import CdssServer
from test_admin_api import admin_config, bearer
from werkzeug.test import Client

from cds_service.web.forwarded import TrustedProxies

CONFIG_PATH = "/admin/config"
SIGN_IN_PATH = "/admin/sign-in"
DEFAULT_MAX_REFUSALS = 10
WINDOW_SECONDS = 600
# Documentation addresses (RFC 5737): the clients a proxy forwards for.
CLIENT_A = "203.0.113.7"
CLIENT_B = "203.0.113.8"
LOOPBACK_PROXY = ["127.0.0.1/32"]


def wrong_tokens(
    server: CdssServer, count: int, headers: dict[str, str] | None = None
) -> list[int]:
    """The statuses of `count` calls with wrong tokens."""
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        return [
            client.get(CONFIG_PATH, headers={**bearer(f"guess-{n}"), **(headers or {})}).status_code
            for n in range(count)
        ]


def forwarded(address: str) -> dict[str, str]:
    """The header a reverse proxy adds for the client it forwards."""
    return {"X-Forwarded-For": address}


def refused_sources(server: CdssServer, token: str) -> list[str | None]:
    """The client addresses of the refusals in the audit log, newest first."""
    events = httpx.get(server.base_url + "/admin/audit", headers=bearer(token), timeout=10).json()[
        "events"
    ]
    return [event["source"] for event in events if event["event"] == "admin-refused"]


def start_admin_server(
    start_server: Callable[..., CdssServer], token: str, **sections: dict[str, Any]
) -> CdssServer:
    admin = sections.pop("admin", {})
    server: CdssServer = start_server("sqlite", admin=admin_config(token, **admin), **sections)
    return server


def test_the_valid_token_still_works_after_many_wrong_ones_from_its_address(
    start_server: Callable[..., CdssServer],
) -> None:
    token = secrets.token_urlsafe(32)
    server = start_admin_server(
        start_server, token, admin={"refusal_window_seconds": WINDOW_SECONDS}
    )
    statuses = wrong_tokens(server, DEFAULT_MAX_REFUSALS + 1)
    assert statuses == [401] * DEFAULT_MAX_REFUSALS + [429]
    url = server.base_url + CONFIG_PATH
    assert httpx.get(url, headers=bearer(token), timeout=10).status_code == 200
    # The valid token opened the door for itself only: guessing is still refused outright.
    throttled = httpx.get(url, headers=bearer("guess"), timeout=10)
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == str(WINDOW_SECONDS)
    assert httpx.get(url, timeout=10).status_code == 429


def test_the_admin_page_signs_in_and_posts_forms_after_many_wrong_tokens(
    start_server: Callable[..., CdssServer],
) -> None:
    token = secrets.token_urlsafe(32)
    server = start_admin_server(start_server, token)
    with httpx.Client(base_url=server.base_url, timeout=10) as browser:
        statuses = [
            browser.post(SIGN_IN_PATH, data={"token": f"guess-{n}"}).status_code
            for n in range(DEFAULT_MAX_REFUSALS + 1)
        ]
        assert statuses == [401] * DEFAULT_MAX_REFUSALS + [429]
        signed_in = browser.post(SIGN_IN_PATH, data={"token": token})
        assert signed_in.status_code == 303
        assert signed_in.headers["Location"] == "/admin"
        page = browser.get("/admin")
        assert page.status_code == 200
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match is not None
        # A form with the session's CSRF token is the administrator's, whatever the address did.
        signed_out = browser.post("/admin/sign-out", data={"csrf_token": match.group(1)})
        assert signed_out.status_code == 303
        assert signed_out.headers["Location"] == SIGN_IN_PATH
        assert browser.post(SIGN_IN_PATH, data={"token": "guess"}).status_code == 429


def test_behind_a_trusted_proxy_each_forwarded_client_is_throttled_apart(
    start_server: Callable[..., CdssServer],
) -> None:
    token = secrets.token_urlsafe(32)
    server = start_admin_server(
        start_server,
        token,
        admin={"max_refusals": 2},
        server={"trusted_proxies": LOOPBACK_PROXY},
    )
    assert wrong_tokens(server, 3, forwarded(CLIENT_A)) == [401, 401, 429]
    # What a client wrote itself stands left of what the proxy appended: the proxy's word counts.
    assert wrong_tokens(server, 1, forwarded(f"{CLIENT_A}, {CLIENT_B}")) == [401]
    assert refused_sources(server, token) == [CLIENT_B, CLIENT_A, CLIENT_A]
    url = server.base_url + CONFIG_PATH
    allowed = httpx.get(url, headers={**bearer(token), **forwarded(CLIENT_A)}, timeout=10)
    assert allowed.status_code == 200


@pytest.mark.parametrize("trusted_proxies", [None, ["10.0.0.0/8"]])
def test_a_forwarded_address_from_an_untrusted_peer_changes_nothing(
    start_server: Callable[..., CdssServer], trusted_proxies: list[str] | None
) -> None:
    token = secrets.token_urlsafe(32)
    server_section = {} if trusted_proxies is None else {"trusted_proxies": trusted_proxies}
    server = start_admin_server(
        start_server, token, admin={"max_refusals": 2}, server=server_section
    )
    statuses = [
        wrong_tokens(server, 1, forwarded(address))[0]
        for address in (CLIENT_A, CLIENT_B, "198.51.100.1")
    ]
    assert statuses == [401, 401, 429]
    assert refused_sources(server, token) == ["127.0.0.1", "127.0.0.1"]


def test_guessing_from_many_addresses_meets_the_cap_for_all_addresses(
    start_server: Callable[..., CdssServer],
) -> None:
    token = secrets.token_urlsafe(32)
    server = start_admin_server(
        start_server,
        token,
        admin={"max_refusals": 2, "max_refusals_all_addresses": 3},
        # The cap is counted by each worker: one worker makes it the whole service's.
        server={"trusted_proxies": LOOPBACK_PROXY, "workers": 1},
    )
    clients = [f"198.51.100.{n}" for n in range(1, 6)]
    statuses = [wrong_tokens(server, 1, forwarded(client))[0] for client in clients]
    assert statuses == [401, 401, 401, 429, 429]
    url = server.base_url + CONFIG_PATH
    allowed = httpx.get(url, headers={**bearer(token), **forwarded(clients[-1])}, timeout=10)
    assert allowed.status_code == 200


def _seen_by_the_app(
    environ: dict[str, Any], start_response: Callable[..., Any]
) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{environ.get('REMOTE_ADDR')} {environ['wsgi.url_scheme']}".encode()]


@pytest.mark.parametrize(
    ("trusted", "peer", "headers", "seen"),
    [
        # Nothing trusted: the connection's address and scheme, whatever the headers say.
        ((), "127.0.0.1", {"X-Forwarded-For": CLIENT_A}, "127.0.0.1 http"),
        ((), "127.0.0.1", {"X-Forwarded-Proto": "https"}, "127.0.0.1 http"),
        (("10.0.0.0/8",), "192.0.2.1", {"X-Forwarded-For": CLIENT_A}, "192.0.2.1 http"),
        # A trusted proxy: the rightmost address it does not itself trust, and its scheme.
        (("10.0.0.0/8",), "10.1.2.3", {"X-Forwarded-For": CLIENT_A}, f"{CLIENT_A} http"),
        (
            ("10.0.0.0/8",),
            "10.1.2.3",
            {"X-Forwarded-For": f"{CLIENT_B}, {CLIENT_A}, 10.9.9.9", "X-Forwarded-Proto": "https"},
            f"{CLIENT_A} https",
        ),
        (("10.0.0.0/8",), "10.1.2.3", {}, "10.1.2.3 http"),
        # Something that is no address: the last hop the proxies vouch for.
        (("10.0.0.0/8",), "10.1.2.3", {"X-Forwarded-For": "unknown"}, "10.1.2.3 http"),
        (("10.0.0.0/8",), "10.1.2.3", {"X-Forwarded-Proto": "gopher"}, "10.1.2.3 http"),
        (("127.0.0.1", "::1"), "::1", {"X-Forwarded-For": "2001:db8::7"}, "2001:db8::7 http"),
    ],
)
def test_the_client_address_and_scheme_come_from_trusted_proxies_only(
    trusted: tuple[str, ...], peer: str, headers: dict[str, str], seen: str
) -> None:
    app = TrustedProxies(_seen_by_the_app, trusted)
    response = Client(app).get("/", headers=headers, environ_base={"REMOTE_ADDR": peer})
    assert response.get_data(as_text=True) == seen
