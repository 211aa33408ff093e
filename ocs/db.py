"""Persistence platform: the database proxy, base model, transactions, migrations.

One :data:`db` proxy is bound to the configured database by ``wsgi.create_app``. A request
checks its connection out lazily, and the platform middleware returns it at the end with
:func:`release_connection`; services own transactions and open them with :func:`write_tx`
(``BEGIN IMMEDIATE`` on SQLite).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

import peewee
from playhouse.pool import MaxConnectionsExceeded, PooledPostgresqlDatabase

from ocs import changes, errors
from ocs.config import ConfigError

log = logging.getLogger("ocs.db")

db = peewee.DatabaseProxy()


class BaseModel(peewee.Model):
    """Base of every model: bound to the shared proxy, explicit table names in subclasses."""

    class Meta:
        database = db
        legacy_table_names = False


class ServerSetting(BaseModel):
    """Key/value settings of the installation (schema versions, instance secrets)."""

    key = peewee.CharField(primary_key=True, max_length=190)
    value = peewee.TextField()

    class Meta:
        table_name = "server_settings"


class Record:
    """A plain row with attribute access, for hot read paths that skip model hydration."""

    def __repr__(self) -> str:
        return f"Record({self.__dict__!r})"


def record(names, values) -> Record:
    row = Record.__new__(Record)
    row.__dict__ = dict(zip(names, values, strict=True))
    return row


def columns(model) -> list[str]:
    """The column names of a model, in field order (for hand-written SELECT lists)."""
    return [field.column_name for field in model._meta.sorted_fields]


def param() -> str:
    """The driver's parameter placeholder (``?`` on SQLite, ``%s`` on PostgreSQL)."""
    return db.obj.param


def select(sql: str, params=()) -> list[tuple]:
    """Run a prepared SELECT: the hot paths keep their SQL text instead of rebuilding it per call.
    (``db.obj`` directly: each attribute read through the proxy costs about a microsecond.)"""
    return db.obj.execute_sql(sql, params).fetchall()


_query_log = logging.getLogger("peewee")


def select_one(sql: str, params=()) -> tuple | None:
    """The first row of a prepared SELECT, or None: the driver's own ``execute`` on the
    request's connection, with peewee's error translation and query log (what its
    ``execute_sql`` adds besides costs about 1.5 µs, a tenth of an authenticated request)."""
    _query_log.debug((sql, params))
    with peewee.__exception_wrapper__:
        return db.obj.connection().execute(sql, params).fetchone()


def is_sqlite(database=None) -> bool:
    target = database if database is not None else db.obj
    return isinstance(target, peewee.SqliteDatabase)


class TalkSqliteDatabase(peewee.SqliteDatabase):
    """SQLite with connection pragmas that survive concurrent first opens.

    Switching a fresh file to WAL needs an exclusive lock; SQLite can answer "database is
    locked" at once (without the busy handler) while another process holds it, e.g. when several
    gunicorn workers start together. The pragmas are retried within the busy timeout."""

    def __init__(self, *args, busy_timeout_s: float = 5.0, **kwargs):
        super().__init__(*args, **kwargs)
        self._busy_timeout_s = busy_timeout_s

    def _set_pragmas(self, conn):
        deadline = time.monotonic() + self._busy_timeout_s
        delay = 0.005
        while True:
            try:
                return super()._set_pragmas(conn)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.1)


