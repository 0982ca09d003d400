"""Scoring one patient of a FHIR Bulk Data export as a `patient-view` call would.

The chart's resources fill each risk service's prefetch templates as an EHR fills them
(`chart_search`); then the hook path's own gatherer, record builder and advisor run, with the
card policy of the configuration file and no feedback history (a batch run has no clinician).
So a panel scored overnight gets the estimate and the card the chart would show. The estimate
itself, which the advisor does not return, is made by the same models on the same record.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

import httpx

from cards.card_parts import IssuedCard
from cards.explanation import factor_lines
from cards.policy import CardPolicy, RiskBands
from cds_service.catalog import DEFINITIONS
from cds_service.components import load_models
from cds_service.managed_config import card_policy, file_config
from cds_service.population.chart_search import filled_prefetch
from cds_service.population.export_files import patient_charts
from cds_service.services import diabetes_risk, hypertension_risk
from cds_service.services.definition import (
    PATIENT_VIEW,
    CdsService,
    LoadedParts,
    ServiceInput,
)
from cds_service.settings import Settings
from fhir_adapters.codes import Measure
from fhir_adapters.fhir_server import FhirFetcher
from fhir_adapters.fhir_values import Resource
from fhir_adapters.gathering import PatientDataGatherer
from fhir_adapters.patient_record import PatientRecord
from fhir_adapters.prefetch import PrefetchTemplate
from fhir_adapters.record_builder import record_from_gathered
from models.features import BLOOD_PRESSURE_WINDOW
from models.hypertension import Finding, assess_hypertension
from models.prediction import NoEstimate, RiskEstimate
from models.registry import RiskModels
from models.risk_models import has_diabetes

if TYPE_CHECKING:
    from cds_service.services.note_summary import NoteSummaries

DIABETES = diabetes_risk.DEFINITION.id
HYPERTENSION = hypertension_risk.DEFINITION.id
RISK_SERVICES = (DIABETES, HYPERTENSION)
# The cards show the strongest factors first; a work list has room for three.
FACTORS_SHOWN = 3
DIABETES_TREATED = "diabetes diagnosed or treated"
# Hypertension findings that take the patient out of screening, in the card rules' words.
HYPERTENSION_EXCLUSIONS = {
    Finding.DIAGNOSED: "hypertension diagnosed",
    Finding.TREATED: "on antihypertensive treatment",
    Finding.PREGNANT: "pregnant",
    Finding.POSTPARTUM: "within 6 weeks of a delivery",
    Finding.ADOLESCENT: "aged 13-17 (adolescent categories)",
    Finding.CHILD: "under 13 (children's screening table)",
}
# A result or reading is recent within the year before the as-of date: the window of the
# hypertension cards' "no blood pressure in 12 months" (365 days), used for the HbA1c too.
RECENT_WINDOW = BLOOD_PRESSURE_WINDOW
# Nothing is fetched: without an access the gatherer never calls the server, so no time budget
# is spent; one second is what a call would be allowed, never used.
_NO_FETCH_BUDGET_SECONDS = 1.0


@dataclass(frozen=True)
class ServiceOutcome:
    """What one risk service would say for a patient: its estimate and band, and its card."""

    service_id: str
    probability: float | None
    # Why no number was given ("needs BMI or waist"), when none was.
    not_estimated: str | None
    band: str | None
    card_type: str | None
    indicator: str | None
    summary: str | None
    # The strongest factors behind the estimate, as the card words them.
    factors: tuple[str, ...]
    # The card's suggestions, by label ("Order HbA1c").
    suggested_actions: tuple[str, ...]
    # Why the patient is outside this screening (treated, pregnant, out of the age range).
    exclusion: str | None
    # Any further cards of the service for the chart (home readings beside the risk card).
    further_cards: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChartFacts:
    """Who the patient is and what the chart lacks, beside the risks: age and sex, and when an
    HbA1c and an office blood pressure were last recorded (on or before the as-of date)."""

    age_years: int | None
    # FHIR `Patient.gender` ("female", "male", "other", "unknown").
    sex: str | None
    newest_hba1c: date | None
    # Office readings only, the ones the screening cards read: a home series alone still gets
    # the cards' "no office reading in 12 months".
    newest_office_blood_pressure: date | None
    hba1c_in_12_months: bool | None
    office_blood_pressure_in_12_months: bool | None


# For a row made without its record: every fact unknown.
NO_CHART_FACTS = ChartFacts(None, None, None, None, None, None)


def chart_facts(record: PatientRecord) -> ChartFacts:
    """The record's age, sex, newest HbA1c and office blood pressure, and whether each falls in
    the 12 months (`RECENT_WINDOW`) before its as-of date.

    The record holds every HbA1c and blood pressure the chart has: the risk services' observation
    template (`RISK_OBSERVATIONS`) asks for every one of their codes with no date bound, all
    pages, so "none in 12 months" is not an artefact of a shorter search.
    """
    as_of = record.as_of
    hba1c = _newest_by(as_of, (m.effective.date() for m in record.history(Measure.HBA1C)))
    pressure = _newest_by(as_of, (r.effective.date() for r in record.office_blood_pressure))
    since = as_of - RECENT_WINDOW
    return ChartFacts(
        age_years=record.demographics.age_years,
        sex=record.demographics.sex.value,
        newest_hba1c=hba1c,
        newest_office_blood_pressure=pressure,
        hba1c_in_12_months=hba1c is not None and hba1c >= since,
        office_blood_pressure_in_12_months=pressure is not None and pressure >= since,
    )


def _newest_by(as_of: date, days: Iterator[date]) -> date | None:
    """The latest day on or before `as_of` (a later one is not yet known on that day)."""
    return max((day for day in days if day <= as_of), default=None)


# The kinds of a work-list column, as a table schema maps them: free text (dates as ISO text),
# a decimal, a whole number, a yes/no flag.
TEXT, DECIMAL, INTEGER, FLAG = "text", "decimal", "integer", "flag"
_FACT_COLUMNS = (
    ("age_years", INTEGER),
    ("sex", TEXT),
    ("newest_hba1c_date", TEXT),
    ("hba1c_in_12_months", FLAG),
    ("newest_office_bp_date", TEXT),
    ("office_bp_in_12_months", FLAG),
)
_OUTCOME_COLUMNS = (
    ("probability", DECIMAL),
    ("not_estimated", TEXT),
    ("band", TEXT),
    ("card", TEXT),
    ("indicator", TEXT),
    ("summary", TEXT),
    ("factors", TEXT),
    ("action", TEXT),
    ("exclusion", TEXT),
)


def work_list_columns() -> tuple[tuple[str, str], ...]:
    """Every column of `WorkListRow.flat()`, in its order, with its kind (text, decimal,
    integer or flag)."""
    outcome_columns = tuple(
        (f"{prefix}_{name}", kind)
        for prefix in ("diabetes", "hypertension")
        for name, kind in _OUTCOME_COLUMNS
    )
    return (("patient_id", TEXT), *_FACT_COLUMNS, *outcome_columns)


@dataclass(frozen=True)
class WorkListRow:
    """One patient of the panel: each risk service's outcome, and the chart's facts."""

    patient_id: str
    diabetes: ServiceOutcome
    hypertension: ServiceOutcome
    facts: ChartFacts = NO_CHART_FACTS

    def flat(self) -> dict[str, object]:
        """The row as flat columns (`diabetes_probability`, ...), for CSV and Parquet."""
        facts = self.facts
        columns: dict[str, object] = {
            "patient_id": self.patient_id,
            "age_years": facts.age_years,
            "sex": facts.sex,
            "newest_hba1c_date": _iso(facts.newest_hba1c),
            "hba1c_in_12_months": facts.hba1c_in_12_months,
            "newest_office_bp_date": _iso(facts.newest_office_blood_pressure),
            "office_bp_in_12_months": facts.office_blood_pressure_in_12_months,
        }
        for prefix, outcome in (("diabetes", self.diabetes), ("hypertension", self.hypertension)):
            columns[f"{prefix}_probability"] = outcome.probability
            columns[f"{prefix}_not_estimated"] = outcome.not_estimated
            columns[f"{prefix}_band"] = outcome.band
            columns[f"{prefix}_card"] = outcome.card_type
            columns[f"{prefix}_indicator"] = outcome.indicator
            columns[f"{prefix}_summary"] = outcome.summary
            columns[f"{prefix}_factors"] = " | ".join(outcome.factors)
            columns[f"{prefix}_action"] = " | ".join(outcome.suggested_actions)
            columns[f"{prefix}_exclusion"] = outcome.exclusion
        return columns


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


@dataclass(frozen=True)
class _Estimate:
    probability: float | None
    not_estimated: str | None
    bands: RiskBands | None
    explained: RiskEstimate | None
    exclusion: str | None


class PopulationScorer:
    """Scores patients of an export with the hook path's services; one per process."""

    def __init__(self, risk_models: RiskModels, policy: CardPolicy) -> None:
        self._models = risk_models
        self._policy = policy
        # The risk advisors draw on the risk models alone: the note reader (seconds to load,
        # and no risk card reads it) is not made for a batch.
        parts = LoadedParts(risk_models, cast("NoteSummaries", None))
        self._services = {
            d.id: CdsService(d, d.advisor(parts)) for d in DEFINITIONS if d.id in RISK_SERVICES
        }
        # Never used to fetch: a batch call grants no FHIR server access, so everything comes
        # from the export, exactly as a call whose EHR prefetched everything.
        self._client = httpx.Client()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="population")
        self._gatherer = PatientDataGatherer(FhirFetcher(self._client, self._executor))

    @classmethod
    def load(cls, settings: Settings | None = None) -> PopulationScorer:
        """A scorer with the verified risk models and the card policy of the configuration file
        (`ConfigurationError` on a missing or altered model artifact)."""
        settings = settings or Settings()
        cards = file_config(settings, RISK_SERVICES).cards
        policy = card_policy(
            cards, settings.server.public_base_url, detail_app=bool(settings.smart.allowed_issuers)
        )
        return cls(load_models(settings), policy)

    def close(self) -> None:
        """Release the idle client and thread pool."""
        self._executor.shutdown(wait=False)
        self._client.close()

    def score(self, patient_id: str, resources: Sequence[Resource], as_of: date) -> WorkListRow:
        """The work-list row of one patient from that patient's resources, on `as_of`."""
        # Both risk services ask for the same data (`RISK_PREFETCH`): one record serves both,
        # as two hook calls with the same prefetch build the same record (it is a pure
        # function of the data and the date).
        records: dict[tuple[PrefetchTemplate, ...], PatientRecord] = {}
        outcomes = []
        for service_id in RISK_SERVICES:
            service = self._services[service_id]
            record = records.get(service.prefetch)
            if record is None:
                record = self._record(service, patient_id, resources, as_of)
                records[service.prefetch] = record
            outcomes.append(self._outcome(service, patient_id, record))
        diabetes, hypertension = outcomes
        # Both services read one record (above); its facts are the patient's.
        first_record = next(iter(records.values()))
        return WorkListRow(patient_id, diabetes, hypertension, chart_facts(first_record))

    def _record(
        self, service: CdsService, patient_id: str, resources: Sequence[Resource], as_of: date
    ) -> PatientRecord:
        gathered = self._gatherer.gather(
            service.prefetch,
            filled_prefetch(service.prefetch, patient_id, resources),
            {"patientId": patient_id},
            None,
            _NO_FETCH_BUDGET_SECONDS,
        )
        return record_from_gathered(patient_id, gathered, as_of)

    def _outcome(
        self, service: CdsService, patient_id: str, record: PatientRecord
    ) -> ServiceOutcome:
        issued = service.advise(
            ServiceInput(
                service_id=service.id,
                hook=PATIENT_VIEW,
                hook_instance=f"population/{patient_id}",
                context={"patientId": patient_id},
                record=record,
                policy=self._policy,
            )
        )
        estimate = (
            self._diabetes_estimate(record)
            if service.id == DIABETES
            else self._hypertension_estimate(record)
        )
        return _outcome(service.id, estimate, issued)

    def _diabetes_estimate(self, record: PatientRecord) -> _Estimate:
        result = self._models.dysglycemia.predict(record)
        exclusion = DIABETES_TREATED if has_diabetes(record) else None
        if isinstance(result, NoEstimate):
            reasons = "; ".join(result.reasons)
            if exclusion is None and not all(r.startswith("needs ") for r in result.reasons):
                exclusion = reasons
            return _Estimate(None, reasons, None, None, exclusion)
        return _Estimate(result.probability, None, self._policy.diabetes, result, exclusion)

    def _hypertension_estimate(self, record: PatientRecord) -> _Estimate:
        assessment = assess_hypertension(
            record, self._models.unmeasured_blood_pressure, self._models.hypertension_incidence
        )
        exclusion = HYPERTENSION_EXCLUSIONS.get(assessment.finding)
        result = assessment.estimate
        if isinstance(result, RiskEstimate):
            bands = (
                self._policy.unmeasured_blood_pressure
                if assessment.finding is Finding.UNMEASURED
                else self._policy.hypertension_incidence
            )
            return _Estimate(result.probability, None, bands, result, exclusion)
        if isinstance(result, NoEstimate):
            return _Estimate(None, "; ".join(result.reasons), None, None, exclusion)
        # Readings that detect hypertension, or a finding that takes no estimate.
        return _Estimate(None, f"not estimated: {assessment.finding.value}", None, None, exclusion)


