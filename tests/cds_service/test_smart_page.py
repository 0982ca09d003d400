"""The SMART detail page's content through real HTTP, checked against the FHIR server's own data:
the trends list every value in their window, a launch from a card opens on its risk, the
banner names the patient, and each note excerpt links to its place in the note."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import httpx
import pytest
from demo_servers import DemoEhrServer
from fhir_servers import SekmetServer
from fhir_truth import BMI, BP_PANEL, HBA1C, SYSTOLIC, dated_values, observations
from support import CdssServer
from test_smart_launch import follow, launch

from cards.diabetes_cards import PREDIABETES_MONITORING, RISK
from cards.hypertension_cards import INCIDENCE
from cards.hypertension_unmeasured import UNMEASURED

# A Synthea patient with HbA1c, BMI and blood pressure over years, and notes.
PATIENT = "synthea-3"
OTHER_PATIENT = "synthea-1"


@contextmanager
def open_app(
    smart_service: CdssServer,
    demo_ehr: DemoEhrServer,
    patient_id: str,
    app_context: str | None = None,
) -> Iterator[httpx.Client]:
    """A browser-like client with the app launched for the patient (cookie set)."""
    if app_context is None:
        launch_id = launch(demo_ehr, patient_id)
    else:
        answer = httpx.post(
            demo_ehr.base_url + "/launches",
            json={"patient": patient_id, "appContext": app_context},
        )
        assert answer.status_code == 201
        launch_id = answer.json()["launch"]
    with httpx.Client(base_url=smart_service.base_url, timeout=30) as client:
        started = client.get(
            "/smart/launch", params={"iss": demo_ehr.fhir_base_url, "launch": launch_id}
        )
        back = follow(client, follow(client, started))
        assert back.status_code == 303
        yield client


def text_of(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def table_rows(page: str, table_id: str) -> list[list[str]]:
    """The body rows of the table with this id, as cell texts."""
    table = re.search(rf'<table id="{table_id}">(.*?)</table>', page, re.S)
    assert table is not None, f"no table {table_id}"
    body = re.search(r"<tbody>(.*?)</tbody>", table.group(1), re.S)
    assert body is not None
    return [
        [text_of(cell) for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    ]


@pytest.fixture(scope="module")
def page_response(
    smart_service: CdssServer, demo_ehr: DemoEhrServer, loaded_patients: dict[str, str]
) -> httpx.Response:
    with open_app(smart_service, demo_ehr, loaded_patients[PATIENT]) as client:
        answer = client.get("/smart/app")
    assert answer.status_code == 200
    return answer


@pytest.fixture(scope="module")
def page(page_response: httpx.Response) -> str:
    return page_response.text


def test_the_page_says_where_its_time_went_and_nothing_else(
    page_response: httpx.Response,
) -> None:
    parts = [part.strip() for part in page_response.headers["Server-Timing"].split(",")]
    durations = dict(part.split(";dur=") for part in parts)
    assert set(durations) == {"fhir", "explain", "notes", "render"}
    assert all(float(value) >= 0 for value in durations.values())
    assert page_response.headers["Cache-Control"] == "no-store"


def since_of(page: str) -> date:
    shown = re.search(r'<h2 id="trends">Trends since (\d{4}-\d\d-\d\d)</h2>', page)
    assert shown is not None
    return date.fromisoformat(shown.group(1))


@pytest.mark.parametrize(
    ("table", "code", "decimals"),
    [("values-hba1c", HBA1C, 1), ("values-bmi", BMI, 1)],
)
def test_a_trend_lists_every_value_the_fhir_server_holds_in_its_window(
    page: str,
    fhir_server: SekmetServer,
    loaded_patients: dict[str, str],
    table: str,
    code: str,
    decimals: int,
) -> None:
    since = since_of(page)
    expected = dated_values(observations(fhir_server, loaded_patients[PATIENT], code), code, since)
    assert expected, "the patient should have values in the window"
    shown = {(row[0], row[1]) for row in table_rows(page, table)}
    assert shown == {(day, f"{value:.{decimals}f}") for day, value in expected}
    # One point drawn per value.
    figure = re.search(rf'<figure id="trend-{table[len("values-") :]}"(.*?)</figure>', page, re.S)
    assert figure is not None
    assert len(re.findall(r'<circle class="point"', figure.group(1))) == len(
        table_rows(page, table)
    )


def test_the_blood_pressure_readings_and_their_acc_aha_categories(
    page: str, fhir_server: SekmetServer, loaded_patients: dict[str, str]
) -> None:
    since = since_of(page)
    patient_id = loaded_patients[PATIENT]
    systolic = dated_values(observations(fhir_server, patient_id, BP_PANEL), SYSTOLIC, since)
    systolic |= dated_values(observations(fhir_server, patient_id, SYSTOLIC), SYSTOLIC, since)
    rows = table_rows(page, "readings-blood-pressure")
    assert {(row[0], row[1]) for row in rows if row[1] != "-"} == {
        (day, f"{value:.0f}") for day, value in systolic
    }
    for day, sbp, dbp, category, _setting in rows:
        if "-" in (sbp, dbp):
            continue
        s, d = int(sbp), int(dbp)
        # ACC/AHA 2017, written out: the higher of the two numbers' categories.
        if s >= 140 or d >= 90:
            assert category == "Stage 2 hypertension range", day
        elif s >= 130 or d >= 80:
            assert category == "Stage 1 hypertension range", day
        elif s >= 120:
            assert category == "Elevated", day
        else:
            assert category == "Normal", day


def test_the_banner_names_the_patient_from_the_chart(
    page: str, fhir_server: SekmetServer, loaded_patients: dict[str, str]
) -> None:
    patient_id = loaded_patients[PATIENT]
    patient = httpx.get(
        f"{fhir_server.base_url}/Patient/{patient_id}",
        headers={"Authorization": f"Bearer {fhir_server.access_token}"},
    ).json()
    name = next(n for n in patient["name"] if n.get("use", "official") == "official")
    banner = re.search(r'<span class="name" id="patient-name">([^<]+)</span>', page)
    assert banner is not None
    assert html.unescape(banner.group(1)) == " ".join([*name["given"], name["family"]])
    assert f"Born {patient['birthDate']}" in page


@pytest.mark.parametrize(
    ("card_type", "model", "patient"),
    [
        (RISK, "diabetes-dysglycemia", PATIENT),
        (PREDIABETES_MONITORING, "diabetes-undiagnosed", PATIENT),
        # No blood pressure in the last 12 months: the estimate if measured.
        (UNMEASURED, "hypertension-unmeasured", "synthea-1"),
        # A recent normal blood pressure: the 4-year risk.
        (INCIDENCE, "hypertension-incidence", "carebundle-healthy"),
        (None, None, PATIENT),
    ],
)
def test_a_launch_from_a_card_opens_on_that_cards_risk(
    smart_service: CdssServer,
    demo_ehr: DemoEhrServer,
    loaded_patients: dict[str, str],
    card_type: str | None,
    model: str | None,
    patient: str,
) -> None:
    with open_app(smart_service, demo_ehr, loaded_patients[patient], card_type) as client:
        page = client.get("/smart/app").text
    sections = re.findall(r'<section class="risk( focused)?" id="risk-([a-z-]+)"', page)
    assert len(sections) >= 2
    if model is None:
        assert not any(focused for focused, _ in sections)
        assert 'id="opened-from-card"' not in page
    else:
        assert sections[0] == (" focused", model)
        assert not any(focused for focused, _ in sections[1:])
        assert 'id="opened-from-card"' in page


def summarised_page(client: httpx.Client) -> str:
    """The page once its note summary is made (the first view may come before it)."""
    for _ in range(60):
        page = client.get("/smart/app").text
        if 'id="note-excerpts"' in page:
            return page
        assert 'id="notes-pending"' in page
    raise AssertionError("the note summary never arrived")


def test_each_note_excerpt_links_to_its_place_in_the_note(
    smart_service: CdssServer,
    demo_ehr: DemoEhrServer,
    fhir_server: SekmetServer,
    loaded_patients: dict[str, str],
) -> None:
    headers = {"Authorization": f"Bearer {fhir_server.access_token}"}
    with open_app(smart_service, demo_ehr, loaded_patients[PATIENT]) as client:
        page = summarised_page(client)
        excerpts = re.findall(
            r'<blockquote>(.*?)</blockquote>\s*<p class="source note"><a href="([^"]+)">',
            page,
            re.S,
        )
        assert excerpts
        for quoted, link in excerpts:
            note = client.get(html.unescape(link))
            assert note.status_code == 200
            # The note page names the patient as the page does.
            named = re.findall(r'id="patient-name">([^<]+)<', page)
            assert len(named) == 1
            assert re.findall(r'id="patient-name">([^<]+)<', note.text) == named
            marked = re.search(r'<mark id="excerpt">(.*?)</mark>', note.text, re.S)
            assert marked is not None
            assert html.unescape(marked.group(1)) == html.unescape(quoted)
            # The page shows the note's whole text as the FHIR server holds it.
            kind, ident = re.match(r"/smart/app/notes/(\w+)/([^?]+)", html.unescape(link)).groups()  # type: ignore[union-attr]
            resource = httpx.get(f"{fhir_server.base_url}/{kind}/{ident}", headers=headers).json()
            attachments = [c["attachment"] for c in resource.get("content", [])] + resource.get(
                "presentedForm", []
            )
            texts = {base64.b64decode(a["data"]).decode() for a in attachments if "data" in a}
            shown = re.search(r'aria-label="Note text">(.*?)</div>', note.text, re.S)
            assert shown is not None
            assert text_of(shown.group(1)) in {t.strip() for t in texts}


def test_a_note_not_in_the_patients_chart_is_not_shown(
    smart_service: CdssServer,
    demo_ehr: DemoEhrServer,
    fhir_server: SekmetServer,
    loaded_patients: dict[str, str],
) -> None:
    others = httpx.get(
        f"{fhir_server.base_url}/DocumentReference",
        params={"patient": loaded_patients[OTHER_PATIENT], "_count": "1"},
        headers={"Authorization": f"Bearer {fhir_server.access_token}"},
    ).json()
    other_note = others["entry"][0]["resource"]["id"]
    with open_app(smart_service, demo_ehr, loaded_patients[PATIENT]) as client:
        refused = client.get(
            f"/smart/app/notes/DocumentReference/{other_note}",
            params={"element": "content[0].attachment"},
        )
        assert refused.status_code == 404
        assert other_note not in refused.text
        assert client.get("/smart/app/notes/Observation/1").status_code == 404
    without_session = httpx.get(
        f"{smart_service.base_url}/smart/app/notes/DocumentReference/{other_note}"
    )
    assert without_session.status_code == 400


# synthea-1 has the learned models' estimates (synthea-2's diabetes, Synthea's SNOMED 127013003,
# is recognised since the value sets: no diabetes estimate); carebundle-healthy has Parikh's.
@pytest.mark.parametrize("patient", ["synthea-1", "carebundle-healthy"])
def test_each_explanation_adds_up_from_its_starting_point_to_its_estimate(
    smart_service: CdssServer,
    demo_ehr: DemoEhrServer,
    loaded_patients: dict[str, str],
    patient: str,
) -> None:
    with open_app(smart_service, demo_ehr, loaded_patients[patient]) as client:
        page = client.get("/smart/app").text
    explained = re.findall(
        r"The model starts from ([+-]\d+\.\d\d) \(([^)]+)\), .*? move it to ([+-]\d+\.\d\d)",
        page,
    )
    tables = re.findall(r'<table id="factors-[a-z-]+">(.*?)</table>', page, re.S)
    assert explained
    assert len(explained) == len(tables)
    for (baseline, _scale, margin), table in zip(explained, tables, strict=True):
        pushes = [float(push) for push in re.findall(r"\(([+-]\d+\.\d\d)\)</td>", table)]
        # Shown to two decimals: each rounded number may be off by 0.005.
        tolerance = 0.005 * (len(pushes) + 2)
        assert abs(float(baseline) + sum(pushes) - float(margin)) <= tolerance


def test_a_risk_over_time_lists_each_horizon_up_to_its_estimate(
    smart_service: CdssServer, demo_ehr: DemoEhrServer, loaded_patients: dict[str, str]
) -> None:
    # A recent normal blood pressure: the Framingham risk at 1, 2 and 4 years.
    with open_app(smart_service, demo_ehr, loaded_patients["carebundle-healthy"]) as client:
        page = client.get("/smart/app").text
    horizons = re.search(r'<p id="horizons-hypertension-incidence">Over time: (.*?)\.</p>', page)
    estimate = re.search(
        r'id="estimate-hypertension-incidence">Estimated probability: <strong>([^<]+)<', page
    )
    assert horizons is not None
    assert estimate is not None
    listed = [part.split(": ") for part in horizons.group(1).split("; ")]
    assert [years for years, _ in listed] == ["1 year", "2 years", "4 years"]
    assert listed[-1][1] == estimate.group(1)
    risks = [float(value.rstrip("%<")) for _, value in listed if value[0].isdigit()]
    assert risks == sorted(risks)  # a risk can only grow with time


def test_data_not_used_is_said_in_the_clinicians_plain_words(
    smart_service: CdssServer, demo_ehr: DemoEhrServer, loaded_patients: dict[str, str]
) -> None:
    """Issue 16, item 13: the page is the clinician's, like the cards: what could not be used in
    plain words with a count, never the FHIR path or the technical reason (those are the log's).
    variant-messy holds a BMI of 900, a weight in stone, a systolic of 20 and a PDF note."""
    with open_app(smart_service, demo_ehr, loaded_patients["variant-messy"]) as client:
        page = client.get("/smart/app").text
    section = page.split('id="data-not-used"', 1)[1].split("</ul>", 1)[0]
    assert "A result or measurement could not be used (3 entries)" in text_of(section)
    for technical in ("Observation/", "valueQuantity", "stone", "plausible range", "pdf"):
        assert technical not in section