class TalkPooledPostgresqlDatabase(PooledPostgresqlDatabase):
    """The pool, without a ``SELECT 1`` round trip for a connection that was in use a moment ago.

    peewee pings every connection it hands out. A connection returned less than ``ping_after``
    seconds ago, idle and open by its own local status, is handed out as it is; one that sat
    longer (for example through a database restart) is pinged first, as before. This takes one
    of the two or three round trips off every request (the credential check, the room-list
    generation)."""

    def __init__(self, *args, ping_after: float = 1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self._ping_after = ping_after
        self._returned: dict = {}

    def _close(self, conn, close_conn=False):
        key = self.conn_key(conn)
        if close_conn:
            self._returned.pop(key, None)
        else:
            self._returned[key] = time.monotonic()
        super()._close(conn, close_conn)

    def _is_closed(self, conn):
        returned = self._returned.pop(self.conn_key(conn), None)
        if conn.closed:
            return True
        recent = returned is not None and time.monotonic() - returned < self._ping_after
        if recent and self._adapter.txn_status(conn) == self._adapter.txn_idle:
            return False
        return super()._is_closed(conn)


def make_database(config) -> peewee.Database:
    """Build (without connecting) the database object for ``database.url``."""
    section = config["database"]
    url = section["url"]
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # sqlite:///relative/path, sqlite:////absolute/path, sqlite:///:memory:
        path = unquote(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else ""
        if not path:
            raise ConfigError("database.url: sqlite URLs look like sqlite:///path/to/file.db")
        if path != ":memory:":
            directory = os.path.dirname(os.path.abspath(path))
            os.makedirs(directory, exist_ok=True)
        database = TalkSqliteDatabase(
            path,
            busy_timeout_s=section["busy_timeout_ms"] / 1000.0,
            # busy_timeout first: the WAL switch of a fresh file needs the lock other
            # starting workers may hold, and must wait for it rather than fail
            pragmas={
                "busy_timeout": section["busy_timeout_ms"],
                "journal_mode": "wal",
                "synchronous": section["sqlite_synchronous"],
                "foreign_keys": 1,
                "cache_size": -64000,
                "temp_store": "memory",
            },
            timeout=section["busy_timeout_ms"] / 1000.0,
            autoconnect=True,
        )
        database.changes = changes.for_database(path)
        return database
    if importlib.util.find_spec("psycopg") is None:
        raise ConfigError("database.url: PostgreSQL needs psycopg: pip install 'ocs-talk[postgresql]'")
    params = dict(parse_qsl(parts.query))
    kwargs = {
        "host": parts.hostname or None,
        "port": parts.port or None,
        "user": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
    }
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    kwargs.update(params)
    name = unquote(parts.path.lstrip("/")) or "postgres"
    database = TalkPooledPostgresqlDatabase(
        name,
        max_connections=section["pool_max_connections"],
        stale_timeout=section["pool_stale_timeout"],
        timeout=section["pool_wait_timeout"],
        autoconnect=True,
        **kwargs,
    )
    database.changes = None  # several hosts share it: rows are read back (ocs/changes.py)
    return database


_ROLLBACK_AFTERMATH = ("no transaction is active", "no such savepoint")


def _root_cause(exc: BaseException) -> BaseException:
    """Skip the rollback errors that follow an error after which SQLite already rolled back."""
    while isinstance(exc, peewee.OperationalError | sqlite3.OperationalError) and any(
        s in str(exc) for s in _ROLLBACK_AFTERMATH
    ):
        if exc.__context__ is None:
            break
        exc = exc.__context__
    return exc


_tx_state = threading.local()


def after_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the outermost :func:`write_tx` has committed (never on rollback).

    Outside a write transaction it runs at once. Used to wake long polls only when what they
    wait for is visible to other connections."""
    pending = getattr(_tx_state, "pending", None)
    if pending is None:
        callback()
    else:
        pending.append(callback)


def before_commit(key: str, items, flush: Callable[[set], None]) -> None:
    """Collect ``items`` under ``key``; ``flush(all items)`` runs once, as the last statement
    before the outermost :func:`write_tx` commits (at once outside a write transaction).

    Work that takes row locks in a fixed order (the room-list generations) goes here, so that
    it is the last lock a transaction takes and transactions cannot deadlock on it."""
    collected = getattr(_tx_state, "before", None)
    if collected is None:
        flush(set(items))
        return
    entry = collected.get(key)
    if entry is None:
        collected[key] = entry = (flush, set())
    entry[1].update(items)


def _run_before_commit() -> None:
    collected = _tx_state.before
    while collected:
        key = next(iter(collected))
        flush, items = collected.pop(key)
        flush(items)


@contextlib.contextmanager
def write_tx():
    """A write transaction: ``BEGIN IMMEDIATE`` on SQLite so that read-then-write never fails.

    On "disk full" or an I/O error SQLite rolls the transaction back by itself; peewee's own
    rollback then fails with "no transaction is active". The original error is raised instead,
    so that it is answered as the 503 it is."""
    outermost = getattr(_tx_state, "pending", None) is None
    if outermost:
        _tx_state.pending = []
        _tx_state.before = {}
    tx = db.atomic("IMMEDIATE") if is_sqlite() else db.atomic()
    committed = False
    try:
        with tx:
            yield tx
            if outermost:
                _run_before_commit()
        committed = True
    except (peewee.OperationalError, sqlite3.OperationalError) as exc:
        cause = _root_cause(exc)
        if cause is exc:
            raise
        raise cause from None
    finally:
        if outermost:
            callbacks = _tx_state.pending
            _tx_state.pending = None
            _tx_state.before = None
            if committed and not db.in_transaction():
                for callback in callbacks:
                    try:
                        callback()
                    except Exception:
                        log.exception("after-commit callback failed")


def is_unavailable_error(exc: BaseException) -> bool:
    """True for database errors that mean "busy or unavailable" (answered 503, D41)."""
    if isinstance(exc, MaxConnectionsExceeded | changes.SignalUnavailable):
        return True
    if isinstance(exc, peewee.OperationalError | peewee.InterfaceError | sqlite3.OperationalError):
        text = str(exc).lower()
        if is_sqlite():
            return any(
                s in text
                for s in ("locked", "busy", "disk is full", "disk i/o", "unable to open", "readonly")
            )
        return True
    return False


def drop_connection_after(exc: BaseException) -> None:
    """Close this thread's SQLite connection after an error it may never recover from.

    NOTE: SQLite opens a file it cannot write read-only, and that connection stays read-only
    after the file becomes writable again; an I/O error may leave it unusable too. Closing it
    makes the next request open a fresh one."""
    obj = db.obj
    if obj is None or not is_sqlite(obj) or obj.is_closed():
        return
    text = str(exc).lower()
    if "readonly" in text or "disk i/o" in text or "unable to open" in text:
        try:
            if obj.in_transaction():
                obj.rollback()
        except Exception:  # noqa: S110 - the connection is closed next either way
            pass
        obj.close()


def release_connection() -> None:
    """Return the request's connection: to the pool on PostgreSQL; SQLite keeps its per-thread one."""
    obj = db.obj
    if obj is None:
        return
    if isinstance(obj, peewee.SqliteDatabase):
        # a failed request must never leave a transaction open (none is, on a closed connection)
        if obj.in_transaction():
            obj.rollback()
        return
    if obj.is_closed():
        return
    try:
        if not obj.in_transaction():
            obj.close()
        else:
            obj.rollback()
            obj.close()
    except Exception:  # broken connection: drop it from the pool instead of returning it
        log.warning("discarding a broken database connection")
        try:
            obj.manual_close()
        except Exception:  # noqa: S110 - nothing more can be done with a dead connection
            pass


def discard_connections() -> None:
    """Close every connection this process holds (after start-up work, before forking)."""
    obj = db.obj
    if obj is None:
        return
    if isinstance(obj, PooledPostgresqlDatabase):
        if not obj.is_closed():
            obj.close()
        obj.close_all()
    elif not obj.is_closed():
        obj.close()
    signal = getattr(obj, "changes", None)
    if signal is not None:
        signal.close()  # a worker maps it again itself: flock does not tell forked copies apart


def ping(timeout_s: float = 2.0) -> bool:
    """``SELECT 1`` within ``timeout_s``; False when the database does not answer."""
    result = {}

    def run():
        try:
            db.execute_sql("SELECT 1").fetchone()
            result["ok"] = True
        except Exception as exc:  # the caller only needs yes/no; the reason is logged
            log.warning("database ping failed: %s", exc.__class__.__name__)
            result["ok"] = False
        finally:
            if is_sqlite():
                db.close()  # this thread ends here; its connection must not outlive it
            else:
                release_connection()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout_s)
    return result.get("ok", False)


# --- migrations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    """One schema step of a component: ``apply(dialect)`` runs inside the migration transaction."""

    version: int
    description: str
    apply: Callable[[Dialect], None]


class Dialect:
    """The few SQL differences migrations need between SQLite and PostgreSQL."""

    def __init__(self, database):
        self.database = database
        self.sqlite = is_sqlite(database)
        self.pk = "INTEGER PRIMARY KEY AUTOINCREMENT" if self.sqlite else "BIGSERIAL PRIMARY KEY"
        self.bigint = "INTEGER" if self.sqlite else "BIGINT"
        self.text = "TEXT"
        self.blob = "BLOB" if self.sqlite else "BYTEA"

    def run(self, *statements: str) -> None:
        for sql in statements:
            self.database.execute_sql(sql)


def _schema_versions() -> dict[str, int]:
    rows = ServerSetting.select().where(ServerSetting.key.startswith("schema."))
    return {row.key[len("schema.") :]: int(row.value) for row in rows}


def migrate(components: dict[str, list[Migration]]) -> list[str]:
    """Bring every component's schema to its newest version; returns what was applied.

    Runs in one write transaction guarded against concurrent start-ups (``BEGIN IMMEDIATE`` on
    SQLite, an advisory lock on PostgreSQL), so several workers may start at once.
    """
    applied = []
    database = db.obj
    dialect = Dialect(database)
    with write_tx():
        if not dialect.sqlite:
            database.execute_sql("SELECT pg_advisory_xact_lock(7201948)")
        database.execute_sql(
            "CREATE TABLE IF NOT EXISTS server_settings (key VARCHAR(190) PRIMARY KEY, value TEXT NOT NULL)"
        )
        current = _schema_versions()
        for component, steps in components.items():
            have = current.get(component, 0)
            for step in sorted(steps, key=lambda m: m.version):
                if step.version <= have:
                    continue
                step.apply(dialect)
                ServerSetting.insert(key=f"schema.{component}", value=str(step.version)).on_conflict(
                    conflict_target=[ServerSetting.key], update={ServerSetting.value: str(step.version)}
                ).execute()
                applied.append(f"{component} {step.version}: {step.description}")
                log.info("schema %s upgraded to %d (%s)", component, step.version, step.description)
    return applied


def schema_versions() -> dict[str, int]:
    """The schema version of each component recorded in the database."""
    return _schema_versions()


def now() -> int:
    """Current unix time in seconds (the default clock)."""
    return int(time.time())


def translate_database_error(exc: BaseException):
    """Map busy/unavailable database errors to the 503 protocol error, else None."""
    if is_unavailable_error(exc):
        return errors.ServiceUnavailable(retry_after=1)
    return None
