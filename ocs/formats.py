"""Response formats: Nextcloud's JSON/XML negotiation rule and byte-compatible serialisers."""

from __future__ import annotations

import codecs
import json
import re

import orjson

from ocs.errors import BadFormat

JSON = "json"
XML = "xml"

CONTENT_TYPES = {
    JSON: "application/json; charset=utf-8",
    XML: "application/xml; charset=utf-8",
}


def negotiate(format_param, accept: str | None, default: str) -> str:
    """Nextcloud's rule (D4): ``format`` parameter, else exact Accept items, else the default.

    Raises :class:`BadFormat` for a ``format`` other than ``json``/``xml``.
    """
    if format_param is not None and format_param != "":
        if format_param == JSON or format_param == XML:
            return format_param
        raise BadFormat(format_param)
    if accept:
        for part in accept.split(","):
            item = part.strip().lower()
            if item == "application/json":
                return JSON
            if item == "application/xml":
                return XML
    return default


def _json_escape(error: UnicodeEncodeError):
    """Codec error handler: non-ASCII as ``\\uXXXX`` (surrogate pairs above U+FFFF), lowercase hex."""
    out = []
    for char in error.object[error.start : error.end]:
        code = ord(char)
        if code > 0xFFFF:
            code -= 0x10000
            out.append(f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out), error.end


codecs.register_error("ocs_json_escape", _json_escape)
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def _stdlib_json(value) -> bytes:
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003C").replace(">", "\\u003E").encode("ascii")


def dump_json_bytes(value) -> bytes:
    """JSON as PHP ``json_encode(JSON_HEX_TAG)`` without slash escaping (D5), as ASCII bytes.

    orjson does the work; the result is byte-identical to ``json.dumps(ensure_ascii=True)`` with
    ``<``/``>`` escaped. Values orjson refuses (integers beyond 64 bits, lone surrogates) go to
    the standard library. NOTE: answers carry no floats (configuration values are integers,
    booleans and strings); orjson would write 1e-05 as 0.00001."""
    try:
        raw = orjson.dumps(value, option=_ORJSON_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):
        return _stdlib_json(value)
    if not raw.isascii():
        raw = raw.decode("utf-8").encode("ascii", "ocs_json_escape")
    if b"\x7f" in raw:  # Python escapes DEL too; orjson does not
        raw = raw.replace(b"\x7f", b"\\u007f")
    if b"<" in raw:
        raw = raw.replace(b"<", b"\\u003C")
    if b">" in raw:
        raw = raw.replace(b">", b"\\u003E")
    return raw


def dump_json(value) -> str:
    """:func:`dump_json_bytes` as text."""
    return dump_json_bytes(value).decode("ascii")


_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;"})
_NUMERIC_KEY = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _scalar_text(value) -> str:
    if value is True:
        return "1"
    if value is False:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).translate(_XML_ESCAPES)


def _element_name(key) -> str:
    if isinstance(key, int) or (isinstance(key, str) and _NUMERIC_KEY.match(key)):
        return "element"
    return str(key)


def _write(out: list, key, value, depth: int) -> None:
    name = _element_name(key)
    pad = " " * depth
    if isinstance(value, dict | list | tuple):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        items = list(items)
        if not items:
            out.append(f"{pad}<{name}/>\n")
            return
        out.append(f"{pad}<{name}>\n")
        for k, v in items:
            _write(out, k, v, depth + 1)
        out.append(f"{pad}</{name}>\n")
    elif value is None:
        out.append(f"{pad}<{name}/>\n")
    else:
        out.append(f"{pad}<{name}>{_scalar_text(value)}</{name}>\n")


def dump_xml(document: dict) -> str:
    """XML exactly as Nextcloud's ``XMLWriter`` output with indentation (D6)."""
    out = ['<?xml version="1.0"?>\n']
    for key, value in document.items():
        _write(out, key, value, 0)
    return "".join(out)


ITEM_SEPARATORS = {JSON: b",", XML: b""}  # between encoded elements of a list


def serialize_item(value, fmt: str) -> bytes:
    """One element of the ``data`` list of an envelope, encoded alone (see envelope.write_items)."""
    if fmt == JSON:
        return dump_json_bytes(value)
    out: list = []
    _write(out, 0, value, 2)
    return "".join(out).encode("utf-8")


def serialize(value, fmt: str) -> bytes:
    """The encoded body (bytes, so that Falcon does not encode it again)."""
    return dump_json_bytes(value) if fmt == JSON else dump_xml(value).encode("utf-8")
