"""Model artifacts: one JSON file per model, versioned and sealed by a content hash.

The file holds the model kind, its features in order, the fitted parameters, the calibration
and how it was trained. `content_sha256` is the SHA-256 of the canonical JSON of everything
else, so any change to any of it (a coefficient, a threshold, the feature order) is caught at
load, and the service refuses to start rather than give numbers from a model nobody evaluated.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ARTIFACT_FORMAT = 1
HASH_KEY = "content_sha256"


class ArtifactError(Exception):
    """An artifact is missing, altered, or not the one the code expects."""


@dataclass(frozen=True)
class Artifact:
    """A model artifact's contents, verified."""

    name: str
    kind: str
    features: tuple[str, ...]
    payload: dict[str, Any]
    training: dict[str, Any]
    content_sha256: str


def canonical_json(document: Any) -> bytes:
    """The one byte form a document hashes to (sorted keys, no spaces, exact floats)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def artifact_path(directory: Path, name: str) -> Path:
    """Where a model's artifact lives."""
    return directory / f"{name}.json"


def write_artifact(
    directory: Path,
    name: str,
    kind: str,
    features: tuple[str, ...],
    payload: dict[str, Any],
    training: dict[str, Any],
) -> Artifact:
    """Seal and write an artifact; returns it as it will be read back."""
    body = {
        "format": ARTIFACT_FORMAT,
        "name": name,
        "kind": kind,
        "features": list(features),
        "payload": payload,
        "training": training,
    }
    digest = hashlib.sha256(canonical_json(body)).hexdigest()
    directory.mkdir(parents=True, exist_ok=True)
    artifact_path(directory, name).write_bytes(canonical_json({**body, HASH_KEY: digest}) + b"\n")
    return Artifact(name, kind, features, payload, training, digest)


def read_artifact(directory: Path, name: str, features: tuple[str, ...]) -> Artifact:
    """Read and verify a model's artifact; `ArtifactError` says what is wrong."""
    path = artifact_path(directory, name)
    try:
        document = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise ArtifactError(f"model {name}: no artifact at {path} (run `cdss train`)") from None
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"model {name}: {path} cannot be read as JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ArtifactError(f"model {name}: {path} is not an artifact")
    recorded = document.pop(HASH_KEY, None)
    if recorded != hashlib.sha256(canonical_json(document)).hexdigest():
        raise ArtifactError(f"model {name}: {path} does not match its content hash (altered)")
    if document.get("format") != ARTIFACT_FORMAT:
        raise ArtifactError(
            f"model {name}: artifact format {document.get('format')!r}, expected {ARTIFACT_FORMAT}"
        )
    if document.get("name") != name:
        raise ArtifactError(f"model {name}: {path} holds model {document.get('name')!r}")
    if tuple(document.get("features", ())) != features:
        raise ArtifactError(
            f"model {name}: artifact features {document.get('features')} differ from the "
            f"code's {list(features)} (retrain with `cdss train`)"
        )
    return Artifact(
        name, document["kind"], features, document["payload"], document["training"], recorded
    )
