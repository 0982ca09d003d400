"""Patient pseudonyms and the key behind them."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from cds_service.privacy import PatientPseudonymizer, load_or_create_patient_key


def test_pseudonym_is_stable_keyed_and_scoped_to_the_issuer() -> None:
    first = PatientPseudonymizer(b"a" * 32)
    other_key = PatientPseudonymizer(b"b" * 32)

    assert first.pseudonym("ehr-1", "pat-1") == first.pseudonym("ehr-1", "pat-1")
    assert first.pseudonym("ehr-1", "pat-1") != other_key.pseudonym("ehr-1", "pat-1")
    assert first.pseudonym("ehr-1", "pat-1") != first.pseudonym("ehr-2", "pat-1")
    assert "pat-1" not in first.pseudonym("ehr-1", "pat-1")


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        PatientPseudonymizer(b"short")


def test_key_file_is_created_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "patient.key"

    key = load_or_create_patient_key(path)

    assert len(key) == 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_patient_key(path) == key


def test_workers_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "patient.key"
    with ProcessPoolExecutor(max_workers=4) as pool:
        keys = set(pool.map(load_or_create_patient_key, [path] * 16))

    assert keys == {load_or_create_patient_key(path)}
