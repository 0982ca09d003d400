"""What verifying one hook call's ES384 JWT costs, in process: this tree against a baseline commit.

"now" is the service's own verifier, built as `cdss serve` builds it: an issuer from
`IssuerSettings` with a pinned key set, made a `TrustedIssuer` by `cds_service.components`, and
`CdsJwtVerifier` with the default `AuthSettings`. "before" is the verifier and key sets of
`BASELINE_COMMIT` (read with `git show`, loaded beside this tree's), with the same pinned key set
and settings. The two run in alternating batches in one process, so that other work on the
machine weighs on both alike. Each has an in-memory replay guard (it still refuses a replay):
the SQLite write of the `jti` (bench/hook_costs.py) is left out and the timing is the
verification alone. Tokens are signed outside the timings.

Run from the repository root: `.venv/bin/python bench/jwt_verify.py`, with
`--write docs/benchmarks.md` to record the result.
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import timeit
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import httpx
import jwt

from cds_service.access_settings import AuthSettings, IssuerSettings
from cds_service.auth.cds_jwt import CdsJwtVerifier
from cds_service.auth.signing import generate_signing_key, public_key_set, sign_cds_token
from cds_service.components import _trusted_issuer

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from report import emit  # noqa: E402

# Before the token was read unverified once and the key objects built once per key set version.
BASELINE_COMMIT = "07223be"
ISSUER = "https://ehr.example.test"
AUDIENCE = "http://127.0.0.1:8080/cds-services/diabetes-risk"
ALGORITHM = "ES384"
TOKENS_PER_BATCH = 400
ROUNDS = 15
# Above this 1-minute load average per core, other work shared the CPU with the timings.
LOADED_PER_CORE = 0.3


class Verifier(Protocol):
    """A CDS Hooks JWT verifier, of this tree or of the baseline."""

    def verify(self, token: str, audience: str) -> object:
        """The verified caller, or `AuthenticationFailed`."""


class InMemoryReplayGuard:
    """Refuses a token id seen before, without a database."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()

    def consume(self, issuer: str, jti: str, expires_at: datetime) -> bool:
        """False when the token id was seen before (the baseline commit's verifier calls it)."""
        if (issuer, jti) in self._seen:
            return False
        self._seen.add((issuer, jti))
        return True

    def spent(self, issuer: str, jti: str) -> bool:
        """True when the token id was seen before (this tree's verifier only reads; here the
        read also remembers, as the baseline's `consume` does, so both do the same work)."""
        return not self.consume(issuer, jti, datetime.max)


def service_verifier(public_jwks: dict[str, Any], client: httpx.Client) -> CdsJwtVerifier:
    """This tree's verifier for one issuer with a pinned key set, built as the service does."""
    auth = AuthSettings(issuers=(IssuerSettings(iss=ISSUER, jwks=public_jwks),))
    issuers = {issuer.iss: _trusted_issuer(issuer, auth, client) for issuer in auth.issuers}
    return CdsJwtVerifier(
        issuers,
        InMemoryReplayGuard(),
        clock_skew_seconds=auth.clock_skew_seconds,
        max_token_lifetime_seconds=auth.max_token_lifetime_seconds,
    )


