"""The OCS envelope, formats and framework answers (ocs.md §3–§6, §8.4, §9, §14)."""

from __future__ import annotations

import json
import random
import re

import pytest

from ocs import formats
from ocs.app import DEFAULT_HEADERS, PUBLIC, policy

UNKNOWN = (
    "Invalid query, please check the syntax. API specifications are here: "
    "http://www.freedesktop.org/wiki/Specifications/open-collaboration-services.\n"
)


def test_v2_json_success_envelope(client):
    client.add_user("alice", "pw")
    r = client.ocs("GET", "/cloud/user", user="alice")
    assert r.status_int == 200
    assert r.content_type == "application/json"
    assert r.json["ocs"]["meta"] == {"status": "ok", "statuscode": 200, "message": "OK"}
    assert r.json["ocs"]["data"]["id"] == "alice"


def test_v1_json_success_envelope(client):
    client.add_user("alice", "pw")
    r = client.ocs("GET", "/cloud/user", user="alice", v=1)
    assert r.status_int == 200
    assert r.json["ocs"]["meta"] == {
        "status": "ok",
        "statuscode": 100,
        "message": "OK",
        "totalitems": "",
        "itemsperpage": "",
    }
    assert list(r.json["ocs"]["meta"]) == ["status", "statuscode", "message", "totalitems", "itemsperpage"]


def test_v1_xml_success_envelope_is_byte_exact(client):
    client.add_user("alice", "pw")
    r = client.ocs("GET", "/cloud/users/alice/groups", user="alice", v=1, fmt=None)
    assert r.content_type == "application/xml"
    assert r.text == (
        '<?xml version="1.0"?>\n<ocs>\n <meta>\n  <status>ok</status>\n  <statuscode>100</statuscode>\n'
        "  <message>OK</message>\n  <totalitems></totalitems>\n  <itemsperpage></itemsperpage>\n"
        " </meta>\n <data>\n  <groups/>\n </data>\n</ocs>\n"
    )


@pytest.mark.parametrize(("v", "http"), [(1, 200), (2, 404)])
def test_unknown_route_998_json(client, v, http):
    r = client.ocs("GET", "/apps/spreed/api/v4/nothing", v=v, api_header=False)
    assert r.status_int == http
    meta = r.json["ocs"]["meta"]
    assert meta["statuscode"] == 998
    assert meta["status"] == "failure"
    assert meta["message"] == UNKNOWN
    assert r.json["ocs"]["data"] == []


def test_unknown_route_default_xml_exact(client):
    r = client.ocs("GET", "/nothing", fmt=None, api_header=False)
    assert r.status_int == 404
    assert r.text == (
        '<?xml version="1.0"?>\n<ocs>\n <meta>\n  <status>failure</status>\n'
        "  <statuscode>998</statuscode>\n  <message>" + UNKNOWN + "</message>\n </meta>\n <data/>\n</ocs>\n"
    )


def test_path_outside_ocs_is_plain_404(client):
    for path in ("/", "/index.php", "/ocs/v3.php/cloud/user", "/ocs/cloud/user", "/status.php/x"):
        r = client.test.get(path, status="*")
        assert r.status_int == 404, path
        assert r.json == {"message": "Not found"}
        assert r.headers["Cache-Control"] == "no-cache, no-store, must-revalidate"


@pytest.mark.parametrize("v", [1, 2])
def test_wrong_method_is_bare_405(client, v):
    r = client.ocs("DELETE", "/cloud/capabilities", v=v)
    assert r.status_int == 405
    assert r.body == b""
    r = client.ocs("HEAD", "/cloud/capabilities", v=v)
    assert r.status_int == 405
    r = client.ocs("OPTIONS", "/cloud/capabilities", v=v)
    assert r.status_int == 405
    assert r.body == b""


