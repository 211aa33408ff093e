"""The OCS request pipeline: path layout, body limits, parameters, format, authentication,
route policies, error rendering, default headers and request logging (``ocs.md`` §2).

``wsgi.create_app`` builds a :class:`Platform`, lets each feature add its routes, and returns
the Falcon app.
"""

from __future__ import annotations

import gc
import ipaddress
import logging
import random
import re
import time
from dataclasses import dataclass, field

import falcon

from ocs import db as dbm
from ocs import envelope, errors, formats, memory
from ocs.accounts import service as accounts
from ocs.params import FORM_CONTENT_TYPE, JSON_CONTENT_TYPE, Params, parse_json_body, parse_urlencoded
from ocs.throttle import Client

log = logging.getLogger("ocs.request")

PUBLIC = "public"
USER = "user"
ADMIN = "admin"

TOKEN = re.compile(r"^[a-z0-9]{4,30}$")
REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")

DEFAULT_HEADERS = {
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Content-Security-Policy": "default-src 'none';base-uri 'none';manifest-src 'self';frame-ancestors 'none'",
    "Feature-Policy": (
        "autoplay 'none';camera 'none';fullscreen 'none';geolocation 'none';microphone 'none';payment 'none'"
    ),
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

_DEFAULT_HEADERS_LOWER = {name.lower(): value for name, value in DEFAULT_HEADERS.items()}
OCS_PREFIXES = (("/ocs/v1.php", 1), ("/ocs/v2.php", 2))
PLAIN_PATHS = ("/status.php", "/health/live", "/health/ready")
UNROUTED = "/-unrouted-"
DISCARD_CHUNK = 65536
DISCARD_SECONDS = 5.0

KIND_OCS = "ocs"
KIND_PLAIN = "plain"
KIND_PAGE = "page"  # the login web pages: HTML, own cookie, no OCS envelope
KIND_OTHER = "other"
PAGE_PREFIXES = ("/index.php/login", "/login")


@dataclass(frozen=True)
class Policy:
    """Who may call a responder and what it needs; data, checked in one place.

    ``versions`` lists the Talk API versions a Talk route serves (empty: not a Talk route);
    ``feature`` is the capability that gates it; ``throttle`` lists the brute-force actions
    pre-checked before the handler; ``admin_message`` is the 403 text for non-admins.
    """

    auth: str = USER
    csrf: bool = True
    versions: tuple = ()
    feature: str | None = None
    throttle: tuple = ()
    admin_message: str = "Logged in account must be an admin"
    body_limit: str = "max_body_bytes"
    extra: dict = field(default_factory=dict)


def policy(**kwargs):
    """Decorator attaching a :class:`Policy` to a responder (``on_get``, ``on_post`` …)."""

    def wrap(function):
        function.ocs_policy = Policy(**kwargs)
        return function

    return wrap


DEFAULT_POLICY = Policy()
_UNKNOWN = object()


def policy_for(resource, method: str) -> Policy | None:
    responder = getattr(resource, "on_" + method.lower(), None)
    if responder is None:
        return None
    return getattr(responder, "ocs_policy", DEFAULT_POLICY)


def new_request_id() -> str:
    """20 hex digits. Request ids correlate log lines; they guard nothing, so the process's
    Mersenne Twister (seeded from the OS, reseeded after fork) serves instead of a system call."""
    return _random_bits(80).to_bytes(10, "big").hex()  # a third cheaper than formatting the int


_random_bits = random.getrandbits


class RequestContext(falcon.Context):
    """``req.context``: these class attributes are the defaults of every request, so that
    ``process_request`` does not assign them one by one (a request sets only what differs)."""

    user = None
    app_password_id = None  # set when the request authenticated with an app password
    fmt = None
    talk_v4 = False
    api_version = None
    policy = None


class Request(falcon.Request):
    context_type = RequestContext


class Response(falcon.Response):
    """Every response starts with Nextcloud's default headers; what a responder or an error
    handler sets replaces them."""

    def __init__(self, options=None):
        super().__init__(options)
        # Falcon keeps header names lower-cased in ``_headers`` (its own hot path writes there
        # too); one dict update instead of lower-casing six names per request
        self._headers.update(_DEFAULT_HEADERS_LOWER)

    def set_lower_header(self, name: str, value: str) -> None:
        """``set_header`` for a name already in lower case and a ``str`` value (hot paths)."""
        self._headers[name] = value


class Platform:
    """Shared services of one app: config, passwords, throttle, authentication, capabilities."""

    def __init__(self, config, passwords, throttler, authenticator, registry, clock=time.time):
        self.config = config
        self.passwords = passwords
        self.throttler = throttler
        self.authenticator = authenticator
        self.registry = registry
        self.clock = clock
        server = config["server"]
        self.base_path = server["base_path"]
        self.trusted_proxies = [ipaddress.ip_network(c, strict=False) for c in server["trusted_proxies"]]
        self.default_format = config["ocs"]["default_format"]
        self.csrf_mode = config["ocs"]["require_api_request_header"]
        self.cookie_name = config["session"]["cookie_name"]
        self.maintenance = server["maintenance"]
        self.max_body_bytes = server["max_body_bytes"]
        self.max_avatar_upload_bytes = server["max_avatar_upload_bytes"]
        self.hooks = accounts.Hooks()  # account events that feature packages react to
        self.warmed = False

    def warm(self, req) -> None:
        """Once per process, on its first request, under gunicorn: fix the allocator's mmap
        threshold (see :mod:`ocs.memory`) and move everything built so far (modules, the app)
        out of the garbage collector's way, so that collections only scan what requests
        allocate (``gc.freeze``)."""
        self.warmed = True
        if str(req.env.get("SERVER_SOFTWARE", "")).startswith("gunicorn"):
            memory.fix_mmap_threshold()
            gc.collect()
            gc.freeze()

    def public_base(self, req) -> str:
        """This server's public address: ``server.public_url``, else as the client reached it
        (scheme, validated Host, base path; login L3)."""
        configured = self.config["server"]["public_url"]
        if configured:
            return configured
        scheme = "https" if getattr(req.context, "https", False) else req.scheme
        host = req.get_header("Host") or req.netloc
        if not HOST.match(host):
            raise errors.PlainResponse(400, {"message": "Invalid Host header"})
        return f"{scheme}://{host}{self.base_path}"

    # --- client address -------------------------------------------------------------------

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip().strip("[]").split("%", 1)[0])
        except ValueError:
            return False
        return any(ip in net for net in self.trusted_proxies)

    def client_address(self, req) -> tuple[str, bool]:
        """The client IP (X-Forwarded-For only via trusted proxies) and whether it is https."""
        peer = req.env.get("REMOTE_ADDR") or "0.0.0.0"  # noqa: S104 - a placeholder, never bound
        https = req.env.get("wsgi.url_scheme") == "https"
        if self.trusted_proxies and self._trusted(peer):
            forwarded = req.get_header("X-Forwarded-For") or ""
            hops = [h.strip() for h in forwarded.split(",") if h.strip()]
            address = peer
            for hop in reversed(hops):
                address = hop
                if not self._trusted(hop):
                    break
            proto = (req.get_header("X-Forwarded-Proto") or "").split(",")[0].strip().lower()
            if proto:
                https = proto == "https"
            return address, https
        return peer, https


