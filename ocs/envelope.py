"""The OCS v1/v2 envelope rules (ocs.md §3), in one place.

Every OCS response body goes through :func:`respond` (success) or :func:`render_error`.
"""

from __future__ import annotations

import falcon

from ocs import errors, formats

# Statuses that keep their real HTTP status on /ocs/v1.php (transport answers, D30).
V1_TRANSPORT = {401, 405, 412, 413, 503}


def http_status(raw: int, version: int) -> int:
    """The HTTP status for a raw OCS status code under envelope ``version``."""
    if raw == 997:
        return 401
    if version == 1:
        return raw if raw in V1_TRANSPORT else 200
    if raw == 998:
        return 404
    if raw in (996, 999):
        return 500
    if raw < 200 or raw > 600:
        return 400
    return raw


def meta(raw: int, version: int, message: str) -> dict:
    """The ``meta`` block for a raw status code and status message."""
    if version == 1:
        code = 100 if raw == 200 else raw
        ok = code == 100
        return {
            "status": "ok" if ok else "failure",
            "statuscode": code,
            "message": "OK" if ok else message,
            "totalitems": "",
            "itemsperpage": "",
        }
    ok = 200 <= raw < 300
    return {"status": "ok" if ok else "failure", "statuscode": raw, "message": "OK" if ok else message}


def _status_line(code: int) -> str:
    return falcon.code_to_http_status(code)


def write(req, resp, data, raw: int, message: str = "", fmt: str | None = None) -> None:
    """Serialise ``data`` in the request's envelope version and format."""
    version = getattr(req.context, "ocs_version", None) or 2
    fmt = fmt or getattr(req.context, "fmt", None) or formats.XML
    body = {"ocs": {"meta": meta(raw, version, message), "data": data}}
    resp.status = _status_line(http_status(raw, version))
    resp.content_type = formats.CONTENT_TYPES[fmt]
    resp.data = formats.serialize(body, fmt)


_ITEMS = "\x00ocs-items\x00"  # cannot occur in an encoded envelope: NUL is always escaped


_FRAMES: dict = {}  # (OCS version, format) -> bytes before and after the items of a success


def respond_items(req, resp, items: bytes, count: int) -> None:
    """Answer with a ``data`` list of ``count`` elements already encoded
    (:func:`formats.serialize_item`) and joined (``formats.ITEM_SEPARATORS``): the same bytes
    as :func:`respond` with the decoded list. The items are sent as they are, not copied."""
    if not count:
        write(req, resp, [], 200)
        return
    version = getattr(req.context, "ocs_version", None) or 2
    fmt = getattr(req.context, "fmt", None) or formats.XML
    frame = _FRAMES.get((version, fmt))
    if frame is None:
        write(req, resp, [_ITEMS], 200)
        before, _, after = resp.data.partition(formats.serialize_item(_ITEMS, fmt))
        frame = _FRAMES[(version, fmt)] = (before, after)
    before, after = frame
    resp.status = falcon.HTTP_200
    resp.content_type = formats.CONTENT_TYPES[fmt]
    resp.data = None
    resp.stream = [before, items, after]
    resp.content_length = len(before) + len(items) + len(after)


def respond(req, resp, data, status: int = 200) -> None:
    """Answer a successful OCS request with ``data``."""
    write(req, resp, data, status)


def not_modified(req, resp, v1_data=None) -> None:
    """Nothing new: an empty HTTP 304 on OCS v2; on v1 an HTTP 200 envelope with statuscode 304."""
    if getattr(req.context, "ocs_version", 2) == 2:
        resp.status = falcon.HTTP_304
        resp.content_type = None
        resp.text = None
        resp.data = None
        return
    write(req, resp, v1_data, 304)


def error_data(req, error: errors.OCSError):
    """``data`` of an error answer: v4 Talk routes carry the error key, all others ``[]``."""
    if error.data is not errors.FRAMEWORK:
        return error.data
    if error.key is errors.FRAMEWORK or not getattr(req.context, "talk_v4", False):
        return []
    if error.key is None:
        return None
    return {"error": error.key, **error.extra}


def render_error(req, resp, error: errors.OCSError) -> None:
    """Answer with an OCS error envelope (headers included)."""
    for name, value in error.headers.items():
        resp.set_header(name, value)
    write(req, resp, error_data(req, error), error.status, error.message)


def render_plain(resp, status: int, body: dict | None, headers: dict | None = None) -> None:
    """A non-OCS answer: plain JSON (or an empty body when ``body`` is None)."""
    resp.status = _status_line(status)
    for name, value in (headers or {}).items():
        resp.set_header(name, value)
    if body is None:
        resp.text = ""
        resp.content_type = None
        return
    resp.content_type = formats.CONTENT_TYPES[formats.JSON]
    resp.data = formats.dump_json_bytes(body)
