"""The population report: one self-contained HTML page of counts from a scored work list.

`write_report` reads the work list (`WorkListRow.flat()` as CSV, from the single-process loop or
the Spark job) one row at a time and keeps only counters, so a panel of a million patients
takes the memory of a few hundred numbers. The page shows, for each risk service, the patients
by risk band and by card, each also by age group and by sex; the exclusions by reason; and how
many patients lack an HbA1c or an office blood pressure in the 12 months before the as-of date,
by age group. Each chart is an inline SVG drawn here, with the table it is drawn from under it;
the page loads nothing (no script, no stylesheet, no font, no network).

It holds no patient id, only counts, and any count from 1 to 10 is shown as "<11" (the usual
small-cell rule); a chart draws no bar for such a count.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from cds_service.managed_config import MODEL_CARDS_PATH
from models.hypertension import INCIDENCE_MODEL
from models.risk_models import DYSGLYCEMIA, UNMEASURED_BLOOD_PRESSURE

TEMPLATE = "population_report.html"
# Counts below this are shown as "<11": a group that small could point at a person.
SMALL_CELL = 11
SUPPRESSED = "<11"
ADULT_AGE = 18
# Upper bounds (exclusive) of the adult age groups; under 18 is outside both screenings.
AGE_GROUPS = (("under 18", ADULT_AGE), ("18-39", 40), ("40-64", 65), ("65+", None))
AGE_NOT_RECORDED = "age not recorded"
AGE_ORDER = (*(name for name, _ in AGE_GROUPS), AGE_NOT_RECORDED)
# Shown in every breakdown, even when no patient is in them; "age not recorded" only when some are.
STANDARD_AGE_GROUPS = tuple(name for name, _ in AGE_GROUPS)
SEX_NOT_RECORDED = "not recorded"
SEXES = ("female", "male", "other", "unknown", SEX_NOT_RECORDED)
EXCLUDED = "excluded"
NOT_ESTIMATED = "not estimated"
BANDS = ("low", "moderate", "high", NOT_ESTIMATED, EXCLUDED)
NO_CARD = "no card"
SERVICES = (("diabetes", "Diabetes risk"), ("hypertension", "Hypertension risk"))
# The models whose estimates the bands are of, as the cards link their model cards.
MODEL_CARDS = (
    ("Diabetes risk (dysglycaemia)", f"{MODEL_CARDS_PATH}/{DYSGLYCEMIA.name}"),
    (
        "Blood pressure not measured in 12 months",
        f"{MODEL_CARDS_PATH}/{UNMEASURED_BLOOD_PRESSURE.name}",
    ),
    ("Hypertension incidence", f"{MODEL_CARDS_PATH}/{INCIDENCE_MODEL}"),
)
_TRUE = frozenset({"true", "1", "yes"})
# Okabe-Ito colours: told apart with the common colour-vision deficiencies.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000")
LABEL_WIDTH, BAR_AREA, VALUE_WIDTH = 250, 360, 80
BAR_HEIGHT, BAR_GAP, GROUP_GAP, LEGEND_ROW = 16, 3, 10, 20
LABEL_CHARACTERS = 38


class WorkListUnreadable(ValueError):
    """The work list lacks a column the report counts, or a value is not of its column's kind."""