class PlatformMiddleware:
    """Steps 1–8 of ``ocs.md`` §2 around every request, plus headers and logging; at the end of
    every request it returns the database connection (checked out lazily by whatever used it)."""

    def __init__(self, platform: Platform):
        self.platform = platform
        self._policies: dict = {}  # (resource, method) -> Policy or None

    # --- process_request: layout, body, params, format, maintenance, authentication --------

    def process_request(self, req, resp):
        if not self.platform.warmed:
            self.platform.warm(req)
        ctx = req.context
        ctx.started = time.monotonic()
        incoming = req.env.get("HTTP_X_REQUEST_ID")
        ctx.request_id = incoming if incoming and REQUEST_ID.match(incoming) else new_request_id()
        platform = self.platform
        self._route_path(req)
        env = req.env
        if platform.trusted_proxies:
            ip, ctx.https = platform.client_address(req)
        else:  # the peer is the client
            ip = env.get("REMOTE_ADDR") or "0.0.0.0"  # noqa: S104 - a placeholder, never bound
            ctx.https = env.get("wsgi.url_scheme") == "https"
        ctx.client = Client(ip, platform.throttler)
        if ctx.kind != KIND_OCS:
            ctx.params = Params({})
            return
        query = req.query_string
        params = ctx.params = Params(parse_urlencoded(query) if query else {})
        if env.get("CONTENT_LENGTH") or "HTTP_TRANSFER_ENCODING" in env:
            self._read_body(req)
        else:
            ctx.body = b""  # the usual GET: no body to read
        requested = params.format_value() if query or params.body else None
        try:
            ctx.fmt = formats.negotiate(requested, env.get("HTTP_ACCEPT"), platform.default_format)
        except errors.BadFormat:
            ctx.fmt = formats.JSON
            raise errors.BadRequest("format") from None
        if platform.maintenance:
            raise errors.ServiceUnavailable(retry_after=None, headers={"X-Nextcloud-Maintenance-Mode": "1"})
        ctx.user = platform.authenticator.authenticate(req, ctx.client)

    def _route_path(self, req):
        ctx = req.context
        path = req.path
        base = self.platform.base_path
        ctx.kind = KIND_OTHER
        ctx.ocs_version = None
        if base:
            if path != base and not path.startswith(base + "/"):
                req.path = UNROUTED
                return
            path = path[len(base) :] or "/"
        if path.startswith("/ocs/v"):  # one test for the usual case, then which version
            for prefix, version in OCS_PREFIXES:
                if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
                    ctx.kind = KIND_OCS
                    ctx.ocs_version = version
                    req.path = "/ocs" + path[len(prefix) :]
                    return
        if path in PLAIN_PATHS:
            ctx.kind = KIND_PLAIN
            req.path = path
            return
        for prefix in PAGE_PREFIXES:
            if path == prefix or path.startswith(prefix + "/"):
                # login L2: /index.php/login/… and /login/… are the same routes
                ctx.kind = KIND_PAGE
                ctx.page_prefix = base + prefix
                req.path = "/login" + path[len(prefix) :]
                return
        req.path = UNROUTED

    def _read_body(self, req):
        ctx = req.context
        platform = self.platform
        limit = platform.max_avatar_upload_bytes if req.path.endswith("/avatar") else platform.max_body_bytes
        length = req.content_length
        if length is not None and length > limit:
            self._discard(req.bounded_stream, length)
            raise errors.PayloadTooLarge()
        chunked = "chunked" in (req.get_header("Transfer-Encoding") or "").lower()
        if length:
            body = req.bounded_stream.read(limit + 1)
        elif chunked:
            # the server de-chunks and terminates wsgi.input; stop reading at limit + 1 bytes
            body = req.stream.read(limit + 1)
        else:
            body = b""
        if len(body) > limit:
            if chunked:
                self._discard(req.stream, None)
            raise errors.PayloadTooLarge()
        ctx.body = body
        if not body:
            return
        content_type = req.content_type or ""
        if JSON_CONTENT_TYPE.match(content_type):
            try:
                ctx.params.body = parse_json_body(body)
            except (ValueError, UnicodeDecodeError, RecursionError):
                ctx.params.body_error = True
        elif FORM_CONTENT_TYPE.match(content_type):
            try:
                ctx.params.body = parse_urlencoded(body.decode("ascii"))
            except UnicodeDecodeError:
                ctx.params.body_error = True

    def _discard(self, stream, length: int | None) -> None:
        """Read and drop a refused body, so that the connection can carry the next request.

        NOTE: gunicorn drains at most 64 KiB of an unread body and then closes a keep-alive
        connection without telling the client, whose next request on it then fails. Bodies up to
        ``server.discard_body_bytes`` are read here instead (within a time bound, so a slow
        sender cannot hold the thread); past that the server closes the connection."""
        budget = self.platform.config["server"]["discard_body_bytes"]
        if length is not None and length > budget:
            return
        deadline = time.monotonic() + DISCARD_SECONDS
        read = 0
        while read <= budget and time.monotonic() < deadline:
            try:
                chunk = stream.read(DISCARD_CHUNK)
            except OSError:
                return
            if not chunk:
                return
            read += len(chunk)

    # --- process_resource: route policy ---------------------------------------------------

    def process_resource(self, req, resp, resource, params):
        ctx = req.context
        if resource is None:
            raise errors.UnknownRoute()
        if ctx.kind == KIND_PAGE:
            if policy_for(resource, req.method) is None:
                raise errors.method_not_allowed()
            return
        if ctx.kind != KIND_OCS:
            if req.method not in ("GET",):
                raise errors.method_not_allowed(["GET"])
            return
        key = (resource, req.method)
        rule = self._policies.get(key, _UNKNOWN)
        if rule is _UNKNOWN:  # routes and their responders are fixed once the app is built
            rule = self._policies[key] = policy_for(resource, req.method)
        if rule is None:
            raise errors.method_not_allowed()
        ctx.policy = rule
        registry = self.platform.registry
        if rule.versions:
            version = params.pop("apiVersion", None)
            if version not in rule.versions:
                raise errors.UnknownRoute()
            ctx.api_version = version
            # v4 routes, and routes that carry Talk's error keys in every version (chat, C1)
            ctx.talk_v4 = version == "v4" or rule.extra.get("error_keys", False)
        if "token" in params and not TOKEN.match(params["token"]):
            raise errors.UnknownRoute()
        if rule.feature is not None and not registry.enabled(rule.feature):
            raise errors.UnknownRoute()
        if rule.auth in (USER, ADMIN) and ctx.user is None:
            raise errors.NotLoggedIn()
        if rule.auth == ADMIN and not accounts.is_admin(ctx.user):
            raise errors.NotAdmin(message=rule.admin_message)
        # the header as every client sends it passes without a call
        if rule.csrf and req.env.get("HTTP_OCS_APIREQUEST") != "true" and not self._passes_csrf(req):
            raise errors.csrf_failed()
        for action in rule.throttle:
            self.platform.throttler.precheck(ctx.client, action)
        if params:
            ctx.params.path = dict(params)
        if ctx.params.body_error:
            ctx.params.check_body()

    def _passes_csrf(self, req) -> bool:
        if (req.env.get("HTTP_OCS_APIREQUEST") or "").lower() == "true":
            return True
        if (req.get_header("Authorization") or "").startswith("Bearer "):
            return True
        if self.platform.csrf_mode == "cookie":
            return self.platform.cookie_name not in req.cookies
        return False

    # --- process_response: headers and the access log -------------------------------------

    def process_response(self, req, resp, resource, req_succeeded):
        try:
            self._finish(req, resp)
        finally:
            # the request's connection goes back (to the pool on PostgreSQL) whatever happened
            dbm.release_connection()

    def _finish(self, req, resp):
        ctx = req.context
        request_id = getattr(ctx, "request_id", None) or new_request_id()
        resp.set_lower_header("x-request-id", request_id)
        if not log.isEnabledFor(logging.INFO):
            return
        started = getattr(ctx, "started", None)
        elapsed = (time.monotonic() - started) * 1000 if started else 0.0
        user = getattr(ctx, "user", None)
        client = getattr(ctx, "client", None)
        log.info(
            "%s %s %s %s user=%s ip=%s %.1fms",
            request_id,
            req.method,
            _logged_path(req, ctx),
            resp.status.split(" ", 1)[0] if isinstance(resp.status, str) else resp.status,
            user.uid if user is not None else "-",
            client.ip if client is not None else "-",
            elapsed,
        )


