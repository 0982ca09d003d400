"""The query of every URL sent to a FHIR server is percent-encoded, once, keeping its meaning."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from launcher_proxy import launcher_url

from cds_service.services import diabetes_risk, hypertension_risk, note_summary
from cds_service.smart.detail import PAGE_TEMPLATES
from fhir_adapters.fhir_query import encoded_query, with_encoded_query
from fhir_adapters.fhir_server import url_on_server
from fhir_adapters.prefetch import PrefetchTemplate

BASE = "http://fhir.example.test/fhir"
HBA1C_AND_BMI = "http://loinc.org|4548-4,http://loinc.org|39156-5"
ENCODED_HBA1C_AND_BMI = "http%3A%2F%2Floinc.org%7C4548-4,http%3A%2F%2Floinc.org%7C39156-5"


@pytest.mark.parametrize(
    ("query", "encoded"),
    [
        # A code's system keeps its `//`, hidden from a proxy; the OR separator stays a comma.
        (f"patient=p1&code={HBA1C_AND_BMI}", f"patient=p1&code={ENCODED_HBA1C_AND_BMI}"),
        # Already encoded (a server's `next` link): left as it is, escapes in either case.
        (f"code={ENCODED_HBA1C_AND_BMI}", f"code={ENCODED_HBA1C_AND_BMI}"),
        ("code=http%3a%2f%2floinc.org", "code=http%3a%2f%2floinc.org"),
        # A server's `%2C` stays an escape; its `+` stays its space, its `%2B` a plus.
        ("name=a%2Cb&given=Anne+Marie&date=ge2024-01-01T00:00:00%2B00:00",
         "name=a%2Cb&given=Anne+Marie&date=ge2024-01-01T00%3A00%3A00%2B00%3A00"),
        # FHIR's escaped comma inside one value: the backslash is encoded, the comma kept.
        (r"identifier=a\,b", "identifier=a%5C,b"),
        ("given=Zoë&family=O'Brien Smith", "given=Zo%C3%AB&family=O%27Brien%20Smith"),
        ("_text=糖尿病", "_text=%E7%B3%96%E5%B0%BF%E7%97%85"),
        # A bare or broken `%` is a percent sign, encoded.
        ("value-quantity=50%&x=%zz", "value-quantity=50%25&x=%25zz"),
        # Empty values and parameters without `=` keep their shape; order is kept.
        ("b=&_summary&a=1&&c", "b=&_summary&a=1&&c"),
        ("", ""),
        # Names keep FHIR's modifier and chain syntax; only what needs it is encoded.
        ("code:text=blood sugar&_has:Observation:patient:code=4548-4",
         "code:text=blood%20sugar&_has:Observation:patient:code=4548-4"),
        ("subject.name=x&na me=y", "subject.name=x&na%20me=y"),
        # An `=` in a value belongs to the value.
        ("_filter=a=b", "_filter=a%3Db"),
    ],
)  # fmt: skip
def test_a_query_is_percent_encoded(query: str, encoded: str) -> None:
    assert encoded_query(query) == encoded


@given(st.text())
def test_encoding_twice_changes_nothing(query: str) -> None:
    once = encoded_query(query)
    assert encoded_query(once) == once


# Values as a template or a server would write them: no `%`, `&`, `#` or `+` of their own.
_PLAIN_VALUES = st.text(st.characters(exclude_characters="%&#+", exclude_categories=("Cs",)))


@given(st.lists(st.tuples(st.from_regex(r"[A-Za-z_][A-Za-z0-9_:.-]*", fullmatch=True),
                          _PLAIN_VALUES)))  # fmt: skip
def test_a_server_reads_the_same_parameters_after_encoding(
    parameters: list[tuple[str, str]],
) -> None:
    query = "&".join(f"{name}={value}" for name, value in parameters)
    assert parse_qsl(encoded_query(query), keep_blank_values=True) == parameters


@given(_PLAIN_VALUES)
def test_an_encoded_value_holds_no_slash_for_a_proxy_to_collapse(value: str) -> None:
    encoded = encoded_query(f"code={value}")
    assert "/" not in encoded
    assert unquote(encoded) == f"code={value}"


def test_a_servers_next_link_is_sent_as_the_server_wrote_it() -> None:
    # sekmet writes its links with urlencode: spaces as `+`, everything else escaped.
    query = urlencode([("code", HBA1C_AND_BMI), ("given", "Anne Marie"), ("_offset", "500")])
    link = f"{BASE}/Observation?{query}"
    assert url_on_server(BASE, link) == link


def test_the_url_sent_has_its_query_encoded_and_its_path_and_fragment_untouched() -> None:
    assert (
        url_on_server(BASE, f"Observation?code={HBA1C_AND_BMI}")
        == f"{BASE}/Observation?code={ENCODED_HBA1C_AND_BMI}"
    )
    assert url_on_server(BASE, "Patient/a%2Fb") == f"{BASE}/Patient/a%2Fb"
    assert with_encoded_query("Observation?code=a b#x y") == "Observation?code=a%20b#x y"


def test_a_patient_id_quoted_by_the_template_is_not_encoded_again() -> None:
    template = PrefetchTemplate("observations", "Observation?patient={{context.patientId}}")
    rendered = template.render({"patientId": "a/b+c d%"})
    assert rendered == "Observation?patient=a%2Fb%2Bc%20d%25"
    assert url_on_server(BASE, rendered or "") == f"{BASE}/{rendered}"


def test_through_the_launcher_an_encoded_query_arrives_as_sent() -> None:
    sent = url_on_server(BASE, f"Observation?patient=p1&code={HBA1C_AND_BMI}")
    assert launcher_url(BASE, sent.removeprefix(BASE)) == sent
    # Unencoded, the launcher would have lost the systems' `//`.
    unencoded = f"/Observation?patient=p1&code={HBA1C_AND_BMI}"
    assert "code=http:/loinc.org|" in launcher_url(BASE, unencoded)


SERVICE_TEMPLATES: tuple[PrefetchTemplate, ...] = (
    *diabetes_risk.DEFINITION.prefetch,
    *hypertension_risk.DEFINITION.prefetch,
    *note_summary.DEFINITION.prefetch,
    *PAGE_TEMPLATES,
)


@pytest.mark.parametrize("template", SERVICE_TEMPLATES, ids=lambda t: t.key)
def test_no_template_holds_a_bare_plus(template: PrefetchTemplate) -> None:
    # A bare `+` is sent as it is (a server's `next` link means it as a space), so a plus the
    # service means (a time zone `+00:00`) must be written `%2B` in its template.
    assert "+" not in template.query
