"""The population report counts what the work list holds, and shows no small cell or patient id.

The work list is a scored generated export, written as the single-process loop's CSV; the
expected counts are computed here from its rows, apart from the report's own tallying.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cds_service.population.report import WorkListUnreadable, write_report
from cds_service.population.scoring import score_export, work_list_columns
from cds_service.population.synthetic_export import write_synthetic_export

AS_OF = date(2026, 6, 1)
PATIENTS, SEED = 80, 11
SERVICES = {"diabetes": "Diabetes risk", "hypertension": "Hypertension risk"}
VOID_ELEMENTS = frozenset({"meta", "br", "hr", "img", "input", "link"})
Row = Mapping[str, str]


class ReportPage(HTMLParser):
    """The page's tables by caption (cells as text) and its SVG bars, checking every element
    closes in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        # In each chart, every value label with the width of the bar drawn before it.
        self.bars: list[tuple[str, str]] = []
        self.open_elements: list[str] = []
        self.svg_roles: list[str | None] = []
        self._caption: str | None = None
        self._cells: list[str] | None = None
        self._text: list[str] = []
        self._width: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID_ELEMENTS:
            self.open_elements.append(tag)
        attributes = dict(attrs)
        if tag == "svg":
            self.svg_roles.append(attributes.get("role"))
        if tag == "rect" and attributes.get("height") != "12":  # 12: a legend's swatch
            self._width = attributes.get("width")
        if tag == "tr":
            self._cells = []
        self._text = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_ELEMENTS:
            self.handle_endtag(tag)

    def handle_data(self, data: str) -> None:
        self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        assert self.open_elements[-1:] == [tag], f"</{tag}> closes no open <{tag}>"
        self.open_elements.pop()
        text = "".join(self._text).strip()
        if tag == "caption":
            self._caption = text
            self.tables[text] = []
        elif tag in ("th", "td") and self._cells is not None:
            self._cells.append(text)
        elif tag == "tr" and self._cells is not None and self._caption is not None:
            self.tables[self._caption].append(self._cells)
            self._cells = None
        elif tag == "text" and self._width is not None:
            self.bars.append((self._width, text))
            self._width = None
        self._text = []


def parsed(html: str) -> ReportPage:
    """The page, parsed; it must be well formed (every element closed in order)."""
    page = ReportPage()
    page.feed(html)
    page.close()
    assert page.open_elements == []
    return page


def cell(count: int) -> str:
    """A count as the page must show it: "<11" from 1 to 10."""
    return "<11" if 0 < count < 11 else f"{count:,}"


def age_group(row: Row) -> str:
    if not row["age_years"]:
        return "age not recorded"
    age = int(row["age_years"])
    return "under 18" if age < 18 else "18-39" if age < 40 else "40-64" if age < 65 else "65+"


def category(row: Row, service: str, what: str) -> str:
    """The patient's risk band (excluded first, as the report counts it) or card."""
    if what == "card":
        return row[f"{service}_card"] or "no card"
    if row[f"{service}_exclusion"]:
        return "excluded"
    return row[f"{service}_band"] or "not estimated"


def table_counts(rows: list[list[str]]) -> dict[tuple[str, str], str]:
    """A two-way table as {(row heading, column heading): cell}."""
    header, *body = rows
    return {
        (line[0], column): value
        for line in body
        for column, value in zip(header[1:], line[1:], strict=True)
    }


@pytest.fixture(scope="module")
def work_list(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, str]]]:
    """A scored generated export as a CSV work list, and its rows as read back."""
    folder = tmp_path_factory.mktemp("population")
    write_synthetic_export(folder / "export", PATIENTS, SEED, AS_OF)
    path = folder / "worklist.csv"
    with path.open("w", newline="", encoding="utf-8") as lines:
        writer = csv.DictWriter(lines, [name for name, _ in work_list_columns()])
        writer.writeheader()
        for row in score_export(folder / "export", AS_OF):
            writer.writerow(row.flat())
    with path.open(newline="", encoding="utf-8") as lines:
        return path, list(csv.DictReader(lines))


@pytest.fixture(scope="module")
def report(work_list: tuple[Path, list[dict[str, str]]]) -> str:
    path, _ = work_list
    written = write_report(path, path.with_name("report.html"), AS_OF)
    return written.read_text(encoding="utf-8")


