"""The records of a FHIR Bulk Data export and its manifests, read from the server and written out.

Records: `BulkExportRequest` (what to export), `PollPolicy` (how to pace status polls),
`BulkProgress` (where an export stands), `ExportedFile` and `BulkExportResult` (what was
written), and `BulkExportError` with its `BulkFault`, the one error of an export.

Manifests: the server's completion manifest is read and checked here (`read_manifest`,
`output_entries`: JSON with an `output` array, each entry a resource type, a URL on the FHIR
server's own origin, and a count if given), the local file names chosen (`file_names`), the
server's error files weighed (`error_issue_count`), and `manifest.json` written beside the files
(`write_manifest`). Nothing here speaks HTTP; the client in `fhir_adapters.bulk_export` does.
"""

from __future__ import annotations

import enum
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MANIFEST_FILE = "manifest.json"
_DEFAULT_PORTS = {"http": 80, "https": 443}


class BulkFault(enum.Enum):
    """The step of a Bulk export that went wrong."""

    UNREACHABLE = "the FHIR server could not be reached"
    KICKOFF_REFUSED = "the export kick-off was refused"
    EXPORT_FAILED = "the export failed"
    TIMEOUT = "the export did not complete in time"
    MANIFEST_INVALID = "the export manifest is not usable"
    FOREIGN_URL = "the server named a URL on another origin"
    DOWNLOAD_FAILED = "an output file could not be downloaded"
    OUTPUT_UNUSABLE = "the output folder cannot be used"


class BulkExportError(Exception):
    """A Bulk export that could not be completed; `fault` names the step, the message why."""

    def __init__(self, fault: BulkFault, detail: str) -> None:
        super().__init__(f"{fault.value}: {detail}")
        self.fault = fault


@dataclass(frozen=True)
class BulkExportRequest:
    """What to export: the server, an optional Group, resource types, and the access token."""

    base_url: str
    group: str | None = None
    resource_types: tuple[str, ...] = ()
    since: str | None = None
    access_token: str | None = field(default=None, repr=False)
    # How long the server may take to finish the export (polling), in seconds.
    time_limit_seconds: float = 3600.0


@dataclass(frozen=True)
class PollPolicy:
    """How long to wait between status polls: the server's Retry-After, held within bounds."""

    floor_seconds: float = 1.0
    cap_seconds: float = 300.0
    # Without Retry-After the wait doubles from this, as the IG asks of clients (backoff).
    initial_seconds: float = 2.0
    # 429s and transient 5xx answers in a row before the export counts as failed.
    transient_limit: int = 10


@dataclass(frozen=True)
class BulkProgress:
    """Where an export stands, for a progress line: polls, then files and bytes downloaded."""

    polls: int
    server_progress: str = ""
    files_done: int = 0
    files_total: int = 0
    bytes_done: int = 0


@dataclass(frozen=True)
class ExportedFile:
    """One NDJSON file written: its resource type, where, and how many resources it holds."""

    resource_type: str
    path: Path
    resources: int
    size_bytes: int


@dataclass(frozen=True)
class BulkExportResult:
    """A completed export: the server's transaction time, the files written, and their counts."""

    transaction_time: str
    request: str
    files: tuple[ExportedFile, ...]
    error_files: tuple[ExportedFile, ...]
    manifest_path: Path
    polls: int

    def resources_by_type(self) -> dict[str, int]:
        """How many resources of each type were exported."""
        counts: Counter[str] = Counter()
        for exported in self.files:
            counts[exported.resource_type] += exported.resources
        return dict(counts)


@dataclass(frozen=True)
class OutputEntry:
    """One file the server's manifest lists: its resource type, URL, and count if given."""

    resource_type: str
    url: str
    count: int | None


def origin_of(url: str) -> tuple[str, str, int]:
    """A URL's origin (scheme, host, port) as compared for same-origin; ValueError if none."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError("not an absolute http(s) URL")
    return scheme, parts.hostname.lower(), parts.port or _DEFAULT_PORTS[scheme]


def require_same_origin(url: str, base_url: str, what: str) -> None:
    """Refuse (FOREIGN_URL) a URL not on the FHIR server's origin, before the token goes there."""
    try:
        same = origin_of(url) == origin_of(base_url)
    except ValueError:
        same = False
    if not same:
        raise BulkExportError(BulkFault.FOREIGN_URL, f"the {what} is not on the FHIR server")