@pytest.mark.parametrize("v", [1, 2])
def test_not_logged_in_is_401_997_in_both_versions(client, v):
    r = client.ocs("GET", "/cloud/user", v=v)
    assert r.status_int == 401
    assert r.json["ocs"]["meta"]["statuscode"] == 997
    assert r.json["ocs"]["meta"]["message"] == "Current user is not logged in"
    assert "WWW-Authenticate" not in r.headers


@pytest.mark.parametrize("v", [1, 2])
def test_body_too_large_is_413(make_client, v):
    client = make_client({"server": {"max_body_bytes": 2048}})
    client.add_user("alice", "pw", groups=["admin"])
    r = client.ocs("POST", "/cloud/groups", user="alice", v=v, form={"groupid": "g", "pad": "x" * 3000})
    assert r.status_int == 413
    assert r.json["ocs"]["meta"]["statuscode"] == 413
    assert r.json["ocs"]["meta"]["message"] == "Request body too large"
    assert client.ocs("GET", "/cloud/groups/g", user="alice").json["ocs"]["meta"]["statuscode"] == 404


def test_default_response_headers(client):
    r = client.ocs("GET", "/cloud/capabilities")
    assert r.headers["Cache-Control"] == "no-cache, no-store, must-revalidate"
    assert r.headers["Content-Security-Policy"] == (
        "default-src 'none';base-uri 'none';manifest-src 'self';frame-ancestors 'none'"
    )
    assert r.headers["Feature-Policy"].startswith("autoplay 'none';camera 'none'")
    assert r.headers["X-Robots-Tag"] == "noindex, nofollow"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert len(r.headers["X-Request-Id"]) == 20


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/ocs/v2.php/cloud/capabilities", 200),
        ("GET", "/ocs/v2.php/cloud/user", 401),  # refused in the middleware
        ("GET", "/ocs/v2.php/no/such/route", 404),
        ("DELETE", "/ocs/v2.php/cloud/capabilities", 405),
        ("GET", "/status.php", 200),
        ("POST", "/status.php", 405),
        ("GET", "/elsewhere", 404),
        ("WEBSOCKET", "/ocs/v2.php/cloud/capabilities", 400),  # refused by Falcon before any middleware
    ],
)
@pytest.mark.filterwarnings("ignore:Unknown REQUEST_METHOD")  # webtest's lint, on WEBSOCKET
def test_default_headers_on_every_kind_of_answer(client, method, path, status):
    """The defaults come with the response object itself, so answers made before or outside the
    middleware carry them too, each once, with a fresh request id."""
    r = client.test.request(path, method=method, headers={"OCS-APIRequest": "true"}, expect_errors=True)
    assert r.status_int == status
    for name, value in DEFAULT_HEADERS.items():
        assert r.headers.getall(name) == [value], name
    assert re.fullmatch(r"[0-9a-f]{20}", r.headers["X-Request-Id"])
    assert (
        len(
            {
                client.test.request(path, method=method, expect_errors=True).headers["X-Request-Id"]
                for _ in range(5)
            }
        )
        == 5
    )


def test_request_id_echoed_only_when_well_formed(client):
    r = client.ocs("GET", "/cloud/capabilities", headers={"X-Request-Id": "abc-123_X"})
    assert r.headers["X-Request-Id"] == "abc-123_X"
    r = client.ocs("GET", "/cloud/capabilities", headers={"X-Request-Id": "bad id;"})
    assert r.headers["X-Request-Id"] != "bad id;"
    assert len(r.headers["X-Request-Id"]) == 20


@pytest.mark.parametrize("v", [1, 2])
def test_unexpected_exception_is_996_without_traceback(make_app, v, caplog):
    app = make_app()

    class Boom:
        @policy(auth=PUBLIC)
        def on_get(self, req, resp):
            raise RuntimeError("secret internal detail")

    app.add_route("/ocs/test/boom", Boom())
    from tests.conftest import OCSClient

    client = OCSClient(app, {})
    r = client.ocs("GET", "/test/boom", v=v)
    assert r.status_int == (200 if v == 1 else 500)
    assert r.json["ocs"]["meta"]["statuscode"] == 996
    assert r.json["ocs"]["meta"]["message"] == "Internal Server Error"
    assert r.json["ocs"]["data"] == []
    assert b"secret internal detail" not in r.body
    assert b"Traceback" not in r.body
    assert any("unexpected error" in rec.getMessage() for rec in caplog.records)


