"""A stand-in for the SMART launcher's backend on 127.0.0.1, as a launched app meets it.

It follows smart-launcher-v2 (github.com/smart-on-fhir/smart-launcher-v2 at 64374254, mirrored
under /work/.mirror); each part names the source file it follows. Paths (backend/index.ts):
`/launcher`, `/v/r4[/sim/{launch options}]/auth/{authorize,token}` and the FHIR base
`/v/r4[/sim/{launch options}]/fhir`, whose requests go through tests/launcher_proxy.py (the
launcher's proxy.ts) to the real FHIR server. The browser pages the authorize endpoint sends a
user to (patient picker, encounter picker, approval) are played by a user who takes the first
choice offered, and they send the browser back to authorize as the React pages do.

Left out, as the app never reaches them: OpenID Connect (id_token, `prompt=none`), refresh
tokens, confidential clients, simulated errors, the launcher's own CapabilityStatement (`metadata`
is proxied) and the legacy object form of the launch options.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urljoin, urlsplit, urlunsplit

import httpx
from launcher_proxy import LAUNCHER_FHIR_PATH, LauncherProxy
from smart_launcher_protocol import (
    ACCESS_TOKEN_MINUTES,
    AUTO,
    FHIR_RELEASE,
    MANUAL,
    NO_ENCOUNTER,
    LaunchOptions,
    OAuthFailure,
    Reply,
    authorization_code,
    form_bool,
    json_reply,
    pkce_challenge,
    redirect,
    sign,
    smart_configuration,
    validate_authorize_request,
    verify,
    with_query,
)
from support import LoopbackHttpServer

FORM = "application/x-www-form-urlencoded"
LAUNCHER_UI = "launcherUI"
_ROUTE = re.compile(
    r"^/v/(?P<release>r[234])(?:/sim/(?P<sim>[^/]+))?/(?P<part>auth|fhir)(?P<rest>/.*)?$"
)


class SmartLauncherServer:
    """The launcher in front of a FHIR server (`upstream_base_url`, with `upstream_token`
    standing in for the open server the launcher expects); `start()`, then `stop()`."""

    def __init__(self, upstream_base_url: str, upstream_token: str) -> None:
        self.upstream_base_url = upstream_base_url.rstrip("/")
        self.upstream_token = upstream_token
        self.proxy = LauncherProxy(self.upstream_base_url, upstream_token=upstream_token)
        self.authorize_requests: list[dict[str, str]] = []  # as the app sent them
        self.token_answers: list[dict[str, Any]] = []
        # Each FHIR request's path and query under the base, with the `client_id` of the
        # launcher's token it brought (None without one).
        self.fhir_requests: list[tuple[str, str | None]] = []
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=30)
        self._http = LoopbackHttpServer(self._handler_class())
        self.origin = self._http.origin

    def start(self) -> SmartLauncherServer:
        """Start serving."""
        self.proxy.start()
        self._http.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._http.stop()
        self._client.close()
        self.proxy.stop()

    # The URLs a user opens --------------------------------------------------------------------

    @property
    def fhir_base(self) -> str:
        """The EHR launch's `iss` (src/components/Launcher/index.tsx: `/v/{release}/fhir`)."""
        return f"{self.origin}/v/{FHIR_RELEASE}/fhir"

    def standalone_fhir_base(self, options: LaunchOptions) -> str:
        """The FHIR base the launcher's page shows for a standalone launch (Launcher/index.tsx
        `aud`: the launch options as the `sim` segment)."""
        return f"{self.origin}/v/{FHIR_RELEASE}/sim/{options.encode()}/fhir"

    def ehr_launch_url(self, launch_url: str, options: LaunchOptions) -> str:
        """The "Launch" link of the launcher's page (Launcher/index.tsx `userLaunchUrl`)."""
        return with_query(launch_url, iss=self.fhir_base, launch=options.encode())

    def launcher_endpoint_url(self, launch_uri: str, patient: str, select_encounter: bool) -> str:
        """A link to the launcher's `/launcher` endpoint (backend/routes/launcher.ts)."""
        query = {"launch_uri": launch_uri, "fhir_ver": "4", "patient": patient}
        if select_encounter:
            query["select_encounter"] = "1"
        return f"{self.origin}/launcher?{urlencode(query)}"

    # Routes ------------------------------------------------------------------------------------

    def respond(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        """The launcher's answer to one request (backend/index.ts routing)."""
        split = urlsplit(target)
        host = headers.get("x-forwarded-host") or headers.get("host", "")
        base = f"{headers.get('x-forwarded-proto', 'http')}://{host}"  # lib.ts getRequestBaseURL
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        if split.path == "/launcher":
            return self._launcher(base, query)
        if split.path in ("/select-patient", "/select-encounter", "/authorize-app"):
            return self._user_page(split.path, query)
        if split.path == "/smart-style.json":
            return json_reply(200, {"color_background": "#edeae3", "font_family_body": "Georgia"})
        route = _ROUTE.match(split.path)
        if route is None or route["release"] != FHIR_RELEASE:
            return Reply(404, b"Not found")
        prefix = f"/v/{FHIR_RELEASE}" + (f"/sim/{route['sim']}" if route["sim"] else "")
        rest = route["rest"] or ""
        if route["part"] == "fhir":
            if rest == "/.well-known/smart-configuration":
                return json_reply(200, smart_configuration(base + prefix))
            return self._fhir(
                base + prefix + "/fhir", target[len(prefix + "/fhir") :], headers, body, method
            )
        params = (
            query if method == "GET" else dict(parse_qsl(body.decode(), keep_blank_values=True))
        )
        try:
            if method == "POST" and not headers.get("content-type", "").startswith(FORM):
                # lib.ts requireUrlencodedPost
                raise OAuthFailure("invalid_request", "Invalid request content-type header", 400)
            if rest == "/authorize":
                with self._lock:
                    self.authorize_requests.append(params)
                return self._authorize(base, prefix, params, route["sim"] or "")
            if rest == "/token" and method == "POST":
                return self._token(base, params)
        except OAuthFailure as failure:
            return failure.reply(params)
        return Reply(404, b"Not found")

    def _launcher(self, base: str, query: dict[str, str]) -> Reply:
        """backend/routes/launcher.ts: a provider EHR launch of `launch_uri`; the encounter is
        picked automatically unless `select_encounter` asks for the picker."""
        launch_uri = query.get("launch_uri", "").strip()
        if not launch_uri:
            return Reply(400, b"launch_uri is required")
        if query.get("fhir_ver") != "4":  # the stand-in serves R4 only (2 and 3 in the source)
            return Reply(400, b"Invalid or missing fhir_ver parameter.")
        iss = urlsplit(f"{base}/v/{FHIR_RELEASE}/fhir")._replace(scheme=urlsplit(launch_uri).scheme)
        options = LaunchOptions(
            patient=query.get("patient", ""),
            provider=query.get("provider", ""),
            sim_ehr=form_bool(query.get("sim_ehr")),
            encounter=MANUAL if form_bool(query.get("select_encounter")) else AUTO,
        )
        return redirect(with_query(launch_uri, iss=urlunsplit(iss), launch=options.encode()))

    def _authorize(self, base: str, prefix: str, params: dict[str, str], sim: str) -> Reply:
        """backend/routes/auth/authorize.ts `handle` and `authorize` (code flow, no prompt)."""
        try:
            options = LaunchOptions.decode(params.get("launch") or sim)
        except (ValueError, IndexError, TypeError) as error:
            raise OAuthFailure("invalid_request", f"Invalid launch options: {error}") from None
        if params.get("response_type") is None:
            raise OAuthFailure("invalid_request", "Missing response_type parameter", 400)
        if params["response_type"] != "code":
            raise OAuthFailure("unsupported_grant_type", "Invalid Authorization Grant", 400)
        scope = set(unquote(params.get("scope", "")).split())
        validate_authorize_request(params, options, f"{base}{prefix}/fhir")
        # Answers of the browser pages come back as parameters.
        options = replace(
            options,
            patient=params.get("patient") or options.patient,
            provider=params.get("provider") or options.provider,
            encounter=params.get("encounter") or options.encounter,
            skip_auth=options.skip_auth or bool(params.get("auth_success")),
            skip_login=options.skip_login or bool(params.get("login_success")),
        )
        if options.client_id and options.client_id != params.get("client_id"):
            raise OAuthFailure("invalid_client", "Invalid client_id")
        standalone = options.launch_type in ("provider-standalone", "patient-standalone")
        patient_user = options.launch_type in ("patient-standalone", "patient-portal")
        # needToLoginAsPatient; needToLoginAsProvider asks for `openid`, which the app never does.
        if patient_user and (len(options.patients) != 1 or not options.skip_login):
            return Reply(400, b"the stand-in does not play the patient login page")
        # needToPickPatient
        if len(options.patients) != 1 and (
            "launch/patient" in scope
            or (options.launch_type == "provider-ehr" and "launch" in scope)
        ):
            return self._to_page(base, "/select-patient", params, options)
        # needToPickEncounter (config.ts includeEncounterContextInStandaloneLaunch: true)
        if options.encounter in (AUTO, MANUAL, "") and scope & {"launch", "launch/encounter"}:
            if options.encounter == AUTO:
                picked = self._first_encounter(options.patients[0])
                if isinstance(picked, Reply):
                    return picked
                # authorize() runs again: with none found, "" is not AUTO, so the picker shows.
                options = replace(options, encounter=picked)
            if options.encounter in (MANUAL, ""):
                return self._to_page(base, "/select-encounter", params, options)
        # needToAuthorize
        if not options.skip_auth and (standalone or options.launch_type == "patient-portal"):
            return self._to_page(base, "/authorize-app", params, options)
        code = authorization_code(base, params, options, scope)
        back = {"code": code, **({"state": params["state"]} if params.get("state") else {})}
        return redirect(with_query(unquote(params["redirect_uri"]), **back))

    def _first_encounter(self, patient: str) -> str | Reply:
        """authorize.ts renderEncounterPicker with AUTO, and getFirstEncounterId: `new
        URL("/Encounter/?...", fhirServer)` is an absolute path, so the FHIR server's own path
        (`/fhir`) is dropped and the search misses on any FHIR base with a path."""
        url = urljoin(self.upstream_base_url, "/Encounter/?_count=1&_sort:desc=date")
        url = with_query(url, patient=patient)
        # The launcher sends no token (its FHIR servers are open); sekmet's stands in for that.
        answer = self._client.get(url, headers={"Authorization": f"Bearer {self.upstream_token}"})
        if answer.status_code >= 300:
            failure = (
                f"Failed to auto-select the first encounter for patient with id of '{patient}'"
            )
            return json_reply(400, {"error": "invalid_request", "error_description": failure})
        entries = answer.json().get("entry") or [{}]
        found: str = entries[0].get("resource", {}).get("id") or ""
        return found

    def _to_page(
        self, base: str, page: str, params: dict[str, str], options: LaunchOptions
    ) -> Reply:
        """authorize.ts `redirect`: the page gets every authorize parameter and the patient."""
        extra = {"patient": options.patient} if options.patient else {}
        return redirect(with_query(base + page, **{**params, **extra}))

    def _user_page(self, page: str, query: dict[str, str]) -> Reply:
        """What the React page does when its user takes the first choice: it sends the browser
        to `aud` with `/fhir` made `/auth/authorize`, with its own query and the choice
        (src/components/PatientPicker, EncounterPicker, AuthorizeLaunch)."""
        choice: dict[str, str] = {}
        if page == "/authorize-app":
            choice["auth_success"] = "1"
        else:
            resource = "Patient" if page == "/select-patient" else "Encounter"
            search = {"_count": "10"}
            if resource == "Encounter":  # EncounterPicker fetchEncounters
                search |= {"patient": query.get("patient", ""), "_sort:desc": "date"}
            # The pickers read through the launcher's FHIR base, `aud`, which keeps its path.
            # backend/index.ts `/env.js`: the page's own token, for client "launcherUI".
            page_token = {"authorization": f"Bearer {sign({'client_id': LAUNCHER_UI}, 600)}"}
            target = f"/{resource}?{urlencode(search)}"
            found = self._fhir(query["aud"], target, page_token, b"", "GET")
            bundle = json.loads(found.body)
            ids = [entry["resource"]["id"] for entry in bundle.get("entry", [])]
            # The encounter picker offers "Launch without encounter" (NONE) when there is none.
            key = "patient" if resource == "Patient" else "encounter"
            choice[key] = ids[0] if ids else NO_ENCOUNTER
        back = re.sub(r"/fhir$", "/auth/authorize", query["aud"])
        return redirect(with_query(back, **{**query, **choice}))

    def _fhir(
        self, mount: str, request_url: str, headers: dict[str, str], body: bytes, method: str
    ) -> Reply:
        """backend/routes/fhir/proxy.ts through tests/launcher_proxy.py; the token check is
        lib.ts validateToken: none is fine, one must be a token this launcher signed."""
        sent, client_id = headers.get("authorization"), None
        if sent is not None:
            try:
                claims = verify(sent.split(" ")[-1])
            except ValueError as error:
                return Reply(401, f"Invalid token: {error}".encode())
            if claims.get("sim_error"):
                return Reply(401, str(claims["sim_error"]).encode())
            client_id = claims.get("client_id")
        with self._lock:
            self.fhir_requests.append((request_url, client_id))
        reply = self.proxy.respond(method, LAUNCHER_FHIR_PATH + request_url, headers, body)
        content = reply.body.replace(self.proxy.base_url.encode(), mount.encode())
        return Reply(reply.status, content, tuple(reply.headers.items()))

    def _token(self, base: str, form: dict[str, str]) -> Reply:
        """backend/routes/auth/token.ts handleAuthorizationCode and finish."""
        if form.get("grant_type") != "authorization_code":
            raise OAuthFailure("unsupported_grant_type", "Invalid or missing grant_type", 400)
        if not form.get("code"):
            raise OAuthFailure("invalid_client", "Missing 'code' parameter", 400)
        if not form.get("redirect_uri"):
            raise OAuthFailure("invalid_request", "Missing 'redirect_uri' parameter", 400)
        try:
            code = verify(form["code"])
        except ValueError as error:
            raise OAuthFailure("invalid_client", f"Invalid token: {error}", 401) from None
        if code.get("redirect_uri") != form["redirect_uri"]:
            raise OAuthFailure("invalid_request", "Invalid redirect_uri parameter", 401)
        if code.get("code_challenge_method") or code.get("pkce") == "always":
            if code.get("code_challenge_method") != "S256":
                raise OAuthFailure("invalid_request", "Unsupported code_challenge_method", 400)
            if not form.get("code_verifier"):
                raise OAuthFailure("invalid_request", "Missing code_verifier parameter", 400)
            if pkce_challenge(form["code_verifier"]) != code.get("code_challenge"):
                raise OAuthFailure("invalid_grant", "Invalid grant or Invalid PKCE Verifier", 401)
        expires_in = ACCESS_TOKEN_MINUTES * 60
        # finish(): the launch context is spread into the answer; no id_token without `openid`,
        # no refresh_token without offline_access or online_access.
        answer: dict[str, Any] = {
            "access_token": "",
            "token_type": "Bearer",
            "expires_in": expires_in,
            "scope": code["scope"],
            **code["context"],
        }
        claims = {
            key: code[key]
            for key in ("scope", "code_challenge_method", "code_challenge", "context", "client_id")
            if code.get(key) is not None
        }
        answer["access_token"] = sign(claims, expires_in)
        with self._lock:
            self.token_answers.append(answer)
        return json_reply(200, answer, ("Cache-Control", "no-store"), ("Pragma", "no-cache"))

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        launcher = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {name.lower(): value for name, value in self.headers.items()}
                reply = launcher.respond(self.command, self.path, headers, body)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers:
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _handle  # noqa: N815

            def log_message(self, *_: Any) -> None:
                pass

        return Handler
