"""A FHIR Bulk Data Access (IG 2.0.0) client: a system- or Group-level `$export` to a folder.

This module holds the client: kick-off, status polls, downloads, and the one translation of
httpx's exceptions into `BulkExportError`. The records it takes and returns, the fault type, and
the reading and writing of manifests are in `fhir_adapters.bulk_manifest`.

The walk: kick-off (`GET [base]/$export` or `[base]/Group/{id}/$export` with
`Prefer: respond-async`, answered 202 with the status URL in `Content-Location`); status polls
(202 with `Retry-After` and `X-Progress` while the server works, 429 or a transient 5xx to be
tried again later, 200 with the completion manifest at the end); then each `output` file
streamed to disk, and a DELETE of the status URL to tell the server it may drop its files.

Files: one output file of a type becomes `<output>/<Type>.ndjson`; several of one type become
`<Type>.000.ndjson`, `<Type>.001.ndjson`, ... in the manifest's order, so a reader never has to
merge or guess. `manifest.json` beside them names every file with its type and count; the
server's `error` files (OperationOutcome NDJSON) are kept as `errors.NNN.ndjson`.

Every fault is one `BulkExportError` whose `fault` says which step failed. Its message is safe
to print: the token never appears in it, nor any resource; the server's OperationOutcome is
quoted only for a refused kick-off or a failed export, whose text is about the job. The token
goes to the FHIR server's own origin and nowhere else: a status or file URL on another origin is
refused before anything is sent there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

from fhir_adapters.bulk_manifest import (
    MANIFEST_FILE,
    BulkExportError,
    BulkExportRequest,
    BulkExportResult,
    BulkFault,
    BulkProgress,
    ExportedFile,
    OutputEntry,
    PollPolicy,
    error_issue_count,
    file_names,
    output_entries,
    prepare_output,
    read_manifest,
    require_same_origin,
    write_manifest,
)

FHIR_JSON = "application/fhir+json"
FHIR_NDJSON = "application/fhir+ndjson"
PREFER_ASYNC = "respond-async"
# OperationOutcome issue codes (IssueType) that say "try the status request again later".
TRANSIENT_ISSUE_CODES = frozenset({"transient", "throttled", "timeout", "lock-error"})
_QUOTED_TEXT_LIMIT = 200
# A download reports its bytes each time it passes another step, not on every chunk.
PROGRESS_STEP_BYTES = 4 * 1024 * 1024


@contextmanager
def _translated(fault: BulkFault) -> Iterator[None]:
    """The one place httpx's exceptions become `BulkExportError` (named by class, no URL)."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise BulkExportError(fault, f"no answer in time ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        kind = BulkFault.UNREACHABLE if fault is not BulkFault.DOWNLOAD_FAILED else fault
        raise BulkExportError(kind, f"transport error ({type(exc).__name__})") from exc
    except httpx.HTTPError as exc:
        raise BulkExportError(fault, f"HTTP error ({type(exc).__name__})") from exc


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """The wait a Retry-After header asks for (delay-seconds or an HTTP-date), None if unusable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def outcome_text(body: bytes) -> str:
    """An OperationOutcome's issues as `code: text; ...`, shortened; '' if it is not one."""
    try:
        outcome = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(outcome, dict) or outcome.get("resourceType") != "OperationOutcome":
        return ""
    parts = []
    for issue in outcome.get("issue") or []:
        if not isinstance(issue, dict):
            continue
        details = issue.get("details")
        text = issue.get("diagnostics") or (
            details.get("text") if isinstance(details, dict) else ""
        )
        parts.append(f"{issue.get('code', 'unknown')}: {text}" if text else str(issue.get("code")))
    joined = "; ".join(parts)
    return joined if len(joined) <= _QUOTED_TEXT_LIMIT else joined[:_QUOTED_TEXT_LIMIT] + "..."


def _issue_codes(body: bytes) -> set[str]:
    try:
        outcome = json.loads(body)
        return {str(issue.get("code")) for issue in outcome.get("issue") or []}
    except (ValueError, AttributeError):
        return set()


def _refusal(fault: BulkFault, response: httpx.Response) -> BulkExportError:
    said = outcome_text(response.read())
    return BulkExportError(fault, f"HTTP {response.status_code}" + (f" ({said})" if said else ""))


