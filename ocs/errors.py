"""Protocol errors: each carries its OCS status code, message and (Talk v4) error key.

Services raise these; :mod:`ocs.envelope` renders them for OCS v1/v2, JSON/XML, and the
Talk API version of the route. Nothing here imports falcon.
"""

from __future__ import annotations

UNKNOWN_ROUTE_MESSAGE = (
    "Invalid query, please check the syntax. API specifications are here: "
    "http://www.freedesktop.org/wiki/Specifications/open-collaboration-services.\n"
)

# Marks a framework error: the data is always ``[]`` whatever the Talk API version.
FRAMEWORK = object()


class OCSError(Exception):
    """An answer in the OCS envelope with a non-success status.

    ``key`` is the Talk v4 error key: a string gives ``{"error": key}``, ``None`` gives ``null``,
    and :data:`FRAMEWORK` gives ``[]`` (framework answers, and every non-v4 route).
    """

    status = 400
    message = ""

    def __init__(self, key=FRAMEWORK, *, status=None, message=None, headers=None, data=FRAMEWORK, extra=None):
        super().__init__(key if isinstance(key, str) else self.__class__.__name__)
        self.key = key
        self.extra = dict(extra or {})  # more v4 fields beside "error" (e.g. a password hint)
        if status is not None:
            self.status = status
        if message is not None:
            self.message = message
        self.headers = dict(headers or {})
        self.data = data  # explicit data overrides the key rule (e.g. capabilities 304 on v1)


class BadRequest(OCSError):
    status = 400


class Forbidden(OCSError):
    status = 403


class NotFound(OCSError):
    status = 404


class Conflict(OCSError):
    status = 409


class PreconditionFailed(OCSError):
    status = 412


class NotImplementedByServer(OCSError):
    status = 501


class NotLoggedIn(OCSError):
    """Anonymous caller on a route that needs a logged-in user (401, statuscode 997)."""

    status = 997
    message = "Current user is not logged in"


class Unauthorised(OCSError):
    """Rejected credentials (401, statuscode 997, with a Basic challenge)."""

    status = 997
    message = "Unauthorised"


class NotAdmin(OCSError):
    status = 403
    message = "Logged in account must be an admin"


class UnknownRoute(OCSError):
    status = 998
    message = UNKNOWN_ROUTE_MESSAGE


class TooManyRequests(OCSError):
    status = 429
    message = "Reached maximum delay"


class PayloadTooLarge(OCSError):
    status = 413
    message = "Request body too large"


class ServiceUnavailable(OCSError):
    status = 503
    message = "Service unavailable"

    def __init__(self, retry_after: int | None = 1, **kwargs):
        super().__init__(**kwargs)
        if retry_after is not None:
            self.headers.setdefault("Retry-After", str(retry_after))


class InternalError(OCSError):
    status = 996
    message = "Internal Server Error"


class ProvisioningError(OCSError):
    """Provisioning API failure: Nextcloud's numeric code and English message, data ``[]``."""

    def __init__(self, status: int, message: str = ""):
        super().__init__(status=status, message=message)


class InvalidParameter(BadRequest):
    """A parameter of the wrong type, out of range, or missing (400, v4 ``{"error": name}``)."""

    def __init__(self, name: str):
        super().__init__(name)
        self.parameter = name


class BadFormat(Exception):
    """An unknown ``format`` value: answered 400 in JSON (D42)."""


class PlainResponse(Exception):
    """An answer outside the OCS envelope (CSRF 412, bare 405)."""

    def __init__(self, status: int, body: dict | None, headers: dict | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def csrf_failed() -> PlainResponse:
    return PlainResponse(412, {"message": "CSRF check failed"})


def method_not_allowed(allowed=()) -> PlainResponse:
    return PlainResponse(405, None, {"Allow": ", ".join(allowed)} if allowed else None)
