"""Parameter sources, precedence, types and malformed input (ocs.md §7, security.md §3)."""

from __future__ import annotations

import pytest

from ocs.errors import InvalidParameter
from ocs.params import Params, parse_json_body, parse_urlencoded


def make_admin(client):
    client.add_user("admin1", "pw", groups=["admin"])
    client.add_user("bob", "pw", display_name="Bob")


def display_name(client, uid="bob"):
    return client.data(client.ocs("GET", f"/cloud/users/{uid}", user="admin1"))["displayname"]


@pytest.mark.parametrize("method_source", ["query", "form", "json"])
def test_put_reads_every_source(client, method_source):
    make_admin(client)
    values = {"key": "displayname", "value": f"From {method_source}"}
    kwargs = (
        {"params": values}
        if method_source == "query"
        else {method_source if method_source == "form" else "json_body": values}
    )
    r = client.ocs("PUT", "/cloud/users/bob", user="admin1", **kwargs)
    assert r.json["ocs"]["meta"]["statuscode"] == 200
    assert display_name(client) == f"From {method_source}"


def test_delete_reads_form_body(client):
    make_admin(client)
    client.add_user("carol", "pw", groups=["staff"])
    r = client.ocs("DELETE", "/cloud/users/carol/groups", user="admin1", form={"groupid": "staff"})
    assert r.json["ocs"]["meta"]["statuscode"] == 200
    assert client.data(client.ocs("GET", "/cloud/users/carol/groups", user="admin1")) == {"groups": []}


def test_body_beats_query(client):
    make_admin(client)
    client.ocs(
        "PUT",
        "/cloud/users/bob",
        user="admin1",
        params={"key": "displayname", "value": "query"},
        form={"value": "body"},
    )
    assert display_name(client) == "body"


def test_json_content_type_variants(client):
    make_admin(client)
    for i, ctype in enumerate(
        ["application/json;charset=utf-8", "application/json; charset=UTF-8", "Application/JSON"]
    ):
        r = client.ocs(
            "PUT",
            "/cloud/users/bob",
            user="admin1",
            json_body={"key": "displayname", "value": f"v{i}"},
            content_type=ctype,
        )
        assert r.json["ocs"]["meta"]["statuscode"] == 200, ctype
        assert display_name(client) == f"v{i}"


def test_body_with_other_content_type_is_ignored(client):
    make_admin(client)
    r = client.ocs(
        "PUT", "/cloud/users/bob", user="admin1", body="key=displayname&value=x", content_type="text/plain"
    )
    assert r.json["ocs"]["meta"]["statuscode"] == 113  # no key given
    assert display_name(client) == "Bob"


@pytest.mark.parametrize(
    "raw",
    [b"{bad", b"[1,2]", b'"text"', b"\xff\xfe", b'{"a":' * 40 + b"1" + b"}" * 40, b"NaN"],
)
def test_malformed_json_is_400_and_changes_nothing(client, raw):
    make_admin(client)
    r = client.ocs(
        "PUT",
        "/cloud/users/bob",
        user="admin1",
        body=raw,
        content_type="application/json",
        params={"key": "displayname", "value": "changed"},
    )
    assert r.status_int == 400
    assert r.json["ocs"]["meta"]["statuscode"] == 400
    assert r.json["ocs"]["data"] == []
    assert display_name(client) == "Bob"


@pytest.mark.parametrize("value", ["a\u0000b", "a\ud800b"])
def test_nul_and_lone_surrogate_rejected(client, value):
    make_admin(client)
    r = client.ocs("PUT", "/cloud/users/bob", user="admin1", json_body={"key": "displayname", "value": value})
    assert r.status_int == 400
    assert display_name(client) == "Bob"


def test_invalid_utf8_and_percent_encoding_in_query(client):
    make_admin(client)
    for raw in ("value=%ff%fe", "value=%zz"):
        r = client.test.request(
            "/ocs/v2.php/cloud/users/bob?format=json&key=displayname&" + raw,
            method="PUT",
            headers={"OCS-APIRequest": "true", "Authorization": "Basic YWRtaW4xOnB3"},
            status="*",
            expect_errors=True,
        )
        assert r.status_int == 400, raw
    assert display_name(client) == "Bob"


def test_wrong_type_for_integer_is_400(client):
    make_admin(client)
    r = client.ocs("GET", "/cloud/users", user="admin1", params={"limit": "abc"})
    assert r.status_int == 400
    r = client.ocs("GET", "/cloud/users", user="admin1", params={"limit": str(2**70)})
    assert r.status_int == 400
    r = client.ocs("GET", "/cloud/users", user="admin1", params={"limit": " 1 "})
    assert client.data(r) == {"users": ["admin1"]}
    # past Python's 4,300-digit conversion limit: out of range, never a 500
    for huge in ("9" * 100_000, "-" + "9" * 100_000, "0" * 5000 + "7"):
        r = client.ocs("GET", "/cloud/users", user="admin1", params={"limit": huge})
        assert r.status_int == (200 if huge.endswith("7") else 400)


# --- the parser itself ----------------------------------------------------------------------


def test_php_bracket_syntax():
    parsed = parse_urlencoded("a[]=x&a[]=y&p[users][]=alice&p[groups][]=g1&b[0]=1&b[1]=2&c=1&c=2&d=a+b%20c")
    assert parsed == {
        "a": ["x", "y"],
        "p": {"users": ["alice"], "groups": ["g1"]},
        "b": ["1", "2"],
        "c": "2",
        "d": "a b c",
    }


def test_typed_readers():
    p = Params(
        {"i": "42", "t": "TRUE", "f": "0", "e": "", "n": "x"}, {"j": 7, "b": True, "nul": None, "l": [1]}
    )
    assert p.integer("i") == 42
    assert p.integer("j") == 7
    assert p.integer("b") == 1
    assert p.boolean("t") is True
    assert p.boolean("f") is False
    assert p.string("e", "default") == "default"
    assert p.string("e", "x", empty_is_absent=False) == ""
    assert p.string("j") == "7"
    assert p.array("l") == [1]
    assert p.nullable_integer("nul") is None
    for reader, name in [
        (p.integer, "n"),
        (p.boolean, "n"),
        (p.string, "b"),
        (p.string, "l"),
        (p.string, "nul"),
    ]:
        with pytest.raises(InvalidParameter):
            reader(name)
    with pytest.raises(InvalidParameter):
        p.string("missing", required=True)


def test_path_beats_body_beats_query():
    p = Params({"x": "query"}, {"x": "body"})
    assert p.string("x") == "body"
    p.path = {"x": "path"}
    assert p.string("x") == "path"


def test_json_body_must_be_object():
    assert parse_json_body(b'{"a": 1}') == {"a": 1}
    for raw in (b"[]", b"1", b"null", b"{", b'{"a": Infinity}'):
        with pytest.raises(ValueError):
            parse_json_body(raw)
