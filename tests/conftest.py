"""Test fixtures: a fresh real database per test (SQLite file, or PostgreSQL when
``TALK_TEST_DATABASE_URL`` is set) and an in-process WSGI client speaking OCS."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest
import webtest

import wsgi
from ocs import db as dbm
from ocs.accounts import service as accounts
from ocs.config import load_config

PG_URL = os.environ.get("TALK_TEST_DATABASE_URL", "")
# TALK_TEST_VERIFY_ROOM_LISTS=1: every test checks each cached room list it is served against a
# fresh one (slower; tests/test_room_list_cache.py checks every kind of write either way)
VERIFY_ROOM_LISTS = os.environ.get("TALK_TEST_VERIFY_ROOM_LISTS", "") == "1"
FAST_ARGON2 = {"argon2_memory_cost": 1024, "argon2_time_cost": 1, "argon2_parallelism": 1}


def _pg_connect(url: str):
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username,
        password=parts.password,
        dbname=parts.path.lstrip("/"),
        autocommit=True,
    )


def _worker_database(url: str) -> str:
    """Under pytest-xdist each worker gets its own PostgreSQL database (``test_gw0``, ...),
    created on first use next to the one ``TALK_TEST_DATABASE_URL`` names."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not url or not worker:
        return url
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if name.endswith(f"_{worker}"):  # this module imported a second time (as tests.conftest)
        return url
    name = f"{name}_{worker}"
    with _pg_connect(url) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            try:
                conn.execute(f'CREATE DATABASE "{name}"')
            except psycopg.errors.DuplicateDatabase:
                pass
    return urlunsplit(parts._replace(path="/" + name))


# Test modules read the variable at import, after this: they see the worker's database too.
if PG_URL:
    PG_URL = os.environ["TALK_TEST_DATABASE_URL"] = _worker_database(PG_URL)


def reset_postgres(url: str) -> None:
    """An empty ``public`` schema."""
    with _pg_connect(url) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


_PG_SCHEMA = {"current": False}  # whether this session migrated the schema and only data changed


def clean_postgres(url: str) -> None:
    """An empty database with the current schema: the first call of a session drops the schema
    (the first app migrates it); later calls empty every table, which is much faster than
    migrating again for each test, and keep the recorded schema versions."""
    if not _PG_SCHEMA["current"]:
        reset_postgres(url)
        _PG_SCHEMA["current"] = True
        return
    with _pg_connect(url) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        data = [f'"{t}"' for t in tables if t != "server_settings"]
        if data:
            conn.execute(f"TRUNCATE {', '.join(data)} RESTART IDENTITY CASCADE")
        if "server_settings" in tables:
            conn.execute("DELETE FROM server_settings WHERE key NOT LIKE 'schema.%'")


def empty_postgres_schema(url: str) -> None:
    """For tests of migrations themselves: no schema at all, and the next test starts over."""
    reset_postgres(url)
    _PG_SCHEMA["current"] = False


@pytest.fixture
def database_url(tmp_path):
    if PG_URL:
        clean_postgres(PG_URL)
        yield PG_URL
    else:
        yield f"sqlite:///{tmp_path}/talk.db"
    dbm.discard_connections()


def bind_database(database_url: str) -> None:
    """Bind the models in this process to the test database (for tests that seed a database a
    live server uses)."""
    config = load_config(path=os.devnull, environ={}, overrides={"database": {"url": database_url}})
    dbm.db.initialize(dbm.make_database(config))


def seed_users(database_url: str, *users) -> None:
    """Create accounts in the test database: each a uid (password ``<uid>pw``, display name
    ``<Uid>``) or a tuple ``(uid, password, display name, groups)``."""
    from ocs.accounts.passwords import Passwords

    bind_database(database_url)
    passwords = Passwords(load_config(path=os.devnull, environ={}, overrides={"passwords": FAST_ARGON2}))
    for user in users:
        uid, password, display_name, groups = (
            (user, user + "pw", user.title(), ()) if isinstance(user, str) else user
        )
        accounts.create_user(passwords, uid, password, display_name, groups=list(groups))
    dbm.release_connection()


def deep_merge(base: dict, extra: dict) -> dict:
    result = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = value
    return result


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def assert_php_json(response) -> None:
    """Every JSON body is byte for byte what the standard library writes with PHP's escaping
    (the encoder is orjson with post-processing; this holds it to the reference everywhere)."""
    if not (response.content_type or "").endswith("json") or not response.body:
        return
    reference = json.dumps(json.loads(response.body), ensure_ascii=True, separators=(",", ":"))
    reference = reference.replace("<", "\\u003C").replace(">", "\\u003E")
    assert response.body == reference.encode("ascii")