@pytest.mark.parametrize("v", [1, 2])
def test_maintenance_mode(make_client, v):
    client = make_client({"server": {"maintenance": True}})
    r = client.ocs("GET", "/cloud/capabilities", v=v)
    assert r.status_int == 503
    assert r.headers["X-Nextcloud-Maintenance-Mode"] == "1"
    assert r.json["ocs"]["meta"]["statuscode"] == 503
    assert r.json["ocs"]["meta"]["message"] == "Service unavailable"
    status = client.test.get("/status.php")
    assert status.json["maintenance"] is True


# --- format negotiation (D4) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("application/json", "json"),
        ("application/json, text/plain, */*", "json"),
        ("text/html, application/xml", "xml"),
        ("application/json;q=0.9", "xml"),
        ("*/*", "xml"),
        ("text/xml", "xml"),
        ("APPLICATION/JSON", "json"),
        (None, "xml"),
    ],
)
def test_accept_rule(client, accept, expected):
    headers = {"Accept": accept} if accept else {}
    r = client.ocs("GET", "/cloud/capabilities", fmt=None, headers=headers)
    assert r.content_type == ("application/json" if expected == "json" else "application/xml")


def test_format_parameter_beats_accept_and_body_format_counts(client):
    client.add_user("alice", "pw", groups=["admin"])
    r = client.ocs("GET", "/cloud/capabilities", fmt="xml", headers={"Accept": "application/json"})
    assert r.content_type == "application/xml"
    r = client.ocs("POST", "/cloud/groups", user="alice", fmt=None, form={"groupid": "g1", "format": "json"})
    assert r.content_type == "application/json"
    assert r.json["ocs"]["meta"]["statuscode"] == 200


def test_unknown_format_is_400_json(client):
    r = client.ocs("GET", "/cloud/capabilities", fmt="yaml")
    assert r.status_int == 400
    assert r.content_type == "application/json"
    assert r.json["ocs"]["meta"]["statuscode"] == 400


def test_default_format_switch(make_client):
    client = make_client({"ocs": {"default_format": "json"}})
    r = client.ocs("GET", "/nothing", fmt=None)
    assert r.content_type == "application/json"
    assert r.json["ocs"]["meta"]["statuscode"] == 998


def test_csrf_header_required(client):
    client.add_user("alice", "pw")
    r = client.ocs("GET", "/cloud/user", user="alice", api_header=False)
    assert r.status_int == 412
    assert r.json == {"message": "CSRF check failed"}
    r = client.ocs("GET", "/cloud/user", user="alice", api_header=False, headers={"OCS-APIRequest": "false"})
    assert r.status_int == 412
    r = client.ocs("GET", "/cloud/user", user="alice", v=1, api_header=False, fmt="xml")
    assert r.status_int == 412
    assert r.content_type == "application/json"
    # anonymous on a logged-in route: 401 comes first
    assert client.ocs("GET", "/cloud/user", api_header=False).status_int == 401


def test_csrf_cookie_mode(make_client):
    client = make_client({"ocs": {"require_api_request_header": "cookie"}})
    client.add_user("alice", "pw")
    assert client.ocs("GET", "/cloud/user", user="alice", api_header=False).status_int == 200
    r = client.ocs(
        "GET", "/cloud/user", user="alice", api_header=False, headers={"Cookie": "ocs_talk_session=abc"}
    )
    assert r.status_int == 412


# --- serialisers ----------------------------------------------------------------------------


def test_json_escaping_rules():
    assert formats.dump_json({"n": "<script>é/😀"}) == '{"n":"\\u003Cscript\\u003E\\u00e9/\\ud83d\\ude00"}'


