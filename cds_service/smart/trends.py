"""The detail page's trends: HbA1c, glucose, BMI and blood pressure over time, with their bands.

Pure geometry for a server-drawn SVG (the page runs no script): each chart's points placed in
a fixed viewBox, the clinical bands behind them as shaded ranges, and the ticks. Every chart
also carries its values as rows, which the page prints as a table: the drawing is for the eye,
the table is what a screen reader and a careful reader use.

Bands: HbA1c and fasting glucose, ADA Standards of Care (normal, prediabetes, diabetes range);
BMI, the WHO adult categories; blood pressure, ACC/AHA 2017 (systolic and diastolic drawn
apart, each reading's category named from both in the table). The cut-offs are those of
`models.criteria`, as everywhere else. A glucose not recorded as fasting is drawn without
bands: the fasting cut-offs do not apply to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from fhir_adapters.codes import Measure
from fhir_adapters.patient_record import BloodPressureReading, PatientRecord
from models.criteria import (
    BMI_HEALTHY,
    BMI_OBESITY,
    BMI_OVERWEIGHT,
    ELEVATED_SYSTOLIC,
    FASTING_GLUCOSE_DIABETES,
    FASTING_GLUCOSE_DYSGLYCEMIA,
    HBA1C_DIABETES,
    HBA1C_DYSGLYCEMIA,
    STAGE1_DIASTOLIC,
    STAGE1_SYSTOLIC,
    STAGE2_DIASTOLIC,
    STAGE2_SYSTOLIC,
    BloodPressureCategory,
    blood_pressure_category,
)

# How far back the charts reach: older values say little about today's risk, and a long
# Synthea-like history would crowd the drawing.
TREND_YEARS = 10
# The drawing's coordinate system (the SVG scales to the page's width); the right margin holds
# the bands' names.
WIDTH, HEIGHT = 640.0, 180.0
LEFT, RIGHT, TOP, BOTTOM = 52.0, 96.0, 10.0, 26.0


@dataclass(frozen=True)
class ChartFrame:
    """The SVG's size and where its plotting area lies, for the template."""

    width: float = WIDTH
    height: float = HEIGHT
    left: float = LEFT
    plot_right: float = WIDTH - RIGHT
    plot_bottom: float = HEIGHT - BOTTOM


FRAME = ChartFrame()

NORMAL, WATCH, HIGH, HIGHER = "normal", "watch", "high", "higher"


@dataclass(frozen=True)
class Band:
    """A clinical range of a measure: [low, high), open where None."""

    label: str
    low: float | None
    high: float | None
    tone: str
    # The name drawn beside the chart, where the full label does not fit.
    short: str


def _bands(
    edges: tuple[float, ...], names: tuple[tuple[str, str], ...], step: float, unit: str = ""
) -> tuple[Band, ...]:
    """Bands between ascending cut-offs, labelled as published: "Prediabetes (5.7-6.4%)".

    `step` is the resolution values are reported at, so a band's last value is its upper
    cut-off less one step; `names` gives each band's short name and tone, lowest first.
    """
    bounds = (None, *edges, None)
    bands = []
    for (name, tone), low, high in zip(names, bounds[:-1], bounds[1:], strict=True):
        if low is None:
            span = f"< {high:g}{unit}"
        elif high is None:
            span = f">= {low:g}{unit}"
        else:
            span = f"{low:g}-{high - step:g}{unit}"
        bands.append(Band(f"{name} ({span})", low, high, tone, name))
    return tuple(bands)


HBA1C_BANDS = _bands(
    (HBA1C_DYSGLYCEMIA, HBA1C_DIABETES),
    (("Normal", NORMAL), ("Prediabetes", WATCH), ("Diabetes range", HIGH)),
    0.1,
    "%",
)
FASTING_GLUCOSE_BANDS = _bands(
    (FASTING_GLUCOSE_DYSGLYCEMIA, FASTING_GLUCOSE_DIABETES),
    (("Normal", NORMAL), ("Prediabetes", WATCH), ("Diabetes range", HIGH)),
    1.0,
)
BMI_BANDS = _bands(
    (BMI_HEALTHY, BMI_OVERWEIGHT, BMI_OBESITY),
    (("Underweight", WATCH), ("Healthy", NORMAL), ("Overweight", WATCH), ("Obesity", HIGH)),
    0.1,
)
SYSTOLIC_BANDS = _bands(
    (ELEVATED_SYSTOLIC, STAGE1_SYSTOLIC, STAGE2_SYSTOLIC),
    (("Normal", NORMAL), ("Elevated", WATCH), ("Stage 1", HIGH), ("Stage 2", HIGHER)),
    1.0,
)
DIASTOLIC_BANDS = _bands(
    (STAGE1_DIASTOLIC, STAGE2_DIASTOLIC),
    (("Normal", NORMAL), ("Stage 1", HIGH), ("Stage 2", HIGHER)),
    1.0,
)
# How the table names a reading's category.
CATEGORY_WORDS = {
    BloodPressureCategory.NORMAL: "Normal",
    BloodPressureCategory.ELEVATED: "Elevated",
    BloodPressureCategory.STAGE_1: "Stage 1 hypertension range",
    BloodPressureCategory.STAGE_2: "Stage 2 hypertension range",
}


