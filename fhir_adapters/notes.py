"""The text of clinical notes: DocumentReference attachments and DiagnosticReport text.

An attachment's bytes come base64-encoded in `data`, or from its `url` (fetched from the FHIR
server beforehand, see `gathering`). They are decoded with the charset the content type names
(UTF-8 when it names none; a UTF-16 byte-order mark is honoured). `text/plain` is used as it is,
`text/html` without its markup; any other type is listed in the record's data issues. Escaped
newlines ("\\n" written out as two characters, as some interfaces do) become real ones.

A note is dated by the care it documents (`context.period`, `effective[x]`), not by when its
resource was made, since the newest note decides what the summary says.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser

from fhir_adapters.fhir_values import (
    Resource,
    concept_text,
    parse_date_time,
    period_start,
    reference_of,
)
from fhir_adapters.patient_record import ClinicalNote, DataIssue

PLAIN_TEXT = "text/plain"
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_WITHDRAWN = frozenset({"entered-in-error", "superseded"})
_ESCAPED_BREAKS = re.compile(r"\\r\\n|\\n|\\r")
_BLANK_RUNS = re.compile(r"\n{3,}")
_BLOCK_TAGS = frozenset(
    {"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"}
)


class NoteUnreadable(ValueError):
    """An attachment whose text cannot be had; the message says why."""


@dataclass(frozen=True)
class NotePart:
    """One attachment (or text element) of a note, before decoding."""

    element: str
    attachment: Mapping[str, object] | None
    text: str | None = None


def note_parts(resource: Resource) -> Iterator[NotePart]:
    """The attachments and text elements of a DocumentReference or DiagnosticReport."""
    if resource.get("resourceType") == "DocumentReference":
        for index, content in enumerate(resource.get("content") or ()):
            if isinstance(content, Mapping) and isinstance(content.get("attachment"), Mapping):
                yield NotePart(f"content[{index}].attachment", content["attachment"])
        return
    conclusion = resource.get("conclusion")
    if isinstance(conclusion, str) and conclusion.strip():
        yield NotePart("conclusion", None, conclusion)
    for index, attachment in enumerate(resource.get("presentedForm") or ()):
        if isinstance(attachment, Mapping):
            yield NotePart(f"presentedForm[{index}]", attachment)


def read_notes(
    resource: Resource,
    fetched: Mapping[str, Mapping[str, object]],
    fetch_errors: Mapping[str, str],
) -> tuple[list[ClinicalNote], list[DataIssue]]:
    """The readable texts of one note resource, and an issue for each unreadable attachment.

    `fetched` maps attachment URLs to the Binary resources read from the FHIR server, and
    `fetch_errors` those that could not be read to the reason.
    """
    status = resource.get("status")
    # A status that is not a code (a list, an object) cannot be looked up: not withdrawn.
    if (isinstance(status, str) and status in _WITHDRAWN) or resource.get(
        "docStatus"
    ) == "entered-in-error":
        return [], []
    source = reference_of(resource)
    notes: list[ClinicalNote] = []
    issues: list[DataIssue] = []
    for part in note_parts(resource):
        try:
            content_type, text = _part_text(part, fetched, fetch_errors)
        except NoteUnreadable as exc:
            issues.append(DataIssue(f"{source}.{part.element}", str(exc)))
            continue
        if text:
            notes.append(
                ClinicalNote(
                    source=source,
                    element=part.element,
                    date=_note_date(resource),
                    title=_title(resource),
                    content_type=content_type,
                    text=text,
                )
            )
    return notes, issues


def _part_text(
    part: NotePart,
    fetched: Mapping[str, Mapping[str, object]],
    fetch_errors: Mapping[str, str],
) -> tuple[str, str]:
    if part.text is not None:
        return PLAIN_TEXT, normalise(part.text)
    attachment = part.attachment or {}
    content_type = attachment.get("contentType")
    data = attachment.get("data")
    url = attachment.get("url")
    if data is None and isinstance(url, str):
        binary = fetched.get(url)
        if binary is None:
            reason = fetch_errors.get(url, "it was not read")
            raise NoteUnreadable(f"the attachment at '{url}' could not be read: {reason}")
        data = binary.get("data")
        content_type = content_type or binary.get("contentType")
    if not isinstance(content_type, str):
        raise NoteUnreadable("no content type")
    media_type, charset = parse_content_type(content_type)
    if media_type != PLAIN_TEXT and media_type not in HTML_TYPES:
        raise NoteUnreadable(f"content type '{media_type}' is not supported")
    if not isinstance(data, str):
        raise NoteUnreadable("no data")
    text = decode(data, charset)
    if media_type in HTML_TYPES:
        text = html_to_text(text)
    return media_type, normalise(text)


def parse_content_type(content_type: str) -> tuple[str, str | None]:
    """The media type, lower case, and the charset parameter if there is one."""
    media_type, *parameters = (piece.strip() for piece in content_type.split(";"))
    charset = None
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    return media_type.lower(), charset


def decode(data: str, charset: str | None) -> str:
    """Base64 attachment data as text in its charset."""
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteUnreadable("the data is not valid base64") from exc
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        charset = "utf-16"
    name = charset or "utf-8"
    try:
        codecs.lookup(name)
    except LookupError as exc:
        raise NoteUnreadable(f"unknown charset '{name}'") from exc
    try:
        return raw.decode(name).lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise NoteUnreadable(f"the data is not valid {name}") from exc


def normalise(text: str) -> str:
    """Real line breaks for escaped ones, Unix line ends, no trailing blank runs."""
    text = _ESCAPED_BREAKS.sub("\n", text).replace("\r\n", "\n").replace("\r", "\n")
    lines = (line.rstrip() for line in text.split("\n"))
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/> is one line break, not an opening and a closing one.
        if tag in _BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.pieces.append(data)


def html_to_text(html: str) -> str:
    """The text of an HTML note, one line per block element."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    return "".join(collector.pieces)


def _note_date(resource: Resource) -> datetime | None:
    """When the care the note documents took place, else when the note was written or released.

    FHIR R4: a DocumentReference's `context.period` is the time of the service documented and
    its `date` when the reference was created (a bulk load can stamp a chart's notes alike); a
    DiagnosticReport's `effective[x]` is the clinically relevant time and `issued` its release.
    """
    if resource.get("resourceType") == "DocumentReference":
        context = resource.get("context")
        period = context.get("period") if isinstance(context, Mapping) else None
        return period_start(period) or parse_date_time(resource.get("date"))
    return (
        parse_date_time(resource.get("effectiveDateTime"))
        or period_start(resource.get("effectivePeriod"))
        or parse_date_time(resource.get("issued"))
    )


def _title(resource: Resource) -> str:
    title = concept_text(resource.get("type")) or concept_text(resource.get("code"))
    if title:
        return title
    description = resource.get("description")
    return description if isinstance(description, str) else resource.get("resourceType", "")


def attachment_urls(resource: Resource) -> Iterator[str]:
    """URLs of attachments whose bytes are not inline, so must be fetched."""
    for part in note_parts(resource):
        attachment = part.attachment
        if attachment is not None and attachment.get("data") is None:
            url = attachment.get("url")
            if isinstance(url, str) and url:
                yield url
