"""Patient pseudonyms: a keyed hash stands in for the patient id wherever the service stores one.

A plain hash of a patient id can be reversed by hashing every plausible id; a keyed hash
(HMAC-SHA256) cannot without the key, which lives in its own file, outside the database.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path

KEY_BYTES = 32


class PatientPseudonymizer:
    """Turns (issuer, patient id) into a stable pseudonym."""

    def __init__(self, key: bytes) -> None:
        if len(key) < KEY_BYTES:
            raise ValueError("the patient key must have at least 32 bytes")
        self._key = key

    def pseudonym(self, issuer: str, patient_id: str) -> str:
        """The pseudonym of a patient of one EHR; ids are unique only within their EHR."""
        message = f"{issuer}\x1f{patient_id}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


def load_or_create_patient_key(path: Path, inline_key: str | None = None) -> bytes:
    """The configured key, or the key file's content, creating the file on first use."""
    if inline_key is not None:
        return inline_key.encode()
    if not path.exists():
        _create_key_file(path)
    key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    if len(key) < KEY_BYTES:
        raise ValueError(f"{path}: the patient key must hold at least {KEY_BYTES} bytes")
    return key


def _create_key_file(path: Path) -> None:
    # Written to a private temporary file, then linked into place: link() fails if another
    # worker got there first, so every process ends up reading the same complete key.
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(KEY_BYTES) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
