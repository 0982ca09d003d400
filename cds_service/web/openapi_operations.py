"""The parts an OpenAPI operation is made of here: security schemes, tags, error answers.

Used by `cds_service.web.openapi_paths` to describe each endpoint in few lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

SCHEMA_REF = "#/components/schemas/{model}"
JSON = "application/json"
HTML = "text/html"
FORM = "application/x-www-form-urlencoded"
PROMETHEUS_TEXT = "text/plain"

# Security schemes, by the name operations refer to them with.
CDS_HOOKS_JWT = "cdsHooksJwt"
ADMIN_TOKEN = "adminToken"  # noqa: S105 (a scheme's name, not a secret)
ADMIN_SESSION = "adminSession"
SMART_SESSION = "smartSession"

# Tags group the operations by concern, one per blueprint family.
CDS_HOOKS, ADMIN_API, ADMIN_PAGE, SMART_APP, OPERATIONS = (
    "CDS Hooks",
    "Admin API",
    "Admin page",
    "SMART app",
    "Operations",
)

TAGS = (CDS_HOOKS, ADMIN_API, ADMIN_PAGE, SMART_APP, OPERATIONS)

SECURITY_SCHEMES: Mapping[str, Any] = {
    CDS_HOOKS_JWT: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "The EHR's signed JWT (CDS Hooks 2.0 §Trusting CDS Clients): a trusted "
        "`iss`, `aud` the exact URL called, short-lived, each `jti` used once.",
    },
    ADMIN_TOKEN: {
        "type": "http",
        "scheme": "bearer",
        "description": "An admin token, configured by its SHA-256 digest (`[admin] "
        "token_sha256`). An EHR's JWT opens nothing here.",
    },
    ADMIN_SESSION: {"type": "apiKey", "in": "cookie", "name": "cdss_admin"},
    SMART_SESSION: {"type": "apiKey", "in": "cookie", "name": "cdss_smart"},
}

# What each error status means here; every one but 401 carries an OperationOutcome.
ERROR_MEANINGS: Mapping[int, str] = {
    400: "The request breaks the CDS Hooks specification or this API's rules; each issue names "
    "the field at fault (never the value sent).",
    401: "No valid credentials. No body; `WWW-Authenticate` says Bearer. The reason is logged "
    "by the service, not told to the caller.",
    404: "No such service or document.",
    409: "Another configuration change was accepted at the same moment: read it and retry.",
    412: "Hook calls: data the service needs was neither prefetched nor obtainable from the "
    "FHIR server; an issue per missing prefetch key, of code `timeout` when its query did not "
    "finish within the fetch budget. Admin changes: `If-Match` names a version no longer in "
    "force.",
    413: "The body is larger than the configured limit.",
    429: "Too many refused admin attempts from this address; `Retry-After` says when to retry.",
    500: "An unexpected failure (a bug): a fatal OperationOutcome, never a stack trace or "
    "request data.",
}
# Every operation may meet these: a body over the server's limit, and a bug.
ALWAYS = (413, 500)


def ref(model: str) -> dict[str, str]:
    """A reference to a component schema."""
    return {"$ref": SCHEMA_REF.format(model=model)}


def body(media_type: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """Content of one media type with this schema."""
    return {"content": {media_type: {"schema": dict(schema)}}}


def answer(description: str, model: str | None = None, **headers: str) -> dict[str, Any]:
    """A response, with a JSON body of `model` if given, and headers (`_` for `-`)."""
    response: dict[str, Any] = {"description": description}
    if model is not None:
        response.update(body(JSON, ref(model)))
    if headers:
        response["headers"] = {
            name.replace("_", "-"): {"description": text, "schema": {"type": "string"}}
            for name, text in headers.items()
        }
    return response


def page(description: str) -> dict[str, Any]:
    """An HTML page response."""
    return {"description": description, **body(HTML, {"type": "string"})}


def page_or_outcome(status: int) -> dict[str, Any]:
    """An error answered with a page where a browser is refused, else an OperationOutcome."""
    return {
        "description": ERROR_MEANINGS[status],
        "content": {
            HTML: {"schema": {"type": "string"}},
            JSON: {"schema": ref("OperationOutcome")},
        },
    }


def redirect(description: str) -> dict[str, Any]:
    """A redirect response."""
    return answer(description, Location="Where to go next.")


def error_answers(statuses: Iterable[int]) -> dict[str, Any]:
    """The error responses of these statuses (and `ALWAYS`), as `render_error` answers them."""
    answers: dict[str, Any] = {}
    for status in sorted({*statuses, *ALWAYS}):
        if status == 401:
            answers["401"] = answer(ERROR_MEANINGS[401], WWW_Authenticate="Bearer")
        elif status == 429:
            answers["429"] = answer(ERROR_MEANINGS[429], "OperationOutcome", Retry_After="Seconds.")
        else:
            answers[str(status)] = answer(ERROR_MEANINGS[status], "OperationOutcome")
    return answers


def operation(
    operation_id: str,
    summary: str,
    tag: str,
    answers: Mapping[str, Any],
    errors: Iterable[int] = (),
    *,
    security: str | None = None,
    parameters: Sequence[Mapping[str, Any]] = (),
    request_body: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One operation: its answers, then the error answers of `errors` (and `ALWAYS`)."""
    described: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "responses": {**answers, **error_answers(errors)},
    }
    if security is not None:
        described["security"] = [{security: []}]
    if parameters:
        described["parameters"] = [dict(item) for item in parameters]
    if request_body is not None:
        described["requestBody"] = {"required": True, **request_body}
    return described


def parameter(
    name: str, where: str, schema: Mapping[str, Any], description: str = ""
) -> dict[str, Any]:
    """A parameter in the path, query or a header."""
    described: dict[str, Any] = {"name": name, "in": where, "schema": dict(schema)}
    if where == "path":
        described["required"] = True
    if description:
        described["description"] = description
    return described


def form(*fields: str) -> dict[str, Any]:
    """An HTML form body of these text fields."""
    properties = {name: {"type": "string"} for name in fields}
    return body(FORM, {"type": "object", "properties": properties})


def query_parameters(*names: str) -> list[dict[str, Any]]:
    """Optional text query parameters."""
    return [parameter(name, "query", {"type": "string"}) for name in names]
