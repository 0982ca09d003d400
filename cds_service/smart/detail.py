"""What the detail page shows for a patient: each risk explained, the trends, the notes.

Flask-free: the chart is read with the launch's token, the record built and the models run
exactly as for a hook call, and the result turned into plain rows for the template.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from cards.diabetes_cards import NOT_ESTIMATED, PREDIABETES_MONITORING, RISK
from cards.explanation import describe_value, input_absence, percent
from cards.hypertension_cards import INCIDENCE
from cards.hypertension_unmeasured import UNMEASURED
from cards.note_card import unread_notes
from cds_service.services import diabetes_risk, note_summary
from cds_service.smart.trends import Trends, patient_trends
from cds_service.storage.smart_records import SmartSession
from fhir_adapters.fhir_server import FhirAccess
from fhir_adapters.fhir_values import patient_name
from fhir_adapters.gathering import GatheredData, PatientDataGatherer
from fhir_adapters.patient_record import ClinicalNote, DataIssue, PatientRecord
from fhir_adapters.prefetch import PrefetchTemplate
from fhir_adapters.record_builder import record_from_gathered
from models.criteria import HBA1C_DIABETES, HBA1C_DYSGLYCEMIA, STAGE1_PRESSURE_TEXT
from models.hypertension import INCIDENCE_MODEL, assess_hypertension
from models.note_summary import NoteSummary
from models.prediction import NOTHING_RECORDED, NoEstimate, RiskEstimate
from models.registry import RiskModels
from models.risk_models import DYSGLYCEMIA, UNDIAGNOSED_DIABETES, UNMEASURED_BLOOD_PRESSURE

# Pushes smaller than this print as +0.00 or -0.00; they are said as "no effect".
NO_EFFECT_BELOW = 0.005

RISK_TITLES = {
    DYSGLYCEMIA.name: f"Undiagnosed dysglycemia (HbA1c >= {HBA1C_DYSGLYCEMIA:g}%)",
    UNDIAGNOSED_DIABETES.name: f"Undiagnosed diabetes (HbA1c >= {HBA1C_DIABETES:g}%)",
    UNMEASURED_BLOOD_PRESSURE.name: f"Blood pressure >= {STAGE1_PRESSURE_TEXT} if measured",
    INCIDENCE_MODEL: "Hypertension within 4 years (Framingham)",
}
# A card's smart link names its card type as `appContext`; the page opens on that card's risk.
CARD_RISKS = {
    RISK: DYSGLYCEMIA.name,
    NOT_ESTIMATED: DYSGLYCEMIA.name,
    PREDIABETES_MONITORING: UNDIAGNOSED_DIABETES.name,
    UNMEASURED: UNMEASURED_BLOOD_PRESSURE.name,
    INCIDENCE: INCIDENCE_MODEL,
}

SORT_NEWEST_FIRST = "&_sort=-date"


def _in_plain_words(issues: Iterable[DataIssue]) -> tuple[str, ...]:
    """The data not used, as the clinician reads it on the cards: plain words, each once with
    its count; the FHIR paths and technical reasons are the integrator's (the service log)."""
    counts = Counter(issue.for_clinician for issue in issues)
    return tuple(text if n == 1 else f"{text} ({n} entries)" for text, n in counts.items())


def _unsorted(template: PrefetchTemplate) -> PrefetchTemplate:
    """The template without its sort when every page is read anyway.

    The record does not depend on the order resources arrive in, and sorting a long chart can
    cost a FHIR server far more than finding it: sekmet takes ~2 s to sort a Synthea chart's
    476 observations that it finds in ~50 ms (docs/benchmarks.md). A search read one page only
    ("the 20 most recent notes") keeps its sort.
    """
    if not template.all_pages:
        return template
    return replace(template, query=template.query.replace(SORT_NEWEST_FIRST, ""))