LOGIN_TOKEN_IN_PATH = re.compile(r"(/login/v2/flow/)[^/?]+")


def _logged_path(req, ctx) -> str:
    """The path as logged: the original OCS path; login flow tokens never (login §12.3)."""
    if ctx.kind == KIND_OCS:
        return _original_path(req)
    return LOGIN_TOKEN_IN_PATH.sub(r"\1***", req.relative_uri.split("?", 1)[0])


def _original_path(req) -> str:
    return req.env.get("PATH_INFO", req.path)


# --- error handlers -------------------------------------------------------------------------


def _ensure_format(req, default_format: str) -> None:
    """The response format for answers raised before negotiation ran (query and Accept only)."""
    ctx = req.context
    if getattr(ctx, "fmt", None) is None:
        try:
            query = parse_urlencoded(req.query_string or "")
            fmt = query.get("format")
            ctx.fmt = formats.negotiate(
                fmt if isinstance(fmt, str) else None, req.get_header("Accept"), default_format
            )
        except errors.BadFormat:
            ctx.fmt = formats.JSON


def install_error_handlers(app: falcon.App, platform: Platform) -> None:
    """Every failure comes back enveloped (or as the documented plain answer), never a traceback."""

    def ocs_kind(req) -> bool:
        return getattr(req.context, "kind", KIND_OTHER) == KIND_OCS

    def handle_ocs_error(req, resp, ex, params):
        if not ocs_kind(req):
            if isinstance(ex, errors.UnknownRoute):
                envelope.render_plain(resp, 404, {"message": "Not found"})
            else:
                envelope.render_plain(
                    resp, ex.status if 100 <= ex.status < 600 else 500, {"message": ex.message}
                )
            return
        _ensure_format(req, platform.default_format)
        envelope.render_error(req, resp, ex)

    def handle_plain(req, resp, ex, params):
        envelope.render_plain(resp, ex.status, ex.body, ex.headers)

    def handle_http_error(req, resp, ex, params):
        status = ex.status_code if hasattr(ex, "status_code") else int(str(ex.status).split()[0])
        if isinstance(ex, falcon.HTTPRouteNotFound) or (status == 404 and not ocs_kind(req)):
            handle_ocs_error(req, resp, errors.UnknownRoute(), params)
            return
        if status == 405:
            envelope.render_plain(resp, 405, None)
            return
        if ocs_kind(req):
            handle_ocs_error(req, resp, errors.OCSError(status=status, message=""), params)
        else:
            envelope.render_plain(resp, status, {"message": ex.title or ""})

    def handle_exception(req, resp, ex, params):
        translated = dbm.translate_database_error(ex)
        if translated is not None:
            log.warning(
                "%s database unavailable: %s", getattr(req.context, "request_id", "-"), ex.__class__.__name__
            )
            dbm.drop_connection_after(ex)
            dbm.release_connection()
            if ocs_kind(req):
                handle_ocs_error(req, resp, translated, params)
            else:
                envelope.render_plain(resp, 503, {"message": "Service unavailable"}, translated.headers)
            return
        log.exception(
            "%s unexpected error on %s %s", getattr(req.context, "request_id", "-"), req.method, req.path
        )
        dbm.release_connection()
        if ocs_kind(req):
            handle_ocs_error(req, resp, errors.InternalError(), params)
        else:
            envelope.render_plain(resp, 500, {"message": "Internal Server Error"})

    # Falcon picks the most specific handler by exception class.
    app.add_error_handler(Exception, handle_exception)
    app.add_error_handler(falcon.HTTPError, handle_http_error)
    app.add_error_handler(errors.OCSError, handle_ocs_error)
    app.add_error_handler(errors.PlainResponse, handle_plain)
