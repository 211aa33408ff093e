"""Login Flow v2 and v1 routes (``login.md`` §2): the JSON flow endpoints and the HTML pages.

Page routes are not OCS routes: no envelope, no ``OCS-APIRequest`` (the forms carry a CSRF token
instead, §12.1), their own cookie (§8.4) that is never sent to ``/ocs/``."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import falcon

from login import pages
from login.service import LIFETIME_S
from ocs import errors, throttle
from ocs.app import PUBLIC, policy
from ocs.params import BAD_VALUE, parse_json_body, parse_urlencoded

COOKIE = "ocs_talk_login"
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
V1_CSP = PAGE_CSP.replace("form-action 'self'", "form-action 'self' nc:")
TOKEN_INVALID = "Your login token is invalid or has expired"  # noqa: S105 - a message
WRONG_LOGIN = "Wrong login or password."
THROTTLED = (
    "There were too many requests from your network. Retry later or contact your administrator if "
    "this is an error."
)
MAX_FORM_BYTES = 65536


def page(**kwargs):
    return policy(auth=PUBLIC, csrf=False, **kwargs)


class PageBase:
    """Shared plumbing: URLs, the form body, the login cookie and HTML answers."""

    v1 = False

    def __init__(self, platform, service):
        self.platform = platform
        self.service = service
        self.instance = platform.config["version"]["product_name"]

    # urls
    def public(self, req) -> str:
        return self.platform.public_base(req)

    def url(self, req, path: str) -> str:
        """An absolute URL of a login route, with /index.php as Nextcloud writes them (L2)."""
        return f"{self.public(req)}/index.php/login{path}"

    def css_url(self, req) -> str:
        return f"{req.context.page_prefix}/static/login.css"

    # request
    def form(self, req) -> dict:
        body = req.bounded_stream.read(MAX_FORM_BYTES + 1) if req.content_length else b""
        if len(body) > MAX_FORM_BYTES:
            raise errors.PlainResponse(413, None)
        values = dict(parse_urlencoded(req.query_string or ""))
        content_type = (req.content_type or "").lower()
        try:
            if content_type.startswith("application/json") and body:
                values.update(parse_json_body(body))
            elif body:
                values.update(parse_urlencoded(body.decode("ascii")))
        except (ValueError, UnicodeDecodeError):
            return values
        return {k: v for k, v in values.items() if isinstance(v, str) and v is not BAD_VALUE}

    # cookie
    def cookie_path(self, req) -> str:
        return req.context.page_prefix

    def set_cookie(self, req, resp, value: str) -> None:
        resp.set_cookie(
            COOKIE,
            value,
            max_age=LIFETIME_S,
            path=self.cookie_path(req),
            secure=bool(getattr(req.context, "https", False)),
            http_only=True,
            same_site="Lax",
        )

    def clear_cookie(self, req, resp) -> None:
        resp.unset_cookie(COOKIE, path=self.cookie_path(req))

    def session(self, req):
        return self.service.load_session(req.cookies.get(COOKIE))

    # answers
    def html(self, req, resp, status: int, text: str) -> None:
        resp.status = falcon.code_to_http_status(status)
        resp.content_type = "text/html; charset=utf-8"
        resp.text = text
        resp.set_header("Content-Security-Policy", V1_CSP if self.v1 else PAGE_CSP)
        resp.set_header("X-Frame-Options", "DENY")

    def fail(self, req, resp, status: int, message: str, heading: str = "Access Forbidden") -> None:
        text = pages.error(
            css_url=self.css_url(req), instance=self.instance, message=message, heading=heading
        )
        self.html(req, resp, status, text)

    def redirect(self, resp, location: str) -> None:
        resp.status = falcon.HTTP_303
        resp.set_header("Location", location)
        resp.text = ""
        resp.content_type = None

    # the shared form steps
    def login_page(self, req, resp, session, client: str, action: str) -> None:
        error = session["error"]
        if error:
            session.data.pop("error", None)
            self.service.save_session(session)
        text = pages.login_form(
            css_url=self.css_url(req),
            action=action,
            instance=self.instance,
            client=client,
            user=req.get_param("user") or session["user_hint"] or "",
            state=session["state"],
            csrf=session["csrf"],
            error=error,
        )
        self.html(req, resp, 200, text)

    def check_post(self, req, resp, form, session) -> bool:
        """CSRF token (412), then the state token (403)."""
        if session is None:
            self.fail(req, resp, 403, TOKEN_INVALID)
            return False
        if not session.tokens_match("csrf", form.get("requesttoken")):
            self.fail(req, resp, 412, "CSRF check failed")
            return False
        if not form.get("stateToken"):
            self.fail(req, resp, 403, "State token missing")
            return False
        if not session.tokens_match("state", form.get("stateToken")):
            self.fail(req, resp, 403, "State token does not match")
            return False
        return True

    def password_login(self, req, resp, form, session, back: str, onward: str) -> None:
        """R5/R9: throttled account-password check; on success a rotated session and the grant."""
        client = req.context.client
        throttler = self.platform.throttler
        try:
            throttler.precheck(client, throttle.LOGIN)
        except errors.TooManyRequests:
            self.fail(req, resp, 429, THROTTLED, heading="Too many requests")
            return
        login = form.get("user", "")
        user = self.service.log_in(login, form.get("password", "")) if login else None
        if user is None:
            try:
                throttler.register(client, throttle.LOGIN, {"user": login[:64]})
            except errors.TooManyRequests:
                self.fail(req, resp, 429, THROTTLED, heading="Too many requests")
                return
            session.data.update(error=WRONG_LOGIN, user_hint=login[:64])
            self.service.save_session(session)
            self.redirect(resp, back)
            return
        throttler.reset(client, throttle.LOGIN, {"user": user.uid})
        session.data.update(user=user.uid, user_pk=user.id)
        session.data.pop("error", None)
        self.set_cookie(req, resp, self.service.rotate_session(session))
        self.redirect(resp, onward + "?" + urlencode({"stateToken": session["state"]}))

    def grant_post(self, req, resp, on_anonymous):
        """The checks of a grant POST in Talk's order: CSRF (412), a logged-in session
        (``on_anonymous``), then the state token (403). Returns (session, user) or None."""
        form = self.form(req)
        session = self.session(req)
        if session is not None and not session.tokens_match("csrf", form.get("requesttoken")):
            self.fail(req, resp, 412, "CSRF check failed")
            return None
        user = self.logged_in_user(session)
        if user is None or (self.v1 and not session["v1"]):
            on_anonymous()
            return None
        if not self.check_post(req, resp, form, session):
            return None
        return session, user

    def logged_in_user(self, session):
        from ocs.accounts import service as accounts

        if session is None or not session["user"]:
            return None
        return accounts.find_user(session["user"])

    def grant_page(self, req, resp, session, client: str, action: str, back: str) -> None:
        user = self.logged_in_user(session)
        if user is None:
            self.redirect(resp, back)
            return
        state = req.get_param("stateToken")
        if not state:
            self.fail(req, resp, 403, "State token missing")
            return
        if not session.tokens_match("state", state):
            self.fail(req, resp, 403, "State token does not match")
            return
        text = pages.grant(
            css_url=self.css_url(req),
            action=action,
            instance=self.instance,
            client=client,
            display_name=user.shown_name,
            user_id=user.uid,
            state=session["state"],
            csrf=session["csrf"],
        )
        self.html(req, resp, 200, text)


# --- Login Flow v2 ------------------------------------------------------------------------------


def flow_json(resp, status: int, data) -> None:
    """Plain JSON as PHP's ``json_encode`` writes it: ``/`` escaped (login §3.1)."""
    resp.status = falcon.code_to_http_status(status)
    resp.content_type = "application/json; charset=utf-8"
    resp.text = json.dumps(data, separators=(",", ":")).replace("/", "\\/")


