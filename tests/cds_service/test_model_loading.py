"""The service loads the models at start-up, says which, and will not start without them."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from support import CdssServer

from models.artifacts import artifact_path
from models.registry import SHIPPED_DIRECTORY, load_risk_models


def test_readiness_names_the_artifacts_served(cdss_server: CdssServer) -> None:
    body = httpx.get(f"{cdss_server.base_url}/readyz").json()
    assert body["models"] == load_risk_models().content_hashes()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("alter", "does not match its content hash"),
        ("remove", "no artifact"),
    ],
)
def test_the_service_refuses_to_start_on_a_bad_artifact(
    start_server: Callable[..., CdssServer], tmp_path: Path, damage: str, message: str
) -> None:
    models = tmp_path / "models"
    shutil.copytree(SHIPPED_DIRECTORY, models)
    path = artifact_path(models, "hypertension-unmeasured")
    if damage == "alter":
        path.write_text(path.read_text().replace('"max_depth":3', '"max_depth":2', 1))
    else:
        path.unlink()
    with pytest.raises(RuntimeError, match="cdss serve exited") as refused:
        start_server(models={"directory": str(models)})
    assert "hypertension-unmeasured" in str(refused.value)
    assert message in str(refused.value)