def _baseline_module(name: str, path: str, folder: Path) -> ModuleType:
    source = subprocess.run(
        ["git", "show", f"{BASELINE_COMMIT}:{path}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    file = folder / f"{name}.py"
    file.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path} of {BASELINE_COMMIT}")
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up by name while the class is made.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def baseline_verifier(public_jwks: dict[str, Any], folder: Path) -> Verifier:
    """The baseline commit's verifier, with the same pinned key set and default settings."""
    key_sets = _baseline_module("baseline_key_sets", "cds_service/auth/key_sets.py", folder)
    cds_jwt = _baseline_module("baseline_cds_jwt", "cds_service/auth/cds_jwt.py", folder)
    auth = AuthSettings()
    keys = key_sets.PinnedKeySet.from_document(public_jwks, "baseline")
    verifier: Verifier = cds_jwt.CdsJwtVerifier(
        {ISSUER: cds_jwt.TrustedIssuer(ISSUER, keys, {})},
        InMemoryReplayGuard(),
        clock_skew_seconds=auth.clock_skew_seconds,
        max_token_lifetime_seconds=auth.max_token_lifetime_seconds,
    )
    return verifier


def microseconds_per_verification(verifier: Verifier, tokens: list[str]) -> float:
    """The mean time the verifier takes over these tokens, each verified once."""
    remaining = iter(tokens)
    seconds = timeit.timeit(lambda: verifier.verify(next(remaining), AUDIENCE), number=len(tokens))
    return seconds / len(tokens) * 1e6


def key_object_microseconds(public_jwk: dict[str, Any]) -> float:
    """Microseconds to build one P-384 key object from its JWK, what the baseline paid per call."""
    number = 2000
    seconds = timeit.timeit(lambda: jwt.PyJWK(dict(public_jwk), algorithm=ALGORITHM), number=number)
    return seconds / number * 1e6


def measure() -> tuple[dict[str, list[float]], float]:
    """µs per verification for each batch of "before" and "now"; and one key object's µs."""
    signing_key = generate_signing_key(ALGORITHM, kid="bench-es384")
    public_jwks = public_key_set(signing_key)
    timings: dict[str, list[float]] = {"before": [], "now": []}
    with tempfile.TemporaryDirectory() as folder, httpx.Client() as client:
        # The client serves fetched key sets only: a pinned set never uses it.
        verifiers = {
            "before": baseline_verifier(public_jwks, Path(folder)),
            "now": service_verifier(public_jwks, client),
        }
        for round_number in range(ROUNDS):
            # Alternate which goes first, so neither always follows the signing.
            order = ("before", "now") if round_number % 2 == 0 else ("now", "before")
            for name in order:
                tokens = [
                    sign_cds_token(signing_key, issuer=ISSUER, audience=AUDIENCE)
                    for _ in range(TOKENS_PER_BATCH)
                ]
                timings[name].append(microseconds_per_verification(verifiers[name], tokens))
    return timings, key_object_microseconds(public_jwks["keys"][0])


def main() -> None:
    """Measure; print the section, and write it with `--write FILE`."""
    cores = os.cpu_count() or 1
    load_at_start = os.getloadavg()[0]
    timings, key_object = measure()
    load_at_end = os.getloadavg()[0]
    before, now = (statistics.median(timings[name]) for name in ("before", "now"))
    paired = statistics.median(
        n / b for b, n in zip(timings["before"], timings["now"], strict=True)
    )
    rows = [
        ("before", f"`{BASELINE_COMMIT}`: token read unverified twice, key object built per call"),
        ("now", "token read unverified once, key objects built with the key set"),
    ]
    lines = [
        "## JWT verification",
        "",
        "Command: `.venv/bin/python bench/jwt_verify.py --write docs/benchmarks.md` "
        f"({ROUNDS} rounds; in each, a batch of {TOKENS_PER_BATCH} fresh {ALGORITHM} tokens "
        "verified by each verifier, in alternating order; one process)",
        "",
        "| verifier | µs per verification, median batch | fastest batch | slowest batch |",
        "|---|---:|---:|---:|",
        *(
            f"| {name} ({what}) | {statistics.median(timings[name]):.0f} "
            f"| {min(timings[name]):.0f} | {max(timings[name]):.0f} |"
            for name, what in rows
        ),
        "",
        f"now / before: {now / before:.2f} (medians), {paired:.2f} (median of the rounds' ratios).",
        f"1-minute load average: {load_at_start:.2f} at the start, {load_at_end:.2f} at the end, "
        f"on {cores} cores.",
        "",
        '"now" is `CdsJwtVerifier` built as `cdss serve` builds it (pinned key set, default',
        '`[auth]` settings); "before" is the same files at the baseline commit, loaded beside',
        "it. Both use an in-memory replay guard, so the `jti` write is left out.",
        f"Building one P-384 key object from its JWK costs {key_object:.0f} µs on this run; it",
        "is now paid when a key set is loaded or fetched. The ECDSA P-384 signature check and",
        "the verified decode, which reads the token again, are what remains.",
    ]
    if max(load_at_start, load_at_end) / cores > LOADED_PER_CORE:
        lines += [
            "",
            f"The machine was loaded by other work during this run (load average above "
            f"{LOADED_PER_CORE} per core): the absolute times are high and noisy; the ratio, "
            "taken in alternating batches, is the figure to read.",
        ]
    emit("\n".join(lines), REPO)


if __name__ == "__main__":
    main()
