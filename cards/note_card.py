"""The `note-summary` card: what the recent notes say, quoted, with where each quote is from.

The summary line names the problems the notes assert as present; where none is, it says what
the notes do hold (findings to watch for, then past ones) rather than claiming nothing is
named. The detail quotes each excerpt verbatim (escaped only so Markdown shows it as written),
grouped by section, with the note's title, date and id, then lists every problem mentioned by
how the notes assert it, each once, with the note whose statement decided it.
Notes the gathering set aside as not this patient's (`fhir_adapters.patient_links`) are counted
in the data notes' own words ("Set aside: 1 note not linked to this patient"), never quoted; when
every note was set aside, the card says so rather than being left out as for a chart without
notes. The count is this call's, not the summary's: it is passed in per call and never stored.
Like the risk cards, a summary a clinician overrode is held back for the site's
`suppress_overridden_days` (90 by default), as the README promises: an override says "not for
this patient", and showing it again on every chart opening would teach clinicians to ignore it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from cards.card_parts import IssuedCard, build_card, source
from cards.cds_card import SUMMARY_MAX_CHARACTERS, Indicator
from cards.explanation import data_issue_lines
from cards.policy import FeedbackHistory
from fhir_adapters.patient_record import DataIssue
from models.note_analysis import MAX_NOTE_CHARACTERS
from models.note_summary import Excerpt, NoteSummary, ProblemMentions

NOTE_SUMMARY = "note-summary"
NOTE_TYPES = ("DocumentReference", "DiagnosticReport")
# An unread note's issue path names the note ("DocumentReference/9.content[0]"); a set-aside
# issue's path is its resource type alone (`fhir_adapters.patient_links.set_aside_issues`).
NOTE_RESOURCES = tuple(f"{note_type}/" for note_type in NOTE_TYPES)
TOPIC = "note-summary"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+|!~])")
_PROBLEM_LISTS = (
    ("present", "Present"),
    ("denied", "Denied or ruled out"),
    ("possible", "Possible or to watch for"),
    ("historical", "In the past"),
    ("family", "In the family"),
)


def _quote(text: str) -> str:
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return "\n".join(f"> {line}" for line in escaped.splitlines())


def _section_title(section: str) -> str:
    return section.replace("_", " ").capitalize()


def _provenance(excerpt: Excerpt) -> str:
    when = excerpt.note_date.isoformat() if excerpt.note_date else "undated"
    return f"{excerpt.note_title}, {when} (`{excerpt.source}`)"


def _fitted(head: str, label: str, concepts: Sequence[str]) -> str | None:
    """`head: label a, b, c` with as many concepts as fit the CDS Hooks limit, or None."""
    named = list(concepts)
    while named:
        line = f"{head}: {label}{', '.join(named)}"
        if len(line) <= SUMMARY_MAX_CHARACTERS:
            return line
        named.pop()
    return None


def _with_news(problems: ProblemMentions, summary: NoteSummary, concept: str) -> str:
    """ "hypertension (new)" when first named at the latest visit, after older notes."""
    where = problems.source_of(concept)
    if where is None or summary.since is None or summary.latest is None:
        return concept
    new = where.first_noted == summary.latest and summary.latest > summary.since
    return f"{concept} (new)" if new else concept


def summary_line(summary: NoteSummary) -> str:
    """ "4 notes since 2024-01-03: type 2 diabetes, CKD stage 3, hypertension", under 140.

    Present problems first, "(new)" where first named at the latest visit after older notes;
    without one, what the notes do name: findings to watch for, then past ones ("none stated
    as current; in the past: prediabetes, anemia").
    """
    notes = f"{summary.note_count} note{'s' if summary.note_count != 1 else ''}"
    since = f" since {summary.since.isoformat()}" if summary.since else ""
    head = f"{notes}{since}"
    problems = summary.problems
    for label, concepts in (
        ("", [_with_news(problems, summary, concept) for concept in problems.present]),
        ("none stated as current; to watch for: ", problems.possible),
        ("none stated as current; in the past: ", problems.historical),
    ):
        line = _fitted(head, label, concepts)
        if line is not None:
            return line
    return f"{head}: no current problem named"


def _problem_list(problems: ProblemMentions, concepts: Sequence[str]) -> str:
    """ "hypertension, diabetes (Progress note, 2026-04-14); anemia (H&P, 2025-12-21)"."""
    groups: list[tuple[str, list[str]]] = []
    for concept in concepts:
        where = problems.source_of(concept)
        label = (
            ""
            if where is None
            else f"{where.note_title}, "
            f"{where.note_date.isoformat() if where.note_date else 'undated'}"
        )
        if groups and groups[-1][0] == label:
            groups[-1][1].append(concept)
        else:
            groups.append((label, [concept]))
    return "; ".join(
        f"{', '.join(named)} ({label})" if label else ", ".join(named) for label, named in groups
    )


def unread_notes(issues: Sequence[DataIssue]) -> list[DataIssue]:
    """The record's issues that are notes the adapter could not read (format, encoding, URL)."""
    return [issue for issue in issues if issue.path.startswith(NOTE_RESOURCES)]


def set_aside_notes(issues: Sequence[DataIssue]) -> list[DataIssue]:
    """The record's issues that are notes or reports set aside as not this patient's."""
    return [issue for issue in issues if issue.path in NOTE_TYPES]


def _not_read_lines(unread: Sequence[DataIssue]) -> list[str]:
    # Plain words for the clinician; the path and the reason are the integrator's (the log).
    count = len(unread)
    if not count:
        return []
    return [
        f"**Not read:** {count} note{'s' if count != 1 else ''} in the chart could not be read "
        f"here (format or address); open {'them' if count != 1 else 'it'} in the EHR."
    ]


def _unsummarised_line(set_aside: Sequence[DataIssue], unread: Sequence[DataIssue]) -> str:
    """ "Set aside: 2 notes not linked to this patient; 1 note could not be read", under 140."""
    count = len(unread)
    said = [issue.for_clinician for issue in set_aside]
    if count:
        said.append(f"{count} note{'s' if count != 1 else ''} could not be read")
    line, shown = "; ".join(said), len(said)
    while len(line) > SUMMARY_MAX_CHARACTERS and shown > 1:
        shown -= 1
        line = "; ".join(said[:shown]) + "; and more"
    return line


def notes_not_summarised_card(
    unread: Sequence[DataIssue],
    set_aside: Sequence[DataIssue],
    history: FeedbackHistory,
    hook_instance: str,
) -> tuple[IssuedCard, ...]:
    """The card of a chart with no note to summarise: what was set aside or could not be read,
    or none when there was nothing (or while an override of the summary is in force)."""
    if history.holds_back(NOTE_SUMMARY, None) or not (unread or set_aside):
        return ()
    detail = [
        *(["**No note was summarised** for this patient.", ""] if set_aside else []),
        *data_issue_lines(set_aside),
        *_not_read_lines(unread),
    ]
    return (
        build_card(
            hook_instance=hook_instance,
            card_type=NOTE_SUMMARY,
            band=None,
            summary=_unsummarised_line(set_aside, unread),
            indicator=Indicator.INFO,
            detail="\n".join(detail).strip(),
            source=source("Note summary (cdss, extractive)", TOPIC),
        ),
    )


def note_summary_card(
    summary: NoteSummary,
    unread: Sequence[DataIssue],
    history: FeedbackHistory,
    hook_instance: str,
    set_aside: Sequence[DataIssue] = (),
) -> tuple[IssuedCard, ...]:
    """The card, or none without notes or while an override of it is in force (see the module).

    `set_aside`: this call's notes set aside as not this patient's (`set_aside_notes`); said on
    the card, never part of `summary`, which is shared by every call that reads the same notes.
    """
    if history.holds_back(NOTE_SUMMARY, None):
        return ()
    if summary.note_count == 0:
        return notes_not_summarised_card(unread, set_aside, history, hook_instance)
    not_read = _not_read_lines(unread)
    detail = [f"**Quoted from the notes** (excerpts chosen by {summary.method}):", ""]
    current = None
    for excerpt in summary.excerpts:
        if excerpt.section != current:
            current = excerpt.section
            detail += [f"*{_section_title(current)}*", ""]
        detail += [_quote(excerpt.text), f"— {_provenance(excerpt)}", ""]
    detail += ["**Problems mentioned:**"]
    for attribute, title in _PROBLEM_LISTS:
        concepts = getattr(summary.problems, attribute)
        if concepts:
            detail.append(f"- {title}: {_problem_list(summary.problems, concepts)}")
    if set_aside:
        detail += ["", *data_issue_lines(set_aside)[:-1]]
    if not_read:
        detail += ["", *not_read]
    if summary.partly_read:
        many = summary.partly_read != 1
        detail += [
            "",
            f"**Read in part:** {summary.partly_read} long note{'s' if many else ''}: only "
            f"{'their' if many else 'its'} first {MAX_NOTE_CHARACTERS:,} characters were read; "
            f"open {'them' if many else 'it'} in the EHR for the rest.",
        ]
    detail += [
        "",
        "Every excerpt is the note's own words; nothing is paraphrased. A problem is listed "
        "as present only where a note states it without denial, doubt, history or family; "
        "each is listed once, as the newest note that names it says it (the most certain "
        "statement in that note), with that note's title and date.",
    ]
    return (
        build_card(
            hook_instance=hook_instance,
            card_type=NOTE_SUMMARY,
            band=None,
            summary=summary_line(summary),
            indicator=Indicator.INFO,
            detail="\n".join(detail),
            source=source("Note summary (cdss, extractive)", TOPIC),
        ),
    )
