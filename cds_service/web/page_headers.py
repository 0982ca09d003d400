"""The response headers of the server-rendered pages (admin, SMART app, demo EHR)."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Blueprint, Flask, Response


def send_page_headers(owner: Blueprint | Flask, headers: Mapping[str, str]) -> None:
    """Add `headers` to every response of the blueprint or app (its pages show patient data)."""
    fixed = dict(headers)

    def add(response: Response) -> Response:
        response.headers.update(fixed)
        return response

    owner.after_request(add)