def test_the_report_is_one_accessible_page_that_loads_nothing(report: str) -> None:
    page = parsed(report)
    assert report.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in report
    assert "<title>Population risk summary, 2026-06-01</title>" in report
    assert f"<strong>{PATIENTS}</strong> patients" in report
    assert page.svg_roles
    assert all(role == "img" for role in page.svg_roles)
    assert report.count("<svg") == report.count("<title id=") == len(page.tables)
    for loads in ("<script", "<link", "<img", "src=", "@import", "url("):
        assert loads not in report
    assert "/model-cards/diabetes-dysglycemia" in report


def test_counts_by_band_and_card_are_the_work_lists(
    work_list: tuple[Path, list[dict[str, str]]], report: str
) -> None:
    _, rows = work_list
    tables = parsed(report).tables
    for service, title in SERVICES.items():
        for what in ("risk band", "card"):
            totals = Counter(category(r, service, what) for r in rows)
            one_way = tables[f"{title}: patients by {what}"]
            assert one_way[0] == [what, "patients"]
            assert {line[0]: line[1] for line in one_way[1:]} == {
                name: cell(count) for name, count in totals.items()
            }
            by_age = Counter((category(r, service, what), age_group(r)) for r in rows)
            shown = table_counts(tables[f"{title}: patients by {what} and age group"])
            assert {"18-39", "40-64", "65+", "under 18"} <= {column for _, column in shown}
            assert shown == {key: cell(by_age[key]) for key in shown}
            assert all(key in shown for key in by_age)
            by_sex = Counter((category(r, service, what), r["sex"]) for r in rows)
            shown = table_counts(tables[f"{title}: patients by {what} and sex"])
            assert shown == {key: cell(by_sex[key]) for key in shown}
            assert all(key in shown for key in by_sex)


def test_exclusions_and_completeness_are_the_work_lists(
    work_list: tuple[Path, list[dict[str, str]]], report: str
) -> None:
    _, rows = work_list
    tables = parsed(report).tables
    for service, title in SERVICES.items():
        reasons = Counter(r[f"{service}_exclusion"] for r in rows if r[f"{service}_exclusion"])
        table = tables[f"{title}: patients excluded, by reason"]
        assert {line[0]: line[1] for line in table[1:]} == {
            reason: cell(count) for reason, count in reasons.items()
        }
    completeness = tables[
        "Patients without an HbA1c or an office blood pressure in 12 months, by age group"
    ]
    for group, patients, no_hba1c, no_pressure in completeness[1:]:
        members = [r for r in rows if age_group(r) == group]
        assert patients == cell(len(members))
        for shown, flag in (
            (no_hba1c, "hba1c_in_12_months"),
            (no_pressure, "office_bp_in_12_months"),
        ):
            lacking = sum(r[flag] != "True" for r in members)
            if 0 < lacking < 11 or 0 < len(members) < 11:
                assert shown == "<11"
            elif members:
                assert shown == f"{lacking:,} ({lacking / len(members):.1%})"
    # The generated panel lacks some of each, so the shares were counted, not all zero.
    assert any(r["hba1c_in_12_months"] == "False" for r in rows)
    assert any(r["office_bp_in_12_months"] == "False" for r in rows)


def test_no_small_count_and_no_patient_id_is_shown(
    work_list: tuple[Path, list[dict[str, str]]], report: str
) -> None:
    _, rows = work_list
    page = parsed(report)
    cells = [value for table in page.tables.values() for line in table[1:] for value in line[1:]]
    assert "<11" in cells
    assert not [value for value in cells if value.isdigit() and 0 < int(value) < 11]
    # A small cell gets no bar, only its "<11"; other bars say their count.
    assert ("0", "<11") in page.bars
    assert all(width == "0" for width, text in page.bars if text == "<11")
    assert not [text for _, text in page.bars if text.isdigit() and 0 < int(text) < 11]
    for row in rows:
        assert row["patient_id"] not in report
        assert not row["diabetes_summary"] or row["diabetes_summary"] not in report


