"""Request parameters merged from query string, form body and JSON body (ocs.md §7).

Precedence is path > body > query. Values are read through typed readers that raise
:class:`ocs.errors.InvalidParameter` (400) for values that cannot be coerced.
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote_to_bytes

from ocs.errors import InvalidParameter

JSON_CONTENT_TYPE = re.compile(r"^application/(?:[a-z0-9.+-]+\+)?json\b", re.IGNORECASE)
FORM_CONTENT_TYPE = re.compile(r"^application/x-www-form-urlencoded\s*(;|$)", re.IGNORECASE)
INT_TEXT = re.compile(r"^\s*[+-]?\d+\s*$")
BRACKETS = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])+)$")
MAX_JSON_DEPTH = 32
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_INT_DIGITS = len(str(INT64_MAX))

_MISSING = object()


class _BadValue:
    """Stands for a value whose bytes could not be decoded; reading it is a 400."""

    __slots__ = ()


BAD_VALUE = _BadValue()


def _decode_component(raw: str):
    if raw.isascii() and "%" not in raw and "+" not in raw:
        return raw  # nothing to decode (``format=json``): the usual query string
    try:
        data = unquote_to_bytes(raw.replace("+", " "))
        if re.search(r"%(?![0-9A-Fa-f]{2})", raw):
            return BAD_VALUE
        return data.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        return BAD_VALUE


def _assign(target: dict, key: str, value) -> None:
    match = BRACKETS.match(key)
    if not match:
        target[key] = value  # a repeated plain key keeps the last value (PHP)
        return
    name = match.group(1)
    subkeys = re.findall(r"\[([^\[\]]*)\]", match.group(2))
    first = subkeys[0]
    if len(subkeys) == 1:
        if first == "" or first.isdigit():
            current = target.get(name)
            if not isinstance(current, list):
                current = []
                target[name] = current
            current.append(value)
        else:
            current = target.get(name)
            if not isinstance(current, dict):
                current = {}
                target[name] = current
            current[first] = value
        return
    # p[users][]=alice: one level of named keys, each holding a list
    current = target.get(name)
    if not isinstance(current, dict):
        current = {}
        target[name] = current
    inner = current.get(first)
    if not isinstance(inner, list):
        inner = []
        current[first] = inner
    inner.append(value)


def parse_urlencoded(text: str) -> dict:
    """Parse ``a=1&b[]=2`` with PHP bracket semantics; undecodable values become ``BAD_VALUE``."""
    result: dict = {}
    if not text:
        return result
    for pair in text.split("&"):
        if not pair:
            continue
        raw_key, _, raw_value = pair.partition("=")
        key = _decode_component(raw_key)
        if key is BAD_VALUE or key == "":
            continue
        _assign(result, key, _decode_component(raw_value))
    return result


def _depth(value) -> int:
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            if deepest > MAX_JSON_DEPTH:
                return deepest
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in children)
    return deepest


def parse_json_body(body: bytes) -> dict:
    """Decode a JSON object body strictly; raises ValueError when malformed."""
    text = body.decode("utf-8", errors="strict")
    value = json.loads(text, parse_constant=_reject_constant)
    if not isinstance(value, dict):
        raise ValueError("JSON body must be an object")
    if _depth(value) > MAX_JSON_DEPTH:
        raise ValueError("JSON body nested too deeply")
    return value


def _reject_constant(name):
    raise ValueError(f"invalid JSON constant {name}")


def check_text(name: str, value: str) -> str:
    """Reject text that cannot be stored everywhere: NUL and lone surrogates (security.md §3)."""
    if "\x00" in value:
        raise InvalidParameter(name)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidParameter(name) from exc
    return value


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


class Params:
    """The merged parameters of one request with typed readers."""

    def __init__(self, query: dict, body: dict | None = None, body_error: bool = False):
        self.query = query
        self.body = body or {}
        self.body_error = body_error
        self.path: dict = {}

    def raw(self, name: str, default=None):
        """The merged value (path > body > query), or ``default`` when absent."""
        for source in (self.path, self.body, self.query):
            if name in source:
                return source[name]
        return default

    def __contains__(self, name: str) -> bool:
        return any(name in source for source in (self.path, self.body, self.query))

    def format_value(self):
        """The ``format`` parameter as given (body or query), for negotiation before validation."""
        value = self.body.get("format", self.query.get("format"))
        return value if isinstance(value, str) else (None if value is None else str(value))

    def check_body(self) -> None:
        if self.body_error:
            raise InvalidParameter("body")

    # --- typed readers ---------------------------------------------------------------------

    def _get(self, name: str, required: bool, empty_is_absent: bool):
        value = self.raw(name, _MISSING)
        if value is BAD_VALUE:
            raise InvalidParameter(name)
        if value is _MISSING:
            if required:
                raise InvalidParameter(name)
            return _MISSING
        if empty_is_absent and value == "":
            if required:
                raise InvalidParameter(name)
            return _MISSING
        return value

    def string(self, name: str, default=None, *, required=False, empty_is_absent=True):
        """Text; JSON integers become decimal text; NUL and lone surrogates are rejected."""
        value = self._get(name, required, empty_is_absent)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise InvalidParameter(name)
        return check_text(name, str(value))

    def integer(self, name: str, default=None, *, required=False, minimum=INT64_MIN, maximum=INT64_MAX):
        """An integer from a JSON number/boolean or decimal text within 64 bits."""
        value = self._get(name, required, True)
        if value is _MISSING:
            return default
        if isinstance(value, bool):
            result = int(value)
        elif isinstance(value, int):
            result = value
        elif isinstance(value, str) and INT_TEXT.match(value):
            text = value.strip()
            sign = -1 if text[0] == "-" else 1
            digits = text.lstrip("+-").lstrip("0") or "0"
            if len(digits) > MAX_INT_DIGITS:
                # NOTE: int() refuses over 4,300 digits with ValueError; anything over 19 digits
                # is outside 64 bits anyway, so it is out of range without converting it.
                raise InvalidParameter(name)
            result = sign * int(digits)
        else:
            raise InvalidParameter(name)
        if not (INT64_MIN <= result <= INT64_MAX) or not (minimum <= result <= maximum):
            raise InvalidParameter(name)
        return result

    def nullable_integer(self, name: str, **kwargs):
        if self.raw(name, _MISSING) is None and name in self:
            return None
        return self.integer(name, **kwargs)

    def boolean(self, name: str, default=None, *, required=False):
        """A boolean from JSON ``true``/``false``/``1``/``0`` or text ``1``/``0``/``true``/``false``."""
        value = self._get(name, required, True)
        if value is _MISSING:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in ("1", "true"):
                return True
            if lowered in ("0", "false"):
                return False
        raise InvalidParameter(name)

    def string_list(self, name: str) -> list[str]:
        """Text items of a list, or of a map of lists (``groups[]=a``, ``{"groups": ["a"]}``)."""
        value = self.array(name, [])
        items = (
            [v for values in value.values() for v in _as_list(values)] if isinstance(value, dict) else value
        )
        result = []
        for item in items:
            if isinstance(item, bool) or not isinstance(item, str | int):
                raise InvalidParameter(name)
            result.append(check_text(name, str(item)))
        return result

    def array(self, name: str, default=None, *, required=False):
        """A list or a map of lists (JSON or PHP bracket syntax)."""
        value = self._get(name, required, True)
        if value is _MISSING:
            return default
        if not isinstance(value, list | dict):
            raise InvalidParameter(name)
        return value