class FlowV2Resource(PageBase):
    """R1 ``POST /index.php/login/v2``."""

    @page()
    def on_post(self, req, resp):
        if self.platform.maintenance:
            raise errors.PlainResponse(503, {"message": "Service unavailable"})
        poll, login = self.service.create_flow(req.get_header("User-Agent") or "")
        flow_json(
            resp,
            200,
            {
                "poll": {"token": poll, "endpoint": self.url(req, "/v2/poll")},
                "login": self.url(req, f"/v2/flow/{login}"),
            },
        )


class PollResource(PageBase):
    """R2 ``POST /index.php/login/v2/poll``: 404 ``[]`` until granted, then the credentials once."""

    @page()
    def on_post(self, req, resp):
        token = self.form(req).get("token")
        if not token:
            resp.status = falcon.HTTP_400
            resp.text = ""
            resp.content_type = None
            return
        result = self.service.poll(token)
        if result is None:
            flow_json(resp, 404, [])
            return
        flow_json(resp, 200, result)


class LandingResource(PageBase):
    """R3 ``GET /index.php/login/v2/flow/{loginToken}``: starts the pages' session."""

    @page()
    def on_get(self, req, resp, login_token):
        flow = self.service.flow_by_login_token(login_token)
        if flow is None:
            self.fail(req, resp, 403, TOKEN_INVALID)
            return
        self.service.start_flow(flow)
        value, _session = self.service.new_session(flow=flow.id, client=flow.client_name)
        self.set_cookie(req, resp, value)
        self.redirect(
            resp, self.url(req, "/v2/flow") + "?" + urlencode({"user": req.get_param("user") or ""})
        )


