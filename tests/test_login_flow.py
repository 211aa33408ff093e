"""Login Flow v2 and v1 through HTTP (``login.md`` §3–§6): the JSON endpoints, every page state,
CSRF, throttling, headers, and the app password the flow ends with."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

import pytest
import webtest

from login.models import LoginFlow, LoginSession
from ocs.accounts.apppasswords import AppPassword
from ocs.throttle import BruteforceAttempt

UA = "Nextcloud-Talk v22.0.0 <script>alert(1)</script>"


@pytest.fixture
def app(client):
    client.add_user("alice", "secret-1", display_name="Alice A")
    return client


def browser(client):
    return webtest.TestApp(client.app)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def start_v2(client):
    r = client.test.post("/index.php/login/v2", headers={"User-Agent": UA})
    assert r.status_int == 200 and r.content_type == "application/json"
    assert list(r.json) == ["poll", "login"] and list(r.json["poll"]) == ["token", "endpoint"]
    assert "\\/index.php\\/login\\/v2\\/poll" in r.text  # escaped slashes, as PHP writes them
    token = r.json["poll"]["token"]
    assert re.fullmatch(r"[0-9A-Za-z]{128}", token)
    assert r.json["poll"]["endpoint"] == "http://localhost:80/index.php/login/v2/poll"
    assert "Set-Cookie" not in r.headers
    return token, r.json["login"]


def poll(client, token, status):
    return client.test.post("/index.php/login/v2/poll", {"token": token}, status=status)


def fields(page) -> dict:
    return dict(re.findall(r'name="(stateToken|requesttoken)" value="([^"]*)"', page.text))


def walk_to_form(b, login_url):
    landing = b.get(path_of(login_url))
    assert landing.status_int == 303
    form = b.get(path_of(landing.headers["Location"]))
    assert form.status_int == 200
    return form


def test_v2_end_to_end(app):
    token, login_url = start_v2(app)
    assert poll(app, token, 404).json == []
    b = browser(app)
    form = walk_to_form(b, login_url)
    assert "Connect to your account" in form.text and "Security warning" in form.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in form.text and "<script>" not in form.text
    for header, value in (
        ("X-Frame-Options", "DENY"),
        ("Cache-Control", "no-cache, no-store, must-revalidate"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
    ):
        assert form.headers[header] == value
    assert "frame-ancestors 'none'" in form.headers["Content-Security-Policy"]
    assert "script-src" not in form.headers["Content-Security-Policy"]
    cookie = form.request.headers.get("Cookie", "")
    assert "ocs_talk_login=" in cookie
    hidden = fields(form)
    r = b.post("/index.php/login/v2/login", {"user": "alice", "password": "secret-1", **hidden})
    assert r.status_int == 303 and "/index.php/login/v2/grant?stateToken=" in r.headers["Location"]
    grant = b.get(path_of(r.headers["Location"]))
    assert "Account access" in grant.text and "Currently logged in as Alice A (alice)." in grant.text
    assert poll(app, token, 404).json == []  # not granted yet
    done = b.post("/index.php/login/v2/grant", fields(grant))
    assert done.status_int == 200 and "Account connected" in done.text
    creds = poll(app, token, 200).json
    assert list(creds) == ["server", "loginName", "appPassword"]
    assert creds["server"] == "http://localhost:80" and creds["loginName"] == "alice"
    assert re.fullmatch(r"[A-Za-z0-9]{72}", creds["appPassword"])
    assert poll(app, token, 404).json == []  # single use
    r = app.ocs("GET", "/cloud/user", user="alice", password=creds["appPassword"])
    assert r.status_int == 200
    assert AppPassword.get().name == UA
    assert LoginFlow.select().count() == 0 and LoginSession.select().count() == 0


def test_v2_wrong_password_csrf_and_state(app):
    token, login_url = start_v2(app)
    b = browser(app)
    form = walk_to_form(b, login_url)
    hidden = fields(form)
    r = b.post("/index.php/login/v2/login", {"user": "alice", "password": "nope", **hidden})
    assert r.status_int == 303
    again = b.get(path_of(r.headers["Location"]))
    assert "Wrong login or password." in again.text and 'value="alice"' in again.text
    assert BruteforceAttempt.select().where(BruteforceAttempt.action == "login").count() == 1
    r = b.post(
        "/index.php/login/v2/login",
        {
            "user": "alice",
            "password": "secret-1",
            "stateToken": hidden["stateToken"],
            "requesttoken": "forged",
        },
        status=412,
    )
    assert "CSRF check failed" in r.text
    r = b.post(
        "/index.php/login/v2/login",
        {"user": "alice", "password": "secret-1", "stateToken": "x", "requesttoken": hidden["requesttoken"]},
        status=403,
    )
    assert "State token does not match" in r.text
    r = b.post("/index.php/login/v2/login", {"user": "alice", "password": "secret-1", **hidden})
    grant_url = path_of(r.headers["Location"])
    assert b.get(grant_url.split("?")[0], status=403).text.count("State token missing") == 1
    grant = b.get(grant_url)
    r = b.post("/index.php/login/v2/grant", {**fields(grant), "requesttoken": "forged"}, status=412)
    assert poll(app, token, 404).json == []  # nothing granted by the refused post
    # app passwords are not accepted on the form
    other_token, other_url = start_v2(app)
    app_password = app.data(app.ocs("GET", "/core/getapppassword", user="alice", password="secret-1"))[
        "apppassword"
    ]
    b2 = browser(app)
    form2 = walk_to_form(b2, other_url)
    r = b2.post("/index.php/login/v2/login", {"user": "alice", "password": app_password, **fields(form2)})
    assert "/v2/flow" in r.headers["Location"] and "grant" not in r.headers["Location"]


def test_v2_expired_unknown_and_used_flows(make_client):
    clock = [1_800_000_000]
    client = make_client(clock=lambda: clock[0])
    client.add_user("alice", "secret-1")
    token, login_url = start_v2(client)
    b = browser(client)
    walk_to_form(b, login_url)
    clock[0] += 1201
    page = b.get("/index.php/login/v2/flow", status=403)
    assert "Your login token is invalid or has expired" in page.text
    assert poll(client, token, 404).json == []
    r = b.get("/index.php/login/v2/flow/" + "x" * 128, status=403)
    assert "invalid or has expired" in r.text
    assert client.test.post("/index.php/login/v2/poll", status=400).body == b""
    assert browser(client).get("/index.php/login/v2/flow", status=403).status_int == 403  # no session


def test_v2_throttled_form(app):
    from ocs.throttle import BruteforceAttempt as Attempt

    token, login_url = start_v2(app)
    b = browser(app)
    form = walk_to_form(b, login_url)
    import time

    for _ in range(12):
        Attempt.create(
            action="login", occurred=int(time.time()), ip="127.0.0.1", subnet="0.0.0.0/32", metadata="{}"
        )
    r = b.post(
        "/index.php/login/v2/login", {"user": "alice", "password": "secret-1", **fields(form)}, status=429
    )
    assert "Too many requests" in r.text and "too many requests from your network" in r.text


def test_v1_end_to_end_redirects_to_the_app(app):
    b = browser(app)
    r = b.get("/index.php/login/flow", headers={"User-Agent": "Talk iOS"}, status=400)
    assert "Invalid request" in r.text
    form = b.get("/index.php/login/flow", headers={"OCS-APIRequest": "true", "User-Agent": "Talk iOS"})
    assert "form-action 'self' nc:" in form.headers["Content-Security-Policy"]
    assert "Talk iOS" in form.text
    r = b.post("/index.php/login/flow/login", {"user": "ALICE", "password": "wrong", **fields(form)})
    again = b.get(path_of(r.headers["Location"]))
    assert "Wrong login or password." in again.text
    r = b.post("/index.php/login/flow/login", {"user": "ALICE", "password": "secret-1", **fields(again)})
    grant = b.get(path_of(r.headers["Location"]))
    assert "Account access" in grant.text
    r = b.post("/index.php/login/flow", fields(grant))
    assert r.status_int == 303
    location = r.headers["Location"]
    match = re.fullmatch(r"nc://login/server:(.+)&user:(.+)&password:([A-Za-z0-9]{72})", location)
    assert match and match.group(1) == "http://localhost:80" and unquote(match.group(2)) == "alice"
    assert app.ocs("GET", "/cloud/user", user="alice", password=match.group(3)).status_int == 200
    assert AppPassword.get().name == "Talk iOS"


def test_aliases_without_index_php_and_stylesheet(app):
    r = app.test.post("/login/v2", headers={"User-Agent": "x"})
    assert r.status_int == 200
    css = app.test.get("/index.php/login/static/login.css")
    assert css.content_type == "text/css" and "max-age=86400" in css.headers["Cache-Control"]
    assert app.test.get("/index.php/login/v2/apptoken", status=404).status_int == 404
    assert app.test.put("/index.php/login/v2", status=405).status_int == 405


def test_deleting_the_user_removes_granted_flows(app):
    app.add_user("root", "rootpw", groups=["admin"])
    token, login_url = start_v2(app)
    b = browser(app)
    form = walk_to_form(b, login_url)
    r = b.post("/index.php/login/v2/login", {"user": "alice", "password": "secret-1", **fields(form)})
    grant = b.get(path_of(r.headers["Location"]))
    b.post("/index.php/login/v2/grant", fields(grant))
    assert app.ocs("DELETE", "/cloud/users/alice", user="root").status_int == 200
    assert poll(app, token, 404).json == []


def test_urls_follow_base_path_and_public_url(make_client):
    client = make_client({"server": {"base_path": "/nextcloud"}})
    client.add_user("alice", "secret-1")
    r = client.test.post("/nextcloud/index.php/login/v2")
    assert r.json["poll"]["endpoint"] == "http://localhost:80/nextcloud/index.php/login/v2/poll"
    landing = client.test.get(path_of(r.json["login"]))
    assert "Path=/nextcloud/index.php/login" in landing.headers["Set-Cookie"]
    assert landing.headers["Location"].startswith("http://localhost:80/nextcloud/index.php/login/v2/flow")
    proxied = make_client(
        {"server": {"public_url": "https://talk.example.com/nextcloud", "base_path": "/nextcloud"}}
    )
    r = proxied.test.post("/nextcloud/index.php/login/v2")
    assert r.json["login"].startswith("https://talk.example.com/nextcloud/index.php/login/v2/flow/")
    assert client.test.post("/nextcloud/login/v2", headers={"Host": "bad host"}, status=400).status_int == 400