# The risk services' data and the note summary's, each key once.
PAGE_TEMPLATES: tuple[PrefetchTemplate, ...] = tuple(
    {
        t.key: _unsorted(t)
        for t in (*diabetes_risk.DEFINITION.prefetch, *note_summary.DEFINITION.prefetch)
    }.values()
)

# Waits at most this for the note summary, so that the page is usable within a second of the
# token arriving; a summary not ready by then is made meanwhile, for the next view.
NOTE_WAIT_SECONDS = 0.4

SummaryOf = Callable[[Sequence[ClinicalNote], float], NoteSummary | None]


@dataclass(frozen=True)
class FactorBar:
    """One input's push on the estimate, for a bar: up (raised) or down (lowered)."""

    text: str
    shapley: float
    # The bar's length relative to the largest push on this estimate, 0-100.
    width_percent: float

    @property
    def raises(self) -> bool:
        """Whether this input raised the estimate."""
        return self.shapley > 0

    @property
    def effect(self) -> str:
        """ "raised", "lowered", or "no effect" when it moved the estimate by less than shown."""
        if abs(self.shapley) < NO_EFFECT_BELOW:
            return "no effect"
        return "raised" if self.raises else "lowered"


@dataclass(frozen=True)
class ExplainedRisk:
    """One model's answer for the patient."""

    title: str
    model: str
    probability: str | None
    scale: str
    factors: tuple[FactorBar, ...]
    missing: tuple[str, ...]
    reasons: tuple[str, ...]
    # Where the explanation starts (the training population's average) and ends, on `scale`.
    baseline: float | None = None
    margin: float | None = None
    # For a risk over time: ("1 year", "3%"), ... up to the estimate's own horizon.
    horizons: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PatientBanner:
    """Who the page is about, as the EHR's chart names them."""

    name: str
    patient_id: str
    birth_date: date | None
    age_years: int | None
    sex: str


@dataclass(frozen=True)
class NoteSection:
    """The note summary, or why there is none yet; and the notes that could not be read."""

    summary: NoteSummary | None
    notes_with_text: int
    unread: tuple[str, ...]


@dataclass(frozen=True)
class DetailPage:
    """Everything the page shows."""

    patient: str
    # None when the EHR shows its own banner around the app (`need_patient_banner` false).
    banner: PatientBanner | None
    # The model of the card the app was opened from, shown first; None for a plain launch.
    focus: str | None
    risks: tuple[ExplainedRisk, ...]
    trends: Trends
    notes: NoteSection
    data_issues: tuple[str, ...]
    read_at: datetime
    # Milliseconds spent reading the chart from the EHR, explaining, and waiting for the notes.
    timings: tuple[tuple[str, float], ...] = ()


def read_chart(
    session: SmartSession,
    gatherer: PatientDataGatherer,
    templates: tuple[PrefetchTemplate, ...],
    budget_seconds: float,
) -> tuple[GatheredData, PatientRecord]:
    """The launched patient's data for these templates, read with the session's token."""
    access = FhirAccess(session.iss, session.access_token, session.patient)
    gathered = gatherer.gather(
        templates, None, {"patientId": session.patient}, access, budget_seconds
    )
    return gathered, record_from_gathered(session.patient, gathered, datetime.now(UTC).date())


def detail_page(
    session: SmartSession,
    gatherer: PatientDataGatherer,
    models: RiskModels,
    summary_of: SummaryOf,
    budget_seconds: float,
) -> DetailPage:
    """Read the launched patient's chart and explain every estimate the models can give."""
    started = time.perf_counter()
    gathered, record = read_chart(session, gatherer, PAGE_TEMPLATES, budget_seconds)
    read = time.perf_counter()
    focus = CARD_RISKS.get(session.app_context or "")
    risks = sorted(
        (explain(answer) for answer in _answers(record, models)),
        key=lambda risk: risk.model != focus,
    )
    trends = patient_trends(record)
    explained = time.perf_counter()
    with_text = [note for note in record.notes if note.text.strip()]
    summary = summary_of(with_text, NOTE_WAIT_SECONDS) if with_text else None
    finished = time.perf_counter()
    return DetailPage(
        patient=session.patient,
        banner=None if session.need_patient_banner is False else _banner(gathered, record),
        focus=focus,
        risks=tuple(risks),
        trends=trends,
        notes=NoteSection(
            summary=summary,
            notes_with_text=len(with_text),
            unread=_in_plain_words(unread_notes(record.data_issues)),
        ),
        data_issues=_in_plain_words(record.data_issues),
        read_at=datetime.now(UTC),
        timings=(
            ("fhir", 1000 * (read - started)),
            ("explain", 1000 * (explained - read)),
            ("notes", 1000 * (finished - explained)),
        ),
    )