def _outcome(service_id: str, estimate: _Estimate, issued: Sequence[IssuedCard]) -> ServiceOutcome:
    band = None
    if estimate.probability is not None and estimate.bands is not None:
        band = estimate.bands.band(estimate.probability).word
    first = issued[0] if issued else None
    factors: tuple[str, ...] = ()
    if estimate.explained is not None:
        # The card's list items, without its heading line.
        items = [line for line in factor_lines(estimate.explained) if line.startswith("- ")]
        factors = tuple(line.removeprefix("- ") for line in items[:FACTORS_SHOWN])
    return ServiceOutcome(
        service_id=service_id,
        probability=estimate.probability,
        not_estimated=estimate.not_estimated,
        band=band,
        card_type=None if first is None else first.card_type,
        indicator=None if first is None else first.card.indicator.value,
        summary=None if first is None else first.card.summary,
        factors=factors,
        suggested_actions=()
        if first is None
        else tuple(suggestion.label for suggestion in first.card.suggestions),
        exclusion=estimate.exclusion,
        further_cards=tuple(item.card_type for item in issued[1:]),
    )


def score_export(
    input_dir: Path, as_of: date | None = None, scorer: PopulationScorer | None = None
) -> Iterator[WorkListRow]:
    """Every patient's row of a Bulk export folder (`<Type>.ndjson`) on `as_of` (today, UTC,
    as a hook call's), in Patient file order.

    One process, one patient at a time: the baseline the Spark job is measured against. The
    export's files are per resource type, so no patient's chart is complete before every file
    is read: the files are indexed by patient first (`patient_charts`), then each chart scored.
    Memory holds that index (a file number and a byte offset a resource) and one chart.
    """
    as_of = as_of or datetime.now(UTC).date()
    owned = scorer is None
    scorer = scorer or PopulationScorer.load()
    try:
        for patient_id, chart in patient_charts(input_dir):
            yield scorer.score(patient_id, chart, as_of)
    finally:
        if owned:
            scorer.close()