@dataclass(frozen=True)
class TrendValue:
    """One dated value, placed on the chart, with the band it falls in."""

    effective: datetime
    value: float
    band: Band | None
    source: str
    # Computed (a BMI from weight and height), not recorded as such.
    derived: bool
    x: float
    y: float


@dataclass(frozen=True)
class PlacedBand:
    """A band's rectangle on the chart (SVG coordinates)."""

    label: str
    short: str
    tone: str
    top: float
    height: float


@dataclass(frozen=True)
class Tick:
    """An axis mark: where, and what it says."""

    at: float
    label: str


@dataclass(frozen=True)
class TrendChart:
    """One measure over time, ready to draw, with its values as rows."""

    kind: ChartKind
    values: tuple[TrendValue, ...]
    bands: tuple[PlacedBand, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    # "x1,y1 x2,y2 ...", oldest first, for an SVG polyline.
    line: str
    summary: str


@dataclass(frozen=True)
class BloodPressureRow:
    """A reading for the table, with its ACC/AHA category from both numbers."""

    effective: datetime
    systolic: float | None
    diastolic: float | None
    category: str
    setting: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Trends:
    """Every chart the page draws, and the blood pressure readings as rows."""

    since: date
    charts: tuple[TrendChart, ...]
    blood_pressure: tuple[BloodPressureRow, ...]


def band_of(value: float, bands: Sequence[Band]) -> Band | None:
    """The band the value falls in (None when the chart has no bands)."""
    for band in bands:
        if (band.low is None or value >= band.low) and (band.high is None or value < band.high):
            return band
    return None


def reading_category(systolic: float | None, diastolic: float | None) -> str:
    """A reading's ACC/AHA 2017 category in words, from both numbers."""
    if systolic is None or diastolic is None:
        return "incomplete reading"
    return CATEGORY_WORDS[blood_pressure_category(systolic, diastolic)]


@dataclass(frozen=True)
class ChartKind:
    """What a chart shows: its measure's name, unit, precision and bands."""

    key: str
    title: str
    unit: str
    decimals: int
    bands: tuple[Band, ...]

    def number(self, value: float) -> str:
        """The value as the chart prints it."""
        return f"{value:.{self.decimals}f}"


HBA1C = ChartKind("hba1c", "HbA1c", "%", 1, HBA1C_BANDS)
FASTING_GLUCOSE = ChartKind("glucose-fasting", "Fasting glucose", "mg/dL", 0, FASTING_GLUCOSE_BANDS)
RANDOM_GLUCOSE = ChartKind("glucose-random", "Glucose, not recorded as fasting", "mg/dL", 0, ())
BMI = ChartKind("bmi", "BMI", "kg/m2", 1, BMI_BANDS)
SYSTOLIC = ChartKind("systolic", "Systolic blood pressure", "mmHg", 0, SYSTOLIC_BANDS)
DIASTOLIC = ChartKind("diastolic", "Diastolic blood pressure", "mmHg", 0, DIASTOLIC_BANDS)
MEASURE_CHARTS = (
    (Measure.HBA1C, HBA1C),
    (Measure.GLUCOSE_FASTING, FASTING_GLUCOSE),
    (Measure.GLUCOSE_RANDOM, RANDOM_GLUCOSE),
    (Measure.BMI, BMI),
)

# When, value, the FHIR reference it came from, and whether it was computed.
Dated = tuple[datetime, float, str, bool]


def patient_trends(record: PatientRecord) -> Trends:
    """The charts of this record, from `TREND_YEARS` before its date up to it."""
    since = record.as_of - timedelta(days=round(365.25 * TREND_YEARS))

    def recent(values: list[Dated]) -> list[Dated]:
        # EHRs often hold one measurement twice (same moment, same value): drawn once.
        once: dict[tuple[datetime, float], Dated] = {}
        for item in values:
            once.setdefault(item[:2], item)
        return sorted(item for item in once.values() if item[0].date() >= since)

    readings = [r for r in record.blood_pressure if r.effective.date() >= since]
    series = [
        (
            kind,
            recent(
                [
                    (m.effective, m.value, m.source, bool(m.derived_from))
                    for m in record.history(measure)
                ]
            ),
        )
        for measure, kind in MEASURE_CHARTS
    ]
    series.append(
        (
            SYSTOLIC,
            recent([(r.effective, r.systolic, _first(r), False) for r in readings if r.systolic]),
        )
    )
    series.append(
        (
            DIASTOLIC,
            recent([(r.effective, r.diastolic, _first(r), False) for r in readings if r.diastolic]),
        )
    )
    rows = tuple(
        BloodPressureRow(
            r.effective,
            r.systolic,
            r.diastolic,
            reading_category(r.systolic, r.diastolic),
            r.setting.value,
            r.sources,
        )
        for r in sorted(readings, key=lambda r: r.effective, reverse=True)
    )
    return Trends(
        since, tuple(chart(kind, values, since, record.as_of) for kind, values in series), rows
    )


def _first(reading: BloodPressureReading) -> str:
    return reading.sources[0] if reading.sources else ""


def chart(kind: ChartKind, values: Sequence[Dated], start: date, end: date) -> TrendChart:
    """One chart: values (oldest first) placed between `start` and `end`, bands behind them."""
    bands = kind.bands
    numbers = [value for _, value, _, _ in values]
    edges = [edge for band in bands for edge in (band.low, band.high) if edge is not None]
    low, high = _value_range(numbers, edges)
    first = datetime.combine(start, datetime.min.time()).timestamp()
    span = max(datetime.combine(end, datetime.max.time()).timestamp() - first, 1.0)
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(when: datetime) -> float:
        seconds = when.replace(tzinfo=None).timestamp() - first
        return round(LEFT + plot_width * min(max(seconds / span, 0.0), 1.0), 1)

    def y_of(value: float) -> float:
        return round(TOP + plot_height * (high - value) / (high - low), 1)

    placed = tuple(
        TrendValue(when, value, band_of(value, bands), source, derived, x_of(when), y_of(value))
        for when, value, source, derived in values
    )
    shown = []
    for band in bands:
        top = y_of(min(band.high, high)) if band.high is not None else TOP
        bottom = y_of(max(band.low, low)) if band.low is not None else TOP + plot_height
        if bottom > top:
            shown.append(PlacedBand(band.label, band.short, band.tone, top, round(bottom - top, 1)))
    years = range(start.year + 1, end.year + 1)
    step = 1 if len(years) <= 6 else 2
    x_ticks = tuple(
        Tick(x_of(datetime(year, 1, 1)), str(year))
        for year in years
        if (end.year - year) % step == 0
    )
    y_ticks = tuple(Tick(y_of(v), f"{v:g}") for v in _nice_ticks(low, high))
    return TrendChart(
        kind=kind,
        values=placed,
        bands=tuple(shown),
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        line=" ".join(f"{v.x},{v.y}" for v in placed),
        summary=_summary(kind, placed),
    )


def _value_range(numbers: Sequence[float], edges: Sequence[float]) -> tuple[float, float]:
    """The y axis: every value, and the band edges near them, with a margin."""
    if not numbers:
        low, high = (min(edges), max(edges)) if edges else (0.0, 1.0)
    else:
        low, high = min(numbers), max(numbers)
        # The band edges just outside the data show where the values sit against them.
        spread = max(high - low, abs(high) * 0.1, 1.0)
        near = [edge for edge in edges if low - spread <= edge <= high + spread]
        low, high = min([low, *near]), max([high, *near])
    margin = max((high - low) * 0.1, abs(high) * 0.02, 0.1)
    return low - margin, high + margin


def _nice_ticks(low: float, high: float) -> list[float]:
    raw = (high - low) / 4
    magnitude = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 0.1
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = (int(low / step) + 1) * step
    ticks = []
    value = first
    while value < high:
        ticks.append(round(value, 2))
        value += step
    return ticks


def _summary(kind: ChartKind, values: Sequence[TrendValue]) -> str:
    if not values:
        return f"{kind.title}: no values recorded in the last {TREND_YEARS} years."
    latest = values[-1]
    where = f" ({latest.band.short.lower()})" if latest.band else ""
    count = f"{len(values)} value{'s' if len(values) != 1 else ''}"
    first_day, last_day = values[0].effective.date(), latest.effective.date()
    extremes = ""
    if len(values) > 1:
        numbers = [v.value for v in values]
        extremes = (
            f" Lowest {kind.number(min(numbers))}, highest {kind.number(max(numbers))} {kind.unit}."
        )
    return (
        f"{kind.title}: {count} from {first_day.isoformat()} to {last_day.isoformat()}; latest "
        f"{kind.number(latest.value)} {kind.unit}{where}, on {last_day.isoformat()}.{extremes}"
    )