def test_json_encoder_matches_the_standard_library_byte_for_byte():
    """orjson plus post-processing against ``json.dumps(ensure_ascii=True)`` with ``<``/``>``
    escaped: control characters, DEL, U+2028/9, BOM, astral characters, 64-bit edges, integers
    beyond 64 bits and lone surrogates (both refused by orjson), integer keys, nesting."""
    rng = random.Random(20261202)
    chars = [
        chr(c) for c in [*range(0x80), 0xE9, 0x7FF, 0x800, 0x2028, 0x2029, 0xFEFF, 0xFFFF, 0x1F600, 0x10FFFF]
    ]

    def text():
        return "".join(rng.choice(chars) for _ in range(rng.randrange(12)))

    def value(depth=0):
        makers = [
            text,
            lambda: rng.randrange(-(2**63), 2**63),
            lambda: rng.choice([0, -1, 2**63 - 1, -(2**63), 2**64, -(2**70)]),
            lambda: rng.choice([True, False, None]),
            lambda: "\ud800" + text(),
            lambda: [value(depth + 1) for _ in range(rng.randrange(4))],
            lambda: {text(): value(depth + 1) for _ in range(rng.randrange(4))},
            lambda: {rng.randrange(100): value(depth + 1)},
            lambda: tuple(value(depth + 1) for _ in range(rng.randrange(3))),
        ]
        return rng.choice(makers[:5] if depth > 3 else makers)()

    for _ in range(5000):
        item = value()
        reference = json.dumps(item, ensure_ascii=True, separators=(",", ":"))
        reference = reference.replace("<", "\\u003C").replace(">", "\\u003E")
        assert formats.dump_json_bytes(item) == reference.encode("ascii")


def test_xml_values_and_escaping():
    text = formats.dump_xml(
        {
            "ocs": {
                "a": True,
                "b": False,
                "c": None,
                "d": "",
                "e": [],
                "f": {},
                "g": "x&<>\"\r\t\n'",
                "h": ["p", "q"],
                "123": 5,
            }
        }
    )
    assert text == (
        '<?xml version="1.0"?>\n<ocs>\n <a>1</a>\n <b></b>\n <c/>\n <d></d>\n <e/>\n <f/>\n'
        " <g>x&amp;&lt;&gt;&quot;&#13;\t\n'</g>\n <h>\n  <element>p</element>\n  <element>q</element>\n"
        " </h>\n <element>5</element>\n</ocs>\n"
    )


# --- the full matrix: OCS v1/v2 x JSON/XML x success/error ---------------------------------


@pytest.mark.parametrize("v", [1, 2])
@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("outcome", ["success", "error"])
def test_envelope_matrix(client, v, fmt, outcome):
    import xml.etree.ElementTree as ET

    client.add_user("alice", "pw")
    path = "/cloud/user" if outcome == "success" else "/cloud/users/ghost"
    r = client.ocs("GET", path, user="alice", v=v, fmt=fmt)
    raw = 200 if outcome == "success" else 404
    expected_http = 200 if (v == 1 or raw == 200) else 404
    assert r.status_int == expected_http
    if fmt == "json":
        meta = r.json["ocs"]["meta"]
        data = r.json["ocs"]["data"]
    else:
        assert r.text.startswith('<?xml version="1.0"?>\n<ocs>\n <meta>\n')
        root = ET.fromstring(r.body)
        meta = {child.tag: (child.text or "") for child in root.find("meta")}
        meta["statuscode"] = int(meta["statuscode"])
        data = root.find("data")
    code = (100 if v == 1 else 200) if raw == 200 else 404
    assert meta["statuscode"] == code
    assert meta["status"] == ("ok" if raw == 200 else "failure")
    assert meta["message"] == ("OK" if raw == 200 else "User does not exist")
    assert ("totalitems" in meta) == (v == 1)
    if outcome == "success":
        user_id = data["id"] if fmt == "json" else data.find("id").text
        assert user_id == "alice"
    else:
        assert (data == []) if fmt == "json" else (len(data) == 0)
