"""Median in-process time of diabetes-risk and hypertension-risk calls, for old/new comparisons.

The same requests as bench/load.py's in-process phase (the full Synthea prefetch, a fresh JWT per
call), timed through Flask's test client in one process. Run it on two trees, interleaved, to
tell a change's cost from the machine's run-to-run variation:

    git worktree add /tmp/before <commit>
    PYTHONPATH=/tmp/before .venv/bin/python bench/in_process_median.py   # the old code
    .venv/bin/python bench/in_process_median.py                          # this tree

(`PYTHONPATH` puts the old tree's packages ahead of the editable install.) Prints which tree it
imported and the median milliseconds per service.
"""

from __future__ import annotations

import json
import logging
import statistics
import sys
import tempfile
from pathlib import Path

import cds_service.app  # before tests/ is on the path: tests/cds_service would shadow it

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests"))
import load  # noqa: E402

from cds_service.auth.signing import generate_signing_key, public_key_set  # noqa: E402
from cds_service.cli import prepare  # noqa: E402
from cds_service.server import settle_after_start  # noqa: E402
from cds_service.settings import load_settings  # noqa: E402

WARMUP, CALLS = 30, 300


def main() -> None:
    print("code from", Path(cds_service.app.__file__).parent)
    workdir = Path(tempfile.mkdtemp(prefix="cdss-median-"))
    key = generate_signing_key("ES384")
    (workdir / "jwks.json").write_text(json.dumps(public_key_set(key)))
    config = workdir / "cdss.toml"
    config.write_text(
        '[server]\npublic_base_url = "http://127.0.0.1:8080"\n'
        f'[storage]\ndatabase_url = "sqlite:///{workdir}/cdss.db"\n'
        '[notes]\nembedder = "tfidf"\n'
        f'[[auth.issuers]]\niss = "{load.ISSUER}"\njwks_file = "{workdir}/jwks.json"\n'
    )
    settings = load_settings(config, environ={})
    prepare(settings)
    client = cds_service.app.create_app(settings).test_client()
    logging.disable(logging.INFO)
    settle_after_start()
    for target in ("diabetes-risk", "hypertension-risk"):
        calls = load.build_calls(target, WARMUP + CALLS, settings.server.public_base_url, key)
        for call in calls[:WARMUP]:
            load._time_in_process(client, call)
        timings = [load._time_in_process(client, call)[0] for call in calls[WARMUP:]]
        print(f"{target}: median {statistics.median(timings):.2f} ms over {CALLS} calls")


if __name__ == "__main__":
    main()