class OCSClient:
    """webtest wrapper: ``client.ocs('GET', '/cloud/user', user='alice')`` returns the response."""

    def __init__(self, app, passwords: dict):
        self.app = app
        self.test = webtest.TestApp(app)
        self.passwords = passwords

    def ocs(
        self,
        method: str,
        path: str,
        *,
        user: str | None = None,
        password: str | None = None,
        v: int = 2,
        fmt: str | None = "json",
        params: dict | None = None,
        json_body=None,
        form: dict | None = None,
        body: bytes | str | None = None,
        content_type: str | None = None,
        headers: dict | None = None,
        api_header: bool = True,
        status="*",
    ):
        url = f"/ocs/v{v}.php{path}"
        query = dict(params or {})
        if fmt is not None:
            query.setdefault("format", fmt)
        if query:
            url += ("&" if "?" in url else "?") + urlencode(query, doseq=True)
        hdrs = {}
        if api_header:
            hdrs["OCS-APIRequest"] = "true"
        if user is not None:
            hdrs["Authorization"] = basic(user, password if password is not None else self.passwords[user])
        payload = None
        if json_body is not None:
            payload = json.dumps(json_body).encode()
            content_type = content_type or "application/json"
        elif form is not None:
            payload = urlencode(form, doseq=True).encode()
            content_type = content_type or "application/x-www-form-urlencoded"
        elif body is not None:
            payload = body.encode() if isinstance(body, str) else body
        if content_type:
            hdrs["Content-Type"] = content_type
        hdrs.update(headers or {})
        kwargs = {"method": method, "headers": hdrs, "status": status, "expect_errors": True}
        if payload is not None:
            kwargs["body"] = payload
        response = self.test.request(url, **kwargs)
        assert_php_json(response)
        return response

    def data(self, response):
        return response.json["ocs"]["data"]

    def add_user(self, uid: str, password: str = "pw-" + "x", display_name: str = "", groups=()):
        passwords = self.app.platform.passwords
        for gid in groups:
            if accounts.find_group(gid) is None:
                accounts.create_group(gid)
        user = accounts.create_user(
            passwords, uid, password=password, display_name=display_name, groups=list(groups)
        )
        dbm.release_connection()
        self.passwords[uid] = password
        return user


@pytest.fixture
def make_app(database_url, tmp_path):
    """Build an app with config overrides on the test database (throttle in testing mode)."""
    built = []

    def factory(overrides: dict | None = None, **kwargs):
        base = {
            "database": {"url": database_url},
            "throttle": {"testing": True},
            "passwords": dict(FAST_ARGON2),
            "server": {"log_level": "WARNING"},
            # every cached room list is rendered again and compared (a stale one answers 500)
            "talk": {"room_list_cache_verify": VERIFY_ROOM_LISTS},
        }
        config = load_config(path=os.devnull, environ={}, overrides=deep_merge(base, overrides or {}))
        app = wsgi.create_app(config, **kwargs)
        built.append(app)
        return app

    return factory


@pytest.fixture
def make_client(make_app):
    def factory(overrides: dict | None = None, **kwargs):
        return OCSClient(make_app(overrides, **kwargs), {})

    return factory


@pytest.fixture
def client(make_client):
    return make_client()


# --- a real gunicorn on loopback (interop, multi-worker and transport tests) ------------------


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    def __init__(self, url: str, process):
        self.url = url
        self.process = process


@pytest.fixture
def live_server(database_url, tmp_path):
    """Start ``gunicorn 'wsgi:create_app()'`` on a free loopback port; yields a starter."""
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    started = []

    def start(
        workers: int = 2, threads: int = 2, env: dict | None = None, worker_class: str = "gevent"
    ) -> LiveServer:
        """The README's serving model (gevent) unless ``worker_class`` says otherwise."""
        port = free_port()
        run_env = {k: v for k, v in os.environ.items() if not k.startswith("TALK_")}
        run_env.update(
            {
                "TALK_DATABASE__URL": database_url,
                "TALK_THROTTLE__TESTING": "true",
                "TALK_PASSWORDS__ARGON2_MEMORY_COST": "1024",
                "TALK_PASSWORDS__ARGON2_TIME_COST": "1",
                "TALK_SERVER__LOG_LEVEL": "WARNING",
            }
        )
        run_env.update(env or {})
        log = open(tmp_path / f"gunicorn-{port}.log", "w")  # noqa: SIM115 - closed at teardown
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "wsgi:create_app()",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                *(
                    ["--threads", str(threads)]
                    if worker_class == "gthread"
                    else ["--worker-connections", "1000"]
                ),
                "--worker-class",
                worker_class,
                "--timeout",
                "30",
            ],
            cwd=root,
            env=run_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/health/live", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.close()
                    raise RuntimeError((tmp_path / f"gunicorn-{port}.log").read_text()) from None
                time.sleep(0.1)
        server = LiveServer(url, process)
        started.append((server, log))
        return server

    yield start
    for server, log in started:
        # Quick shutdown (SIGINT): a graceful one waits for the clients' keep-alive connections,
        # about 3 s per server. Tests that need a graceful stop (to read the final logs) terminate
        # the server themselves first.
        if server.process.poll() is None:
            server.process.send_signal(signal.SIGINT)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
        log.close()


# --- the occ command in a process of its own -------------------------------------------------


@pytest.fixture
def occ(database_url):
    """Run ``occ`` as a subprocess against the test database; ``expect``: its exit code. The
    models of this process are bound to the same database, so that a test reads what occ wrote
    (and not the database of whichever test ran before it in this worker)."""
    bind_database(database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALK_") and k != "OC_PASS"}
    env.update(
        {
            "TALK_DATABASE__URL": database_url,
            "TALK_PASSWORDS__ARGON2_MEMORY_COST": "1024",
            "TALK_PASSWORDS__ARGON2_TIME_COST": "1",
        }
    )

    root = Path(__file__).resolve().parent.parent

    def run(*args, password=None, expect=0):
        run_env = dict(env)
        if password is not None:
            run_env["OC_PASS"] = password
        proc = subprocess.run(
            [sys.executable, "-m", "ocs.accounts.occ", *args],
            cwd=root,
            env=run_env,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == expect, proc.stdout + proc.stderr
        return proc

    return run
