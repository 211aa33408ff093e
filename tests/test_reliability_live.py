"""Reliability through a real gunicorn: connections survive refused bodies, a throttled address
cannot stall other clients, and faults (a killed worker, a restarted PostgreSQL, a read-only or
full SQLite disk) never lose an answered write."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

from ocs import db as dbm
from ocs.accounts import service as accounts
from tests.test_live_server import seeded  # noqa: F401 - fixture


def connect(server, source: str | None = None, timeout: float = 30) -> http.client.HTTPConnection:
    parts = urlsplit(server.url)
    address = (source, 0) if source else None
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout, source_address=address)


def test_refused_body_keeps_the_connection_usable(seeded):  # noqa: F811
    """200 rounds of an over-limit PUT then a GET on one keep-alive connection, none failing."""
    conn = connect(seeded)
    oversized = b"x" * (2 * 1024 * 1024 + 17)  # twice server.max_body_bytes
    headers = {"OCS-APIRequest": "true", "Content-Type": "application/x-www-form-urlencoded"}
    try:
        for round_ in range(200):
            conn.request("PUT", "/ocs/v2.php/cloud/users/bob?format=json", body=oversized, headers=headers)
            response = conn.getresponse()
            body = response.read()
            assert response.status == 413, round_
            assert json.loads(body)["ocs"]["meta"]["statuscode"] == 413
            conn.request("GET", "/status.php")
            response = conn.getresponse()
            assert response.status == 200, round_
            assert json.loads(response.read())["installed"] is True
    finally:
        conn.close()
    assert accounts.find_user("bob").display_name == "Bob"
    dbm.release_connection()
