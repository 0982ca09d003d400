"""Where a hook call's CPU goes, by part: the self time of every function, summed by the
package it lives in, over diabetes-risk calls through Flask's test client in one process.

The calls are bench/hook_load.py's (the small chart by default, `--chart synthea-1` for the
whole one), each with a fresh ES384 token, SQLite as `cdss serve` configures it. cProfile adds
a cost per Python call, so parts made of many small Python calls (record building, Flask) look
larger than they are under no profiler; the shares, not the milliseconds, are the point.

Run from the repository root:

    .venv/bin/python bench/hook_profile.py                      # small chart, prints a table
    .venv/bin/python bench/hook_profile.py --chart synthea-1
"""

from __future__ import annotations

import argparse
import cProfile
import json
import logging
import pstats
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from hook_load import SMALL_CHART, TARGET, charts  # noqa: E402
from load import ISSUER, _time_in_process, build_calls  # noqa: E402

# The first rule whose fragment is in a function's file (or name, for built-ins) names its part.
PARTS = (
    ("JSON parsing and writing", ("json/", "orjson", "_json")),
    ("JWT checks (PyJWT, cryptography)", ("/jwt/", "cryptography", "cds_service/auth/")),
    ("database (SQLAlchemy, sqlite3, storage)", ("sqlalchemy", "sqlite3", "cds_service/storage")),
    ("record building and gathering (fhir_adapters)", ("fhir_adapters/",)),
    ("models and explanations (models, numpy, xgboost)", ("/models/", "numpy", "xgboost")),
    ("card rules (cards)", ("/cards/",)),
    ("request validation (pydantic, protocol)", ("pydantic", "cds_service/protocol")),
    ("Flask, Werkzeug, routing, views", ("flask", "werkzeug", "cds_service/web", "click")),
    ("logging and metrics", ("logging", "prometheus", "cds_service/metrics")),
    ("the rest of cds_service", ("cds_service/",)),
)
OTHER = "other (interpreter, standard library)"


def part_of(filename: str, function: str) -> str:
    """The part a profiled function belongs to."""
    where = f"{filename} {function}"
    for part, fragments in PARTS:
        if any(fragment in where for fragment in fragments):
            return part
    return OTHER


def main() -> None:
    """Profile the calls and print the shares."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chart", default=SMALL_CHART, help="a chart of bench/hook_load.py")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--top", type=int, default=0, help="also list the N costliest functions")
    args = parser.parse_args()

    from cds_service.app import create_app
    from cds_service.auth.signing import generate_signing_key, public_key_set
    from cds_service.cli import prepare
    from cds_service.server import settle_after_start
    from cds_service.settings import load_settings

    workdir = Path(tempfile.mkdtemp(prefix="cdss-profile-"))
    key = generate_signing_key("ES384", kid="bench-es384")
    (workdir / "jwks.json").write_text(json.dumps(public_key_set(key)), encoding="utf-8")
    config = workdir / "cdss.toml"
    config.write_text(
        '[server]\npublic_base_url = "http://127.0.0.1:8080"\n'
        f'[storage]\ndatabase_url = "sqlite:///{workdir}/cdss.db"\n'
        f'[[auth.issuers]]\niss = "{ISSUER}"\njwks_file = "{workdir}/jwks.json"\n',
        encoding="utf-8",
    )
    settings = load_settings(config, environ={})
    prepare(settings)
    # As under gunicorn: the service logs every call (to a file, not over the report).
    logging.basicConfig(filename=workdir / "profile.log", level=logging.INFO)
    client = create_app(settings).test_client()
    settle_after_start()
    chart = charts()[args.chart]
    warmup = 20
    calls = build_calls(TARGET, warmup + args.calls, settings.server.public_base_url, key, chart)
    for call in calls[:warmup]:
        _time_in_process(client, call)
    # CPU time, not wall time: a commit's wait for the disk is no CPU (hook_load shows it).
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    statuses = Counter(_time_in_process(client, call)[1] for call in calls[warmup:])
    profiler.disable()

    by_part: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    for (filename, line, function), (_cc, _nc, self_time, _ct, _callers) in stats.items():
        by_part[part_of(filename, function)] += self_time
        by_function[f"{filename}:{line}({function})"] += self_time
    total = sum(by_part.values())
    print(f"{args.calls} calls of {TARGET}, {args.chart}; statuses {dict(statuses)}")
    print(f"CPU under the profiler: {total * 1000 / args.calls:.1f} ms per call\n")
    print("| part | share of self time | ms per call (profiled) |")
    print("|---|---:|---:|")
    for part, seconds in by_part.most_common():
        print(f"| {part} | {seconds / total:.0%} | {seconds * 1000 / args.calls:.2f} |")
    for function, seconds in by_function.most_common(args.top):
        print(f"{seconds * 1000 / args.calls:7.3f} ms  {function}")


if __name__ == "__main__":
    main()
