"""Key sets: pinned ones checked at start-up; fetched ones cached, refreshed and rate-limited."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from support import KeySetPublisher, free_port

from cds_service.auth.key_sets import KeySetError, PinnedKeySet, RemoteKeySet
from cds_service.auth.signing import generate_signing_key, public_key_set

FIRST = generate_signing_key("ES384", kid="first")
SECOND = generate_signing_key("RS384", kid="second")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def publisher() -> Iterator[KeySetPublisher]:
    """An EHR's key-set endpoint on 127.0.0.1, publishing FIRST."""
    server = KeySetPublisher(public_key_set(FIRST)).start()
    yield server
    server.stop()


def _remote(url: str, client: httpx.Client, clock: Clock) -> RemoteKeySet:
    return RemoteKeySet(
        url, client, cache_seconds=3600, min_refresh_seconds=30, timeout_seconds=1, clock=clock
    )


def test_keys_are_fetched_once_and_cached(publisher: KeySetPublisher) -> None:
    clock = Clock()
    with httpx.Client() as client:
        keys = _remote(publisher.url, client, clock)

        assert keys.key_for("first") is not None
        assert keys.key_for("first") is not None

    assert publisher.requests == 1


def test_an_unknown_kid_refetches_at_most_once_per_interval(publisher: KeySetPublisher) -> None:
    clock = Clock()
    with httpx.Client() as client:
        keys = _remote(publisher.url, client, clock)
        keys.key_for("first")
        publisher.key_set = public_key_set(FIRST, SECOND)  # the EHR rotates in a new key

        clock.now += 5
        assert keys.key_for("second") is None  # too soon after the last fetch
        assert keys.key_for("made-up") is None
        assert publisher.requests == 1

        clock.now += 30
        assert keys.key_for("second") is not None
        assert publisher.requests == 2


def test_a_stale_set_is_fetched_again(publisher: KeySetPublisher) -> None:
    clock = Clock()
    with httpx.Client() as client:
        keys = _remote(publisher.url, client, clock)
        keys.key_for("first")
        publisher.key_set = public_key_set(SECOND)  # FIRST retired

        clock.now += 3600
        assert keys.key_for("first") is None

    assert publisher.requests == 2


def test_an_outage_keeps_the_keys_already_known(publisher: KeySetPublisher) -> None:
    clock = Clock()
    with httpx.Client() as client:
        keys = _remote(publisher.url, client, clock)
        keys.key_for("first")
        publisher.stop()

        clock.now += 3600
        assert keys.key_for("first") is not None


def test_an_unreachable_url_gives_no_key() -> None:
    with httpx.Client() as client:
        keys = _remote(f"http://127.0.0.1:{free_port()}/jwks", client, Clock())

        assert keys.key_for("first") is None


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        ({"keys": "none"}, "not a JWK Set"),
        ([], "not a JWK Set"),
        ({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]}, "only EC and RSA"),
        ({"keys": [FIRST]}, "private key"),
    ],
)
def test_unusable_pinned_sets_are_refused(document: object, complaint: str) -> None:
    with pytest.raises(KeySetError, match=complaint):
        PinnedKeySet.from_document(document, "test")


def test_the_sandbox_key_set_ships_with_the_service() -> None:
    sandbox = PinnedKeySet.builtin("cds-hooks-sandbox")

    # The key the sandbox signs with today (ES384 on P-384), and the one of its older builds.
    assert sandbox.key_for("44823f3d-0b01-4a6c-a80e-b9d3e8a7226f") is not None
    assert sandbox.key_for("d9cd3c4f-eb08-4304-b973-44f352fd2ca2") is not None
    with pytest.raises(KeySetError, match="unknown key set"):
        PinnedKeySet.builtin("nope")


def test_a_key_that_cannot_be_built_loads_beside_the_others_with_no_key_object() -> None:
    good = public_key_set(FIRST)["keys"][0]
    # A P-384 key whose point is not on the curve: PyJWT cannot build it.
    broken = {**good, "kid": "broken", "y": good["x"]}

    keys = PinnedKeySet.from_document({"keys": [good, broken]}, "test")

    usable = keys.key_for("first")
    unusable = keys.key_for("broken")
    assert usable is not None
    assert unusable is not None
    assert set(usable.key_objects) == {"ES384"}
    assert unusable.key_objects == {}
    assert set(unusable.defects) == {"ES384"}


def test_an_rsa_key_without_alg_serves_each_rsa_algorithm_and_no_other() -> None:
    rsa = {k: v for k, v in public_key_set(SECOND)["keys"][0].items() if k != "alg"}

    key = PinnedKeySet.from_document({"keys": [rsa]}, "test").key_for("second")

    assert key is not None
    assert set(key.key_objects) == {"RS256", "RS384", "RS512"}