def prepare_output(output: Path) -> None:
    """Create the output folder, refusing one that already holds an export."""
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BulkExportError(BulkFault.OUTPUT_UNUSABLE, f"{output}: {exc.strerror}") from exc
    # Files of an earlier export would mix with this one's and be read as one population.
    if (output / MANIFEST_FILE).exists() or any(output.glob("*.ndjson")):
        raise BulkExportError(BulkFault.OUTPUT_UNUSABLE, f"{output} holds an earlier export")


def read_manifest(body: bytes) -> dict[str, Any]:
    """The server's completion manifest, which must be a JSON object with an `output` array."""
    try:
        manifest = json.loads(body)
    except ValueError as exc:
        raise BulkExportError(BulkFault.MANIFEST_INVALID, "not JSON") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("output"), list):
        raise BulkExportError(BulkFault.MANIFEST_INVALID, "no output array")
    return manifest


def output_entries(manifest: dict[str, Any], key: str, base_url: str) -> list[OutputEntry]:
    """The manifest's `output` or `error` files, each checked, every URL on the FHIR server."""
    entries = []
    for index, item in enumerate(manifest.get(key) or []):
        where = f"{key}[{index}]"
        if not isinstance(item, dict):
            raise BulkExportError(BulkFault.MANIFEST_INVALID, f"{where} is not an object")
        resource_type, url, count = item.get("type"), item.get("url"), item.get("count")
        if not isinstance(resource_type, str) or not resource_type.isalpha():
            raise BulkExportError(BulkFault.MANIFEST_INVALID, f"{where}.type is not a type")
        if not isinstance(url, str):
            raise BulkExportError(BulkFault.MANIFEST_INVALID, f"{where}.url is missing")
        if count is not None and (not isinstance(count, int) or count < 0):
            raise BulkExportError(BulkFault.MANIFEST_INVALID, f"{where}.count is not a count")
        require_same_origin(url, base_url, f"{where}.url")
        entries.append(OutputEntry(resource_type, url, count))
    return entries


def file_names(entries: list[OutputEntry]) -> list[str]:
    """Local names: `<Type>.ndjson` for a type's only file, else `<Type>.NNN.ndjson` in order."""
    totals = Counter(entry.resource_type for entry in entries)
    seen: Counter[str] = Counter()
    names = []
    for entry in entries:
        kind = entry.resource_type
        names.append(f"{kind}.ndjson" if totals[kind] == 1 else f"{kind}.{seen[kind]:03d}.ndjson")
        seen[kind] += 1
    return names


def error_issue_count(path: Path) -> int:
    """Issues of severity error or fatal in an error file (warnings are kept, not counted)."""
    failed = 0
    with path.open("rb") as lines:
        for line in lines:
            try:
                outcome = json.loads(line)
            except ValueError:
                failed += 1  # unreadable: assume the worst
                continue
            issues = outcome.get("issue") if isinstance(outcome, dict) else None
            for issue in issues or []:
                if isinstance(issue, dict) and issue.get("severity") in ("error", "fatal"):
                    failed += 1
    return failed


def write_manifest(result: BulkExportResult, request: BulkExportRequest) -> None:
    """Write `manifest.json` beside the files: every file with its type, count and size."""

    def listed(files: tuple[ExportedFile, ...]) -> list[dict[str, Any]]:
        return [
            {
                "type": f.resource_type,
                "file": f.path.name,
                "count": f.resources,
                "bytes": f.size_bytes,
            }
            for f in files
        ]

    document = {
        "transactionTime": result.transaction_time,
        "request": result.request,
        "fhirServer": request.base_url,
        "group": request.group,
        "types": list(request.resource_types),
        "output": listed(result.files),
        "error": listed(result.error_files),
    }
    partial = result.manifest_path.with_name(MANIFEST_FILE + ".part")
    partial.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    partial.replace(result.manifest_path)