def _banner(gathered: GatheredData, record: PatientRecord) -> PatientBanner:
    patients = gathered.resources.get("patient") or ()
    name = patient_name(patients[0]) if patients else ""
    demographics = record.demographics
    return PatientBanner(
        name=name or "(no name recorded)",
        patient_id=record.patient_id,
        birth_date=demographics.birth_date,
        age_years=demographics.age_years,
        sex=demographics.sex.value,
    )


def _answers(record: PatientRecord, models: RiskModels) -> list[RiskEstimate | NoEstimate]:
    hypertension = assess_hypertension(
        record, models.unmeasured_blood_pressure, models.hypertension_incidence
    )
    answers = [models.dysglycemia.predict(record), models.undiagnosed_diabetes.predict(record)]
    if hypertension.estimate is not None:
        answers.append(hypertension.estimate)
    return answers


def explain(answer: RiskEstimate | NoEstimate) -> ExplainedRisk:
    """An estimate as rows, largest push first; or why there is none."""
    title = RISK_TITLES.get(answer.model, answer.model)
    if isinstance(answer, NoEstimate):
        reasons = dict(answer.missing_reasons)
        missing = tuple(
            input_absence(name, reasons.get(name, NOTHING_RECORDED)) for name in answer.missing
        )
        return ExplainedRisk(title, answer.model, None, "", (), missing, answer.reasons)
    largest = max((abs(item.shapley) for item in answer.contributions), default=0.0) or 1.0
    factors = tuple(
        FactorBar(describe_value(item), item.shapley, round(100 * abs(item.shapley) / largest, 1))
        for item in sorted(answer.contributions, key=lambda item: -abs(item.shapley))
    )
    return ExplainedRisk(
        title,
        answer.model,
        percent(answer.probability),
        answer.margin_scale,
        factors,
        # Each input without a value is a row of the table already, saying why (too old, not
        # recorded, not usable) and what the model filled in.
        (),
        (),
        baseline=answer.expected_margin,
        margin=answer.margin,
        horizons=tuple(
            (f"{years} year{'s' if years > 1 else ''}", percent(probability))
            for years, probability in answer.horizons
        ),
    )


@dataclass(frozen=True)
class NoteView:
    """One note's text split around an excerpt, for the page that shows where a quote is from."""

    note: ClinicalNote
    before: str
    excerpt: str
    after: str
    banner: PatientBanner | None


def note_view(
    session: SmartSession,
    gatherer: PatientDataGatherer,
    source: str,
    element: str,
    span: tuple[int, int] | None,
    budget_seconds: float,
) -> NoteView | None:
    """The patient's note `source` (at `element`), the excerpt `span` marked; None if absent.

    The note is found among the patient's own notes, read as the summary read them, so a link
    can never show another patient's note, and the offsets fall on the same text.
    """
    gathered, record = read_chart(
        session, gatherer, note_summary.DEFINITION.prefetch, budget_seconds
    )
    note = next((n for n in record.notes if n.source == source and n.element == element), None)
    if note is None:
        return None
    start, end = span if span is not None else (0, 0)
    if not 0 <= start <= end <= len(note.text):
        start = end = 0
    banner = None if session.need_patient_banner is False else _banner(gathered, record)
    return NoteView(note, note.text[:start], note.text[start:end], note.text[end:], banner)