class BulkExportClient:
    """Runs Bulk exports over an injected HTTP client; `sleep` and `clock` only pace polling."""

    def __init__(
        self,
        http: httpx.Client,
        policy: PollPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http = http
        self.policy = policy or PollPolicy()
        self.sleep = sleep
        self.clock = clock

    def export(
        self,
        request: BulkExportRequest,
        output: Path,
        progress: Callable[[BulkProgress], None] | None = None,
    ) -> BulkExportResult:
        """Kick off, wait for, and download one export into `output` (created if missing)."""
        report = progress or (lambda _: None)
        prepare_output(output)
        status_url = self._kick_off(request)
        manifest, polls = self._await_manifest(request, status_url, report)
        entries = output_entries(manifest, "output", request.base_url)
        errors = output_entries(manifest, "error", request.base_url)
        token = request.access_token if manifest.get("requiresAccessToken", True) else None
        names = file_names(entries) + [f"errors.{n:03d}.ndjson" for n in range(len(errors))]
        tally = BulkProgress(polls, files_total=len(names))
        written = []
        for entry, name in zip(entries + errors, names, strict=True):
            exported, tally = self._download(entry, output / name, token, tally, report)
            written.append(exported)
        files, error_files = written[: len(entries)], written[len(entries) :]
        self._release(status_url, request.access_token)
        manifest_path = output / MANIFEST_FILE
        result = BulkExportResult(
            transaction_time=str(manifest.get("transactionTime", "")),
            request=str(manifest.get("request", "")),
            files=tuple(files),
            error_files=tuple(error_files),
            manifest_path=manifest_path,
            polls=polls,
        )
        write_manifest(result, request)
        failed = sum(error_issue_count(exported.path) for exported in error_files)
        if failed:
            raise BulkExportError(
                BulkFault.EXPORT_FAILED,
                f"the server could not export every resource ({failed} error issues, "
                f"in {error_files[0].path.parent}/errors.*.ndjson)",
            )
        return result

    def _headers(self, token: str | None, accept: str = FHIR_JSON) -> dict[str, str]:
        headers = {"Accept": accept}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _kick_off(self, request: BulkExportRequest) -> str:
        base = request.base_url.rstrip("/")
        url = f"{base}/Group/{request.group}/$export" if request.group else f"{base}/$export"
        params: dict[str, str] = {"_outputFormat": FHIR_NDJSON}
        if request.resource_types:
            params["_type"] = ",".join(request.resource_types)
        if request.since:
            params["_since"] = request.since
        headers = {**self._headers(request.access_token), "Prefer": PREFER_ASYNC}
        with _translated(BulkFault.KICKOFF_REFUSED):
            response = self.http.get(url, params=params, headers=headers)
        if response.status_code != 202:
            raise _refusal(BulkFault.KICKOFF_REFUSED, response)
        location = response.headers.get("Content-Location")
        if not location:
            raise BulkExportError(BulkFault.KICKOFF_REFUSED, "202 without a Content-Location")
        status_url = urljoin(str(response.url), str(location))
        require_same_origin(status_url, request.base_url, "status URL")
        return status_url

    def _await_manifest(
        self,
        request: BulkExportRequest,
        status_url: str,
        report: Callable[[BulkProgress], None],
    ) -> tuple[dict[str, Any], int]:
        deadline = self.clock() + request.time_limit_seconds
        polls = transient = backoffs = 0
        while True:
            with _translated(BulkFault.EXPORT_FAILED):
                response = self.http.get(status_url, headers=self._headers(request.access_token))
            polls += 1
            status = response.status_code
            if status == 200:
                return read_manifest(response.content), polls
            asked = retry_after_seconds(response.headers.get("Retry-After"))
            if status == 202:
                transient = 0
                shown = "".join(
                    ch for ch in response.headers.get("X-Progress", "") if ch.isprintable()
                )
                report(BulkProgress(polls, shown[:60]))
            elif status == 429 or (
                status >= 500
                and (asked is not None or _issue_codes(response.content) & TRANSIENT_ISSUE_CODES)
            ):
                transient += 1
                if transient > self.policy.transient_limit:
                    raise _refusal(BulkFault.EXPORT_FAILED, response)
            else:
                raise _refusal(BulkFault.EXPORT_FAILED, response)
            if asked is None:
                asked = self.policy.initial_seconds * 2**backoffs
                backoffs += 1
            wait = min(self.policy.cap_seconds, max(self.policy.floor_seconds, asked))
            if self.clock() + wait > deadline:
                self._release(status_url, request.access_token)
                raise BulkExportError(
                    BulkFault.TIMEOUT,
                    f"not complete after {polls} status polls within "
                    f"{request.time_limit_seconds:g} s (export cancelled)",
                )
            self.sleep(wait)

    def _download(
        self,
        entry: OutputEntry,
        path: Path,
        token: str | None,
        tally: BulkProgress,
        report: Callable[[BulkProgress], None],
    ) -> tuple[ExportedFile, BulkProgress]:
        partial = path.with_name(path.name + ".part")
        lines = size = 0
        last = b"\n"
        headers = self._headers(token, accept=FHIR_NDJSON)
        with (
            _translated(BulkFault.DOWNLOAD_FAILED),
            partial.open("wb") as sink,
            self.http.stream("GET", entry.url, headers=headers) as response,
        ):
            if response.status_code != 200:
                raise _refusal(BulkFault.DOWNLOAD_FAILED, response)
            for chunk in response.iter_bytes():
                sink.write(chunk)
                lines += chunk.count(b"\n")
                last = chunk[-1:] or last
                if (size + len(chunk)) // PROGRESS_STEP_BYTES > size // PROGRESS_STEP_BYTES:
                    report(replace(tally, bytes_done=tally.bytes_done + size + len(chunk)))
                size += len(chunk)
        # A last resource without its newline still counts.
        resources = lines + (1 if size and last != b"\n" else 0)
        if entry.count is not None and entry.count != resources:
            raise BulkExportError(
                BulkFault.MANIFEST_INVALID,
                f"{path.name} holds {resources} resources, the manifest says {entry.count}",
            )
        partial.replace(path)
        tally = replace(tally, files_done=tally.files_done + 1, bytes_done=tally.bytes_done + size)
        report(tally)
        return ExportedFile(entry.resource_type, path, resources, size), tally

    def _release(self, status_url: str, token: str | None) -> None:
        """DELETE the status URL: the server may drop the job's files (best effort)."""
        # The export is done or abandoned either way; a server that misses this expires it.
        with suppress(httpx.HTTPError):
            self.http.delete(status_url, headers=self._headers(token))