@dataclass
class _Tally:
    """What the report counts, filled one row at a time."""

    patients: int = 0
    # Per service: (band or card, age group, sex) -> patients.
    bands: dict[str, Counter[tuple[str, str, str]]] = field(default_factory=dict)
    cards: dict[str, Counter[tuple[str, str, str]]] = field(default_factory=dict)
    exclusions: dict[str, Counter[str]] = field(default_factory=dict)
    # (age group, has an HbA1c in 12 months, has an office BP in 12 months) -> patients.
    completeness: Counter[tuple[str, bool, bool]] = field(default_factory=Counter)


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: where it is drawn and the count it says."""

    y: int
    width: int
    colour: str
    text: str


@dataclass(frozen=True)
class ChartRow:
    """A labelled line of a chart: one bar, or one per group."""

    label: str
    label_y: int
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Chart:
    """A horizontal bar chart, laid out for the template to draw."""

    title: str
    width: int
    height: int
    rows: tuple[ChartRow, ...]
    legend: tuple[tuple[str, str, int], ...]  # (colour, label, y)
    # Where the bars start (the labels end just left of it), and each bar's height.
    bar_x: int = LABEL_WIDTH
    bar_height: int = BAR_HEIGHT


@dataclass(frozen=True)
class Table:
    """A table: its caption, its column headings, and rows headed by their first cell."""

    caption: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Figure:
    """A heading, a chart and the table it is drawn from."""

    heading: str
    chart: Chart
    table: Table


def write_report(work_list_csv: Path, output_html: Path, as_of: date) -> Path:
    """Write the HTML summary of a work list scored on `as_of`; the path written."""
    with work_list_csv.open(newline="", encoding="utf-8") as lines:
        # RFC 4180: a quote inside a quoted text doubled, as the population job writes it.
        tally = _tally(csv.DictReader(lines, restval=""))
    environment = Environment(
        loader=PackageLoader("cds_service.population", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
    )
    page = environment.get_template(TEMPLATE).render(
        as_of=as_of.isoformat(),
        patients=_count(tally.patients),
        services=[(title, _service_figures(tally, key, title)) for key, title in SERVICES],
        completeness=_completeness_figure(tally),
        model_cards=MODEL_CARDS,
        small_cell=SMALL_CELL,
        suppressed=SUPPRESSED,
    )
    output_html.write_text(page, encoding="utf-8")
    return output_html


def _required_columns() -> tuple[str, ...]:
    per_service = ("band", "card", "exclusion")
    facts = ("age_years", "sex", "hba1c_in_12_months", "office_bp_in_12_months")
    return (*facts, *(f"{key}_{name}" for key, _ in SERVICES for name in per_service))


def _tally(rows: csv.DictReader[str]) -> _Tally:
    missing = [name for name in _required_columns() if name not in (rows.fieldnames or ())]
    if missing:
        raise WorkListUnreadable(f"the work list has no column {', '.join(missing)}")
    tally = _Tally()
    for key, _ in SERVICES:
        tally.bands[key], tally.cards[key], tally.exclusions[key] = Counter(), Counter(), Counter()
    for line, row in enumerate(rows, start=2):
        tally.patients += 1
        age, sex = _age_group(row["age_years"], line), row["sex"] or SEX_NOT_RECORDED
        for key, _ in SERVICES:
            exclusion = row[f"{key}_exclusion"]
            band = EXCLUDED if exclusion else row[f"{key}_band"] or NOT_ESTIMATED
            tally.bands[key][band, age, sex] += 1
            tally.cards[key][row[f"{key}_card"] or NO_CARD, age, sex] += 1
            if exclusion:
                tally.exclusions[key][exclusion] += 1
        hba1c = row["hba1c_in_12_months"].strip().lower() in _TRUE
        pressure = row["office_bp_in_12_months"].strip().lower() in _TRUE
        tally.completeness[age, hba1c, pressure] += 1
    return tally


def _age_group(value: str, line: int) -> str:
    if not value:
        return AGE_NOT_RECORDED
    try:
        age = int(float(value))
    except ValueError:
        # The line and column, never the value: a work list's cells are patient data.
        raise WorkListUnreadable(f"line {line}: age_years is not a number") from None
    return next(name for name, below in AGE_GROUPS if below is None or age < below)


def _count(count: int) -> str:
    """The count as the page shows it: "<11" from 1 to 10."""
    return SUPPRESSED if 0 < count < SMALL_CELL else f"{count:,}"


def _share(count: int, total: int) -> str:
    """The count and its share of `total`, both withheld when either is a small cell."""
    if 0 < count < SMALL_CELL or 0 < total < SMALL_CELL:
        return SUPPRESSED
    return f"{count:,} ({count / total:.1%})" if total else "0"


def _ordered(seen: Iterable[str], known: Sequence[str], always: Sequence[str] = ()) -> list[str]:
    """The known categories that occur (and those `always` shown, even at 0), in their order,
    then any others, sorted."""
    present = set(seen) | set(always)
    return [c for c in known if c in present] + sorted(present - set(known))


def _service_figures(tally: _Tally, key: str, service: str) -> list[Figure]:
    figures = []
    for what, counts, known in (
        ("risk band", tally.bands[key], BANDS),
        ("card", tally.cards[key], (NO_CARD,)),
    ):
        categories = _ordered((c for c, _, _ in counts), known)
        totals: Counter[str] = Counter()
        by_age: Counter[tuple[str, str]] = Counter()
        by_sex: Counter[tuple[str, str]] = Counter()
        for (category, age, sex), n in counts.items():
            totals[category] += n
            by_age[category, age] += n
            by_sex[category, sex] += n
        ages = _ordered((a for _, a in by_age), AGE_ORDER, STANDARD_AGE_GROUPS)
        sexes = _ordered((s for _, s in by_sex), SEXES, SEXES[:2])
        heading = f"Patients by {what}"
        figures.append(_one_way(service, heading, what, categories, totals))
        heading = f"Patients by {what} and age group"
        figures.append(_two_way(service, heading, what, categories, ages, by_age))
        heading = f"Patients by {what} and sex"
        figures.append(_two_way(service, heading, what, categories, sexes, by_sex))
    reasons = tally.exclusions[key]
    if reasons:
        ordered = sorted(reasons, key=lambda r: (-reasons[r], r))
        heading = "Patients excluded, by reason"
        figures.append(_one_way(service, heading, "reason", ordered, reasons))
    return figures


def _caption(service: str, heading: str) -> str:
    """A table's caption names its service, as a table read alone must."""
    return f"{service}: {heading[0].lower()}{heading[1:]}"


