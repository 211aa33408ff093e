"""PostgreSQL failures (performance.md §5, §9): dead pooled connections are discarded, the
request answers 503, and the next one succeeds; no pool slot leaks. Needs PostgreSQL
(``TALK_TEST_DATABASE_URL``); CI runs it in its PostgreSQL pass."""

from __future__ import annotations

import os
import time

import psycopg
import pytest

from ocs import db as dbm

PG_URL = os.environ.get("TALK_TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(not PG_URL, reason="needs TALK_TEST_DATABASE_URL (PostgreSQL)")


def kill_other_backends():
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def test_dead_pooled_connection_is_discarded(make_client):
    client = make_client({"database": {"pool_max_connections": 2}})
    client.add_user("alice", "pw")
    assert client.ocs("GET", "/cloud/user", user="alice").status_int == 200
    kill_other_backends()
    first = client.ocs("GET", "/cloud/user", user="alice")
    assert first.status_int in (200, 503)
    if first.status_int == 503:
        assert first.headers["Retry-After"] == "1"
        assert b"Traceback" not in first.body
    for _ in range(5):  # more requests than pool slots: nothing leaked
        assert client.ocs("GET", "/cloud/user", user="alice").status_int == 200
    assert client.test.get("/health/ready").json == {"status": "ok", "database": "ok"}
    assert len(dbm.db.obj._in_use) == 0


def test_pool_pings_only_connections_that_sat_idle(make_client, monkeypatch):
    """A connection returned a moment ago is handed out without a ``SELECT 1``; one idle longer
    than ``ping_after`` is pinged, and replaced when its backend is gone."""
    make_client()  # binds dbm.db to the test database
    pool = dbm.db.obj
    pool._ping_after = 0.3
    pings = []
    ping = pool._adapter.is_connection_closed
    monkeypatch.setattr(pool._adapter, "is_connection_closed", lambda conn: pings.append(1) or ping(conn))
    dbm.db.execute_sql("SELECT 1")
    pid = dbm.db.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
    dbm.release_connection()
    for _ in range(5):  # busy: reused at once, no ping
        assert dbm.db.execute_sql("SELECT pg_backend_pid()").fetchone()[0] == pid
        dbm.release_connection()
    assert pings == []
    kill_other_backends()
    time.sleep(0.4)  # idle longer than ping_after: pinged, found dead, replaced
    assert dbm.db.execute_sql("SELECT pg_backend_pid()").fetchone()[0] != pid
    dbm.release_connection()
    assert pings