class FlowPageResource(PageBase):
    """R4 ``GET /index.php/login/v2/flow``: "Connect to your account"."""

    @page()
    def on_get(self, req, resp):
        session = self.session(req)
        flow = self.service.flow_by_id(session["flow"]) if session is not None else None
        if flow is None:
            self.fail(req, resp, 403, TOKEN_INVALID)
            return
        self.login_page(req, resp, session, flow.client_name, self.url(req, "/v2/login"))


class FlowLoginResource(PageBase):
    """R5 ``POST /index.php/login/v2/login`` (product route, L6)."""

    @page()
    def on_post(self, req, resp):
        form = self.form(req)
        session = self.session(req)
        if not self.check_post(req, resp, form, session):
            return
        if self.service.flow_by_id(session["flow"]) is None:
            self.fail(req, resp, 403, TOKEN_INVALID)
            return
        self.password_login(req, resp, form, session, self.url(req, "/v2/flow"), self.url(req, "/v2/grant"))


class FlowGrantResource(PageBase):
    """R6/R7 ``/index.php/login/v2/grant``: "Account access", then "Account connected"."""

    @page()
    def on_get(self, req, resp):
        session = self.session(req)
        flow = self.service.flow_by_id(session["flow"]) if session is not None else None
        if session is not None and session["user"] and flow is None:
            self.fail(req, resp, 403, TOKEN_INVALID)
            return
        client = flow.client_name if flow is not None else ""
        self.grant_page(req, resp, session, client, self.url(req, "/v2/grant"), self.url(req, "/v2/flow"))

    @page()
    def on_post(self, req, resp):
        checked = self.grant_post(req, resp, lambda: self.redirect(resp, self.url(req, "/v2/flow")))
        if checked is None:
            return
        session, user = checked
        flow = self.service.flow_by_id(session["flow"])
        if flow is None or not self.service.grant_flow(flow, user, self.public(req)):
            self.fail(req, resp, 403, TOKEN_INVALID)
            return
        self.service.end_session(session.key_hash)
        self.clear_cookie(req, resp)
        self.html(req, resp, 200, pages.done(css_url=self.css_url(req), instance=self.instance))


# --- Login Flow v1 (Talk iOS, older Android) ---------------------------------------------------


class FlowV1Resource(PageBase):
    """R8 ``GET /index.php/login/flow`` and R11 ``POST`` (the grant, answered with ``nc://``)."""

    v1 = True

    @page()
    def on_get(self, req, resp):
        if (req.get_header("OCS-APIRequest") or "").lower() != "true":
            self.fail(req, resp, 400, "Invalid request")  # L12: upstream says the same with 200
            return
        if req.get_param("clientIdentifier"):
            self.fail(req, resp, 400, "Invalid request")  # OAuth2 clients are not served (L10)
            return
        value, session = self.service.new_session(client=req.get_header("User-Agent") or "", v1=True)
        self.set_cookie(req, resp, value)
        self.login_page(req, resp, session, session["client"], self.url(req, "/flow/login"))

    @page()
    def on_post(self, req, resp):
        checked = self.grant_post(req, resp, lambda: self.fail(req, resp, 403, TOKEN_INVALID))
        if checked is None:
            return
        session, user = checked
        _row, password = self.platform.app_passwords.create(user, session["client"] or "")
        self.service.end_session(session.key_hash)
        self.clear_cookie(req, resp)
        # login §4.1: server raw, user and password percent-encoded
        location = f"nc://login/server:{self.public(req)}&user:{quote(user.uid, safe='')}&password:{quote(password, safe='')}"
        self.redirect(resp, location)
        resp.set_header("Content-Security-Policy", V1_CSP)


class FlowV1LoginResource(PageBase):
    """R9 ``POST /index.php/login/flow/login``; ``GET`` shows the form again (after a wrong
    password: the web view sends ``OCS-APIRequest`` only on its first load)."""

    v1 = True

    @page()
    def on_get(self, req, resp):
        session = self.session(req)
        if session is None or not session["v1"]:
            self.fail(req, resp, 403, TOKEN_INVALID)
            return
        self.login_page(req, resp, session, session["client"] or "", self.url(req, "/flow/login"))

    @page()
    def on_post(self, req, resp):
        form = self.form(req)
        session = self.session(req)
        if not self.check_post(req, resp, form, session):
            return
        self.password_login(
            req, resp, form, session, self.url(req, "/flow/login"), self.url(req, "/flow/grant")
        )


class FlowV1GrantResource(PageBase):
    """R10 ``GET /index.php/login/flow/grant``."""

    v1 = True

    @page()
    def on_get(self, req, resp):
        session = self.session(req)
        client = session["client"] if session is not None else ""
        self.grant_page(
            req, resp, session, client or "", self.url(req, "/flow"), self.url(req, "/flow/login")
        )


class StylesheetResource:
    """``GET /index.php/login/static/login.css``."""

    @page()
    def on_get(self, req, resp):
        resp.content_type = "text/css; charset=utf-8"
        resp.data = pages.CSS
        resp.set_header("Cache-Control", "public, max-age=86400")
