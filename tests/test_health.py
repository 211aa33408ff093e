"""/status.php, /health/live, /health/ready, and database failures answered 503 (D41)."""

from __future__ import annotations

import sqlite3

import peewee

from ocs import db as dbm


def test_status_php(client):
    r = client.test.get("/status.php")
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.text == (
        '{"installed":true,"maintenance":false,"needsDbUpgrade":false,"version":"31.0.0.0",'
        '"versionstring":"31.0.0","edition":"","productname":"Nextcloud","extendedSupport":false,'
        '"needsUpgrade":false,"upgrade":false}'
    )


def test_health_endpoints(client):
    live = client.test.get("/health/live")
    assert live.json == {"status": "ok"}
    assert live.headers["Cache-Control"] == "no-store"
    ready = client.test.get("/health/ready")
    assert ready.json == {"status": "ok", "database": "ok"}


def test_base_path(make_client):
    client = make_client({"server": {"base_path": "/nextcloud"}})
    assert client.test.get("/nextcloud/status.php").json["installed"] is True
    assert client.test.get("/status.php", status=404).json == {"message": "Not found"}
    r = client.test.get(
        "/nextcloud/ocs/v2.php/cloud/capabilities?format=json", headers={"OCS-APIRequest": "true"}
    )
    assert r.json["ocs"]["meta"]["statuscode"] == 200
    assert client.test.get("/ocs/v2.php/cloud/capabilities", status=404).json == {"message": "Not found"}


def test_ready_is_503_when_database_is_gone(client):
    original = dbm.db.obj
    dbm.db.initialize(peewee.SqliteDatabase("/proc/no/such/dir/talk.db"))
    try:
        r = client.test.get("/health/ready", status=503)
        assert r.json == {"status": "unavailable", "database": "error"}
        assert r.headers["Retry-After"] == "5"
        assert client.test.get("/health/live").json == {"status": "ok"}
    finally:
        dbm.db.initialize(original)


def test_ready_is_503_in_maintenance(make_client):
    client = make_client({"server": {"maintenance": True}})
    assert client.test.get("/health/ready", status=503).json["status"] == "unavailable"


def test_sqlite_lock_timeout_is_503_and_reads_continue(make_client, tmp_path):
    path = tmp_path / "locked.db"
    client = make_client({"database": {"url": f"sqlite:///{path}", "busy_timeout_ms": 200}})
    client.add_user("root", "pw", groups=["admin"])
    assert client.ocs("GET", "/cloud/user", user="root").status_int == 200
    holder = sqlite3.connect(path, isolation_level=None, timeout=5)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO user_groups (gid, display_name) VALUES ('held', 'held')")
    try:
        r = client.ocs("POST", "/cloud/groups", user="root", form={"groupid": "blocked"})
        assert r.status_int == 503
        assert r.headers["Retry-After"] == "1"
        assert r.json["ocs"]["meta"] == {
            "status": "failure",
            "statuscode": 503,
            "message": "Service unavailable",
        }
        assert b"Traceback" not in r.body and b"locked" not in r.body
        # readers are not blocked by the writer under WAL
        assert client.data(client.ocs("GET", "/cloud/groups", user="root")) == {"groups": ["admin"]}
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    r = client.ocs("POST", "/cloud/groups", user="root", form={"groupid": "later"})
    assert r.status_int == 200
    assert client.data(client.ocs("GET", "/cloud/groups", user="root")) == {"groups": ["admin", "later"]}


def test_sqlite_disk_full_is_503_and_recovers(make_client, tmp_path):
    client = make_client({"database": {"url": f"sqlite:///{tmp_path}/full.db"}})
    client.add_user("root", "pw", groups=["admin"])
    assert client.ocs("GET", "/cloud/user", user="root").status_int == 200
    pages = dbm.db.execute_sql("PRAGMA page_count").fetchone()[0]
    dbm.db.execute_sql(f"PRAGMA max_page_count = {pages}")  # this worker thread's connection
    try:
        r = client.ocs(
            "POST",
            "/cloud/users",
            user="root",
            json_body={"userid": "big", "password": "x" * 400, "displayName": "y" * 60, "groups": ["admin"]},
        )
        for i in range(50):  # fill the last free pages until SQLite reports the disk full
            if r.status_int == 503:
                break
            r = client.ocs("POST", "/cloud/groups", user="root", form={"groupid": f"g{i}" + "x" * 60})
        assert r.status_int == 503
        assert r.headers["Retry-After"] == "1"
        assert b"full" not in r.body and b"Traceback" not in r.body
    finally:
        dbm.db.execute_sql("PRAGMA max_page_count = 1073741823")
    assert client.ocs("POST", "/cloud/groups", user="root", form={"groupid": "after"}).status_int == 200
