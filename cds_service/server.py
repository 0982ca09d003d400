"""Running the app under gunicorn: the models loaded once, then worker processes that share them.

The master loads the heavy, read-only parts (risk models, the note reader and its embedder)
before it forks; each worker then builds its own app around them: database engine, HTTP
client, thread pools and caches, which must not cross a fork. Workers are ready in well under
a second, and the models' memory is counted once (docs/benchmarks.md, `bench/startup.py`).
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from cds_service.app import create_app
from cds_service.components import SharedModels
from cds_service.settings import Settings

# A worker holds ~150,000 long-lived objects (models, libraries, settings), and a hook call with
# a full prefetch allocates hundreds of thousands of short-lived ones. With CPython's default
# thresholds the collector runs full collections over all of them in the middle of requests:
# ~100 ms pauses every dozen calls (measured, docs/benchmarks.md). Freezing what start-up built
# and collecting young objects less often removes them; request garbage is acyclic and is
# freed by reference counting anyway.
GC_THRESHOLDS = (50_000, 20, 100)


class CdsGunicornApp(BaseApplication):  # type: ignore[misc]
    """`cdss serve`'s gunicorn: its settings are the service's; bench/floor.py serves the
    floor under the same ones by changing only `load`."""

    def __init__(self, settings: Settings, shared: SharedModels) -> None:
        self._settings = settings
        self._shared = shared
        super().__init__()

    def load_config(self) -> None:
        server = self._settings.server
        options: dict[str, Any] = {
            "bind": f"{server.host}:{server.port}",
            "workers": server.workers,
            # Threads let a worker overlap requests waiting on the FHIR server or the database.
            "worker_class": "gthread",
            "threads": server.threads,
            "timeout": server.request_timeout_seconds,
            "graceful_timeout": 10,
            # The app is built in each worker, after the fork (`load`), around the models the
            # master loaded: no database connection, thread or socket crosses a fork.
            "preload_app": False,
            "accesslog": "-",
            # Method, path, status, size, duration: no query string, headers or client details.
            "access_log_format": '"%(m)s %(U)s" %(s)s %(B)s %(M)sms',
            # gunicorn would believe X-Forwarded-Proto from 127.0.0.1 on its own; the scheme
            # and the client address come only from `[server] trusted_proxies`
            # (cds_service.web.forwarded), so that every request reads them one way.
            "secure_scheme_headers": {},
        }
        # gunicorn 24+ opens a control socket at one fixed path per user; two services on one
        # machine (or a test run) would fight over it, and nothing here uses it.
        if "control_socket_disable" in self.cfg.settings:
            options["control_socket_disable"] = True
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        app = create_app(self._settings, shared=self._shared)
        settle_after_start()
        return app


def settle_after_start() -> None:
    """Set the collector up for serving once start-up is done (see `GC_THRESHOLDS`)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run_gunicorn(settings: Settings, shared: SharedModels) -> None:
    """Serve until stopped, every worker sharing the models the master loaded."""
    configured = settings.server.metrics_directory
    directory = configured or Path(tempfile.mkdtemp(prefix="cdss-metrics-"))
    directory.mkdir(parents=True, exist_ok=True)
    # Samples of an earlier run would be added to this one's.
    for stale in directory.glob("*.db"):
        stale.unlink()
    # prometheus_client reads its multiprocess directory from the environment only; the workers
    # inherit it from here.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)  # noqa: TID251
    server = settings.server.model_copy(update={"metrics_directory": directory})
    master = os.getpid()
    try:
        # What start-up built is never collected: the workers' collectors then leave the
        # shared pages alone (a collection writes to every object it visits).
        gc.collect()
        gc.freeze()
        CdsGunicornApp(settings.model_copy(update={"server": server}), shared).run()
    finally:
        # Workers are forked inside `run` and leave it through here too; only the master, last
        # out, removes the directory.
        if configured is None and os.getpid() == master:
            shutil.rmtree(directory, ignore_errors=True)