def _one_way(
    service: str, heading: str, what: str, categories: Sequence[str], counts: Counter[str]
) -> Figure:
    rows = tuple((category, _count(counts[category])) for category in categories)
    chart = _chart(_caption(service, heading), [(c, [counts[c]]) for c in categories], ())
    return Figure(heading, chart, Table(_caption(service, heading), (what, "patients"), rows))


def _two_way(
    service: str,
    heading: str,
    what: str,
    categories: Sequence[str],
    groups: Sequence[str],
    counts: Counter[tuple[str, str]],
) -> Figure:
    rows = tuple((c, *(_count(counts[c, g]) for g in groups)) for c in categories)
    series = [(c, [counts[c, g] for g in groups]) for c in categories]
    caption = _caption(service, heading)
    table = Table(caption, (what, *groups), rows)
    return Figure(heading, _chart(caption, series, groups), table)


def _completeness_figure(tally: _Tally) -> Figure:
    heading = "Patients without an HbA1c or an office blood pressure in 12 months, by age group"
    sizes: Counter[str] = Counter()
    no_hba1c: Counter[str] = Counter()
    no_pressure: Counter[str] = Counter()
    for (age, hba1c, pressure), n in tally.completeness.items():
        sizes[age] += n
        no_hba1c[age] += 0 if hba1c else n
        no_pressure[age] += 0 if pressure else n
    ages = _ordered(sizes, AGE_ORDER, STANDARD_AGE_GROUPS)
    rows = tuple(
        (
            age,
            _count(sizes[age]),
            _share(no_hba1c[age], sizes[age]),
            _share(no_pressure[age], sizes[age]),
        )
        for age in ages
    )
    header = ("age group", "patients", "without an HbA1c", "without an office BP")
    series = [(age, [no_hba1c[age], no_pressure[age]]) for age in ages]
    chart = _chart(heading, series, ("without an HbA1c", "without an office BP"), of=sizes)
    return Figure(heading, chart, Table(heading, header, rows))


def _chart(
    title: str,
    series: Sequence[tuple[str, Sequence[int]]],
    groups: Sequence[str],
    of: Mapping[str, int] | None = None,
) -> Chart:
    """Bars for each labelled line, one per group (a legend names them): counts scaled to the
    largest, or with `of` (each line's group size) shares of 100%. A small cell, or a share of
    a small group, gets no bar, only its "<11"."""
    largest = max((n for _, counts in series for n in counts), default=0) or 1
    y = GROUP_GAP
    rows = []
    for label, counts in series:
        top = y
        bars = []
        for number, n in enumerate(counts):
            whole = largest if of is None else of[label]
            small = 0 < n < SMALL_CELL or (of is not None and 0 < whole < SMALL_CELL)
            text = _count(n) if of is None or small or not whole else f"{n / whole:.0%}"
            drawn = 0 if small or not whole else round(BAR_AREA * n / whole)
            bars.append(
                Bar(y, drawn, COLOURS[number % len(COLOURS)], SUPPRESSED if small else text)
            )
            y += BAR_HEIGHT + BAR_GAP
        short = label if len(label) <= LABEL_CHARACTERS else label[: LABEL_CHARACTERS - 1] + "…"
        rows.append(ChartRow(short, (top + y - BAR_GAP) // 2 + 4, tuple(bars)))
        y += GROUP_GAP
    legend = tuple(
        (COLOURS[number % len(COLOURS)], group, y + number * LEGEND_ROW)
        for number, group in enumerate(groups)
    )
    height = y + len(legend) * LEGEND_ROW + GROUP_GAP
    return Chart(title, LABEL_WIDTH + BAR_AREA + VALUE_WIDTH, height, tuple(rows), legend)
