"""Reliability through a real gunicorn: connections survive refused bodies, a throttled address
cannot stall other clients, and faults (a killed worker, a restarted PostgreSQL, a read-only or
full SQLite disk) never lose an answered write."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
from urllib.parse import urlsplit

from ocs import db as dbm
from ocs.accounts import service as accounts
from tests.test_live_server import seeded  # noqa: F401 - fixture


def connect(server, source: str | None = None, timeout: float = 30) -> http.client.HTTPConnection:
    parts = urlsplit(server.url)
    address = (source, 0) if source else None
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout, source_address=address)


def worker_pids(server) -> list[int]:
    """The gunicorn worker processes of a live server (children of its master)."""
    out = subprocess.run(
        ["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True, check=False
    )
    return sorted(int(p) for p in out.stdout.split())


def kill_server(server) -> None:
    for pid in worker_pids(server):
        os.kill(pid, signal.SIGKILL)
    server.process.kill()
    server.process.wait(timeout=10)


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


def test_a_throttled_flood_does_not_stall_other_clients(live_server, database_url):
    """One address with 6 failed logins floods 16 concurrent wrong-password requests (throttle on,
    not in testing mode); other addresses' requests keep p99 under 100 ms."""
    import os
    import threading
    import time

    from ocs.accounts.passwords import Passwords
    from ocs.config import load_config
    from ocs.throttle import BruteforceAttempt
    from tests.conftest import basic

    server = live_server(env={"TALK_THROTTLE__TESTING": "false"})
    config = load_config(
        path=os.devnull,
        environ={},
        overrides={
            "database": {"url": database_url},
            "passwords": {"argon2_memory_cost": 1024, "argon2_time_cost": 1},
        },
    )
    dbm.db.initialize(dbm.make_database(config))
    accounts.create_user(Passwords(config), "bob", "bobpw", "Bob")
    now = int(time.time())
    for _ in range(6):  # the flooding address already failed six times: its delay is 6.4 s
        BruteforceAttempt.create(
            action="login", occurred=now, ip="127.0.0.1", subnet="127.0.0.1/32", metadata='{"user":"bob"}'
        )
    dbm.release_connection()

    stop = threading.Event()
    flood_statuses = []

    def flood():
        while not stop.is_set():
            conn = connect(server, "127.0.0.1", timeout=40)
            try:
                conn.request(
                    "GET",
                    "/ocs/v2.php/cloud/user?format=json",
                    headers={"OCS-APIRequest": "true", "Authorization": basic("bob", "wrong")},
                )
                flood_statuses.append(conn.getresponse().status)
            except OSError:
                pass
            finally:
                conn.close()

    threads = [threading.Thread(target=flood, daemon=True) for _ in range(16)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # let the flood occupy whatever it can
    latencies = []
    try:
        for i in range(100):
            conn = connect(server, "127.0.0.2", timeout=60)
            started = time.monotonic()
            if i % 2:
                conn.request("GET", "/status.php")
            else:
                conn.request(
                    "GET",
                    "/ocs/v2.php/cloud/user?format=json",
                    headers={"OCS-APIRequest": "true", "Authorization": basic("bob", "bobpw")},
                )
            response = conn.getresponse()
            response.read()
            latencies.append(time.monotonic() - started)
            conn.close()
            assert response.status == 200, i
            time.sleep(0.02)
    finally:
        stop.set()
        kill_server(server)  # do not wait for the flood's sleeping requests to finish
    latencies.sort()
    p99 = latencies[98]
    assert p99 < 0.1, f"p99 {p99 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
    assert 429 in flood_statuses  # the flood was refused at once, not queued
