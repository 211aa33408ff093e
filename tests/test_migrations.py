"""Versioned schema migrations: upgrade keeps data, re-runs are no-ops, failures roll back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import peewee
import pytest

from ocs import db as dbm
from ocs import migrations
from ocs.accounts.models import User
from ocs.config import load_config
from ocs.db import Migration

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def database_url(tmp_path):
    """These tests build schemas themselves: they start (and leave the next test) without one."""
    url = os.environ.get("TALK_TEST_DATABASE_URL", "")
    if url:
        from tests.conftest import empty_postgres_schema

        empty_postgres_schema(url)
        yield url
        dbm.discard_connections()
        empty_postgres_schema(url)
    else:
        yield f"sqlite:///{tmp_path}/talk.db"
        dbm.discard_connections()


@pytest.fixture
def bare_db(database_url):
    config = load_config(path=os.devnull, environ={}, overrides={"database": {"url": database_url}})
    dbm.db.initialize(dbm.make_database(config))
    yield
    dbm.discard_connections()


def tables():
    return set(dbm.db.get_tables())


def test_upgrade_from_first_schema_keeps_data(bare_db):
    dbm.migrate({"platform": migrations.MIGRATIONS[:1]})
    assert dbm.schema_versions() == {"platform": 1}
    assert "bruteforce_attempts" not in tables()
    dbm.db.execute_sql(
        "INSERT INTO users (uid, uid_lower, display_name, credential_epoch, last_login, created_at) "
        "VALUES ('Alice', 'alice', 'Alice A', 0, 0, 1)"
    )
    applied = dbm.migrate({"platform": migrations.MIGRATIONS})
    assert applied == ["platform 2: brute-force attempts", "platform 3: app passwords"]
    assert dbm.schema_versions() == {"platform": 3}
    assert "bruteforce_attempts" in tables()
    user = User.get(User.uid == "Alice")
    assert user.display_name == "Alice A"
    assert dbm.migrate({"platform": migrations.MIGRATIONS}) == []


def test_failed_migration_rolls_back(bare_db):
    dbm.migrate({"platform": migrations.MIGRATIONS})

    def broken(d):
        d.run("CREATE TABLE half_done (id INTEGER PRIMARY KEY)")
        raise RuntimeError("migration bug")

    with pytest.raises(RuntimeError):
        dbm.migrate({"platform": migrations.MIGRATIONS, "extra": [Migration(1, "broken", broken)]})
    assert "half_done" not in tables()
    assert dbm.schema_versions() == {"platform": 3}


def test_components_are_versioned_independently(bare_db):
    def first(d):
        d.run("CREATE TABLE extra_things (id INTEGER PRIMARY KEY, name VARCHAR(10))")

    def second(d):
        d.run("ALTER TABLE extra_things ADD COLUMN size INTEGER NOT NULL DEFAULT 0")

    dbm.migrate({"platform": migrations.MIGRATIONS, "extra": [Migration(1, "things", first)]})
    dbm.db.execute_sql("INSERT INTO extra_things (id, name) VALUES (1, 'kept')")
    dbm.migrate(
        {
            "platform": migrations.MIGRATIONS,
            "extra": [Migration(1, "things", first), Migration(2, "size", second)],
        }
    )
    assert dbm.schema_versions() == {"platform": 3, "extra": 2}
    assert dbm.db.execute_sql("SELECT name, size FROM extra_things").fetchall() == [("kept", 0)]


def test_admin_group_exists_after_startup(make_app):
    make_app()
    from ocs.accounts.models import Group

    assert Group.get_or_none(Group.gid == "admin") is not None


def test_concurrent_startups_migrate_once(database_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALK_")}
    env["TALK_DATABASE__URL"] = database_url
    env["TALK_SERVER__LOG_LEVEL"] = "WARNING"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", "import wsgi; wsgi.create_app()"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    assert [r[2] for r in results] == [0, 0, 0, 0], results
    config = load_config(path=os.devnull, environ={}, overrides={"database": {"url": database_url}})
    dbm.db.initialize(dbm.make_database(config))
    try:
        assert dbm.schema_versions() == {
            "platform": 3,
            "conversations": 3,
            "participants": 1,
            "chat": 1,
            "login": 1,
        }
        assert dbm.db.execute_sql("SELECT COUNT(*) FROM user_groups").fetchone()[0] == 1
    finally:
        dbm.discard_connections()


def test_sqlite_pragmas(tmp_path):
    config = load_config(
        path=os.devnull, environ={}, overrides={"database": {"url": f"sqlite:///{tmp_path}/p.db"}}
    )
    database = dbm.make_database(config)
    assert isinstance(database, peewee.SqliteDatabase)
    database.connect()
    try:
        assert database.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert database.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
        assert database.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 5000
        assert database.execute_sql("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    finally:
        database.close()
