"""The trend charts' geometry: values and bands placed in a fixed SVG viewBox, and the ticks.

Pure and measure-agnostic: `trends` and `blood_pressure_trends` say what is drawn (which
values, which bands); this module says where. A chart may hold two series, office (or
unstated) values joined by a line, and home readings drawn apart as their own markers, and
reference lines (a home mean over its series' days, a home threshold across the chart).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

# How far back the charts reach: older values say little about today's risk, and a long
# Synthea-like history would crowd the drawing.
TREND_YEARS = 10
# The drawing's coordinate system (the SVG scales to the page's width); the right margin holds
# the bands' names.
WIDTH, HEIGHT = 640.0, 180.0
LEFT, RIGHT, TOP, BOTTOM = 52.0, 96.0, 10.0, 26.0

NORMAL, WATCH, HIGH, HIGHER = "normal", "watch", "high", "higher"
# The shortest a dated reference line is drawn (SVG units).
MIN_REFERENCE_WIDTH = 16.0


@dataclass(frozen=True)
class ChartFrame:
    """The SVG's size and where its plotting area lies, for the template."""

    width: float = WIDTH
    height: float = HEIGHT
    left: float = LEFT
    plot_right: float = WIDTH - RIGHT
    plot_bottom: float = HEIGHT - BOTTOM


FRAME = ChartFrame()


@dataclass(frozen=True)
class Band:
    """A clinical range of a measure: [low, high), open where None."""

    label: str
    low: float | None
    high: float | None
    tone: str
    # The name drawn beside the chart, where the full label does not fit.
    short: str


def bands_between(
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


def band_of(value: float, bands: Sequence[Band]) -> Band | None:
    """The band the value falls in (None when the chart has no bands)."""
    for band in bands:
        if (band.low is None or value >= band.low) and (band.high is None or value < band.high):
            return band
    return None


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
    # A home reading: drawn as its own marker, not joined to the office line.
    home: bool = False


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
class Reference:
    """A horizontal line to draw: a value, over the days it holds for (None: the whole chart)."""

    label: str
    value: float
    css: str
    first: date | None = None
    last: date | None = None


@dataclass(frozen=True)
class PlacedReference:
    """A reference line in SVG coordinates."""

    label: str
    value: float
    css: str
    x1: float
    x2: float
    y: float


@dataclass(frozen=True)
class TrendChart:
    """One measure over time, ready to draw, with its values as rows."""

    kind: ChartKind
    values: tuple[TrendValue, ...]
    bands: tuple[PlacedBand, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    # "x1,y1 x2,y2 ...", oldest first, for an SVG polyline through the office values.
    line: str
    summary: str
    references: tuple[PlacedReference, ...] = ()

    @property
    def has_home_values(self) -> bool:
        """Whether any value is a home reading (the page then draws a legend)."""
        return any(value.home for value in self.values)


# When, value, the FHIR reference it came from, and whether it was computed.
Dated = tuple[datetime, float, str, bool]


def chart(
    kind: ChartKind,
    values: Sequence[Dated],
    start: date,
    end: date,
    home: Sequence[Dated] = (),
    home_bands: Sequence[Band] = (),
    references: Sequence[Reference] = (),
) -> TrendChart:
    """One chart: values (oldest first) placed between `start` and `end`, bands behind them;
    home readings (banded by `home_bands`) and reference lines beside them."""
    bands = kind.bands
    numbers = [value for _, value, _, _ in (*values, *home)] + [r.value for r in references]
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

    office = tuple(
        TrendValue(when, value, band_of(value, bands), source, derived, x_of(when), y_of(value))
        for when, value, source, derived in values
    )
    placed_home = tuple(
        TrendValue(when, value, band_of(value, home_bands), source, derived, x_of(when),
                   y_of(value), home=True)
        for when, value, source, derived in home
    )  # fmt: skip
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
    placed_references = []
    for r in references:
        x2 = WIDTH - RIGHT
        if r.last is not None:
            x2 = x_of(datetime.combine(r.last, datetime.max.time()))
        x1 = LEFT if r.first is None else x_of(datetime.combine(r.first, datetime.min.time()))
        # A week on a ten-year axis is a dot: the line is drawn at least this long, ending on
        # its last day, so that it can be seen.
        x1 = max(LEFT, min(x1, x2 - MIN_REFERENCE_WIDTH))
        placed_references.append(PlacedReference(r.label, r.value, r.css, x1, x2, y_of(r.value)))
    everything = tuple(sorted((*office, *placed_home), key=lambda v: (v.effective, v.home)))
    return TrendChart(
        kind=kind,
        values=everything,
        bands=tuple(shown),
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        line=" ".join(f"{v.x},{v.y}" for v in office),
        summary=_summary(kind, office, placed_home),
        references=tuple(placed_references),
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


def _summary(kind: ChartKind, values: Sequence[TrendValue], home: Sequence[TrendValue] = ()) -> str:
    home_part = ""
    if home:
        days = sorted({v.effective.date() for v in home})
        home_part = (
            f" Home readings: {len(home)} from {days[0].isoformat()} to {days[-1].isoformat()}, "
            "drawn apart."
        )
    if not values:
        if home:
            return f"{kind.title}: no office values in the last {TREND_YEARS} years.{home_part}"
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
        f"{kind.number(latest.value)} {kind.unit}{where}, on {last_day.isoformat()}."
        f"{extremes}{home_part}"
    )
