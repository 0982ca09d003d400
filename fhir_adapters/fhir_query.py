"""The query of each URL the service sends to a FHIR server, percent-encoded (RFC 3986).

A proxy between the service and the FHIR server may rewrite what it forwards. The SMART
launcher (smart-launcher-v2, `backend/routes/fhir/proxy.ts`) collapses every `//` of the whole
URL, query included, so `code=http://loinc.org|4548-4` arrives as `http:/loinc.org|4548-4` and
matches nothing. Encoded, a value has no `/` left to collapse. The service's own queries (the
rendered templates) and the links a server gave (`next`, attachments) are encoded alike: a
`next` link followed through the launcher carries `//` too.

Everything in a parameter's name and value is encoded but RFC 3986's unreserved characters
(`A-Z a-z 0-9 - . _ ~`) and these, each kept for a reason:

- An escape already there (`%XX`) is kept as written, never decoded: encoding twice changes
  nothing, a server's own encoded `next` link is not encoded again, and an escape keeps the
  meaning its writer gave it (sekmet's `next` links hold `%2C`, `%7C` and `%3A`).
- `,` is FHIR's OR separator (`code=a,b`) and stays one. sekmet (starlette's decoded query, then
  a split on unescaped commas) and HAPI decode before they split, so `%2C` would read the same
  there; but a bare `,` is what the FHIR specification writes and every server splits on, and
  a comma inside one value is FHIR's `\\,`, whose backslash is encoded (`%5C,`).
- `+` is kept. Servers read a query as a form (starlette, Java servlets, Python's `parse_qs`),
  where `+` is a space, and a server's `next` link means its `+` as its own space: turned into
  `%2B` it would search for something else. The service's own queries hold no bare `+` (tokens
  are quoted when templates render, and a test reads every template), so a plus the service
  means, as in a time zone `+00:00`, is written `%2B` in its template.
- `:` is kept in names, where it is FHIR's modifier and chain syntax (`code:text`,
  `_has:Observation:patient:code`) and legal in an RFC 3986 query. In values it is encoded
  with `/` and `|` (`http%3A%2F%2Floinc.org%7C4548-4`), as sekmet writes its own links.

Names are not otherwise changed, the parameters keep their order, one without `=` stays
without it, and the path (its ids quoted when templates render) and any fragment are left as
they are.
"""

from __future__ import annotations

import re

_ESCAPE_OR_ENCODED_IN_VALUES = re.compile(r"%[0-9A-Fa-f]{2}|[^A-Za-z0-9\-._~,+]")
_ESCAPE_OR_ENCODED_IN_NAMES = re.compile(r"%[0-9A-Fa-f]{2}|[^A-Za-z0-9\-._~,+:]")


def _percent_encoded(match: re.Match[str]) -> str:
    text = match.group()
    if len(text) == 3:  # an escape already there (a single character matches alone)
        return text
    # A lone surrogate can only come from a server's own link (JSON allows "\ud800"): its bytes
    # go back to that server, which finds nothing, rather than failing the whole call here.
    return "".join(f"%{byte:02X}" for byte in text.encode("utf-8", "surrogatepass"))


def encoded_query(query: str) -> str:
    """A query string (without its `?`) with each name and value percent-encoded."""
    parameters = []
    for parameter in query.split("&"):
        name, equals, value = parameter.partition("=")
        encoded_name = _ESCAPE_OR_ENCODED_IN_NAMES.sub(_percent_encoded, name)
        encoded_value = _ESCAPE_OR_ENCODED_IN_VALUES.sub(_percent_encoded, value)
        parameters.append(f"{encoded_name}{equals}{encoded_value}")
    return "&".join(parameters)


def with_encoded_query(url: str) -> str:
    """The URL (absolute or relative) with its query percent-encoded; the rest as it was."""
    before_query, question_mark, rest = url.partition("?")
    if not question_mark:
        return url
    query, hash_mark, fragment = rest.partition("#")
    return f"{before_query}?{encoded_query(query)}{hash_mark}{fragment}"