def small_work_list(path: Path, rows: list[dict[str, object]]) -> Path:
    """A work list of the given rows, as Spark writes one (flags "true", nulls empty)."""
    columns = [name for name, _ in work_list_columns()]
    with path.open("w", newline="", encoding="utf-8") as lines:
        writer = csv.DictWriter(lines, columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({name: row.get(name, "") for name in columns})
    return path


def patients(count: int, **values: object) -> Iterator[dict[str, object]]:
    for number in range(count):
        yield {"patient_id": f"id-{values.get('sex')}-{number}", **values}


def test_a_group_of_11_is_shown_and_one_of_10_is_not(tmp_path: Path) -> None:
    rows = [
        *patients(11, age_years=50, sex="female", diabetes_band="high"),
        *patients(10, age_years=50, sex="male", diabetes_band="low"),
    ]
    for row in rows:
        row.update(hba1c_in_12_months="true", office_bp_in_12_months="false")
    work_list = small_work_list(tmp_path / "worklist.csv", rows)
    html = write_report(work_list, tmp_path / "report.html", AS_OF).read_text(encoding="utf-8")
    tables = parsed(html).tables
    bands = table_counts(tables["Diabetes risk: patients by risk band and sex"])
    assert bands["high", "female"] == "11"
    assert bands["low", "male"] == "<11"
    assert bands["low", "female"] == "0"
    completeness = tables[
        "Patients without an HbA1c or an office blood pressure in 12 months, by age group"
    ]
    assert ["40-64", "21", "0 (0.0%)", "21 (100.0%)"] in completeness
    assert ["18-39", "0", "0", "0"] in completeness
    # The completeness chart draws shares: all 21 lack an office BP, a full-length bar.
    assert ("360", "100%") in parsed(html).bars


def test_a_work_list_without_the_columns_is_refused(tmp_path: Path) -> None:
    work_list = tmp_path / "worklist.csv"
    work_list.write_text("patient_id,diabetes_band\np-secret,low\n", encoding="utf-8")
    with pytest.raises(WorkListUnreadable, match="no column age_years") as refused:
        write_report(work_list, tmp_path / "report.html", AS_OF)
    assert "p-secret" not in str(refused.value)


def test_an_age_that_is_not_a_number_is_refused_without_its_value(tmp_path: Path) -> None:
    work_list = small_work_list(tmp_path / "worklist.csv", [{"age_years": "forty-secret"}])
    with pytest.raises(WorkListUnreadable, match="line 2: age_years") as refused:
        write_report(work_list, tmp_path / "report.html", AS_OF)
    assert "secret" not in str(refused.value)
    assert not (tmp_path / "report.html").exists()


def test_a_work_list_with_quoted_texts_is_read(tmp_path: Path) -> None:
    # As the population job writes it: a text holding a comma and a quote, the quote doubled.
    header = ",".join(name for name, _ in work_list_columns())
    values = dict.fromkeys((name for name, _ in work_list_columns()), "")
    values.update(
        age_years="70",
        sex="male",
        hba1c_in_12_months="false",
        office_bp_in_12_months="true",
        diabetes_summary='"Risk ""high, 40%"" band"',
        diabetes_band="high",
        # Markup in a text is shown as text, never read as markup.
        hypertension_exclusion="pregnant <b>&",
    )
    line = ",".join(values.values())
    work_list = tmp_path / "worklist.csv"
    work_list.write_text("\n".join([header, *[line] * 11]) + "\n")
    html = write_report(work_list, tmp_path / "report.html", AS_OF).read_text(encoding="utf-8")
    tables = parsed(html).tables
    assert (
        table_counts(tables["Diabetes risk: patients by risk band and age group"])["high", "65+"]
        == "11"
    )
    reasons = tables["Hypertension risk: patients excluded, by reason"]
    assert reasons[1:] == [["pregnant <b>&", "11"]]
    assert "pregnant &lt;b&gt;&amp;" in html
    assert "<b>" not in html


def test_a_short_line_counts_its_missing_cells_as_empty(tmp_path: Path) -> None:
    header = ",".join(name for name, _ in work_list_columns())
    work_list = tmp_path / "worklist.csv"
    work_list.write_text(header + "\n" + "p-short,70,male\n" * 11, encoding="utf-8")
    html = write_report(work_list, tmp_path / "report.html", AS_OF).read_text(encoding="utf-8")
    bands = table_counts(parsed(html).tables["Diabetes risk: patients by risk band and sex"])
    assert bands["not estimated", "male"] == "11"
