"""The change signal (ocs/changes.py): cached credentials on SQLite are used without reading the
user row only while no account row changed, in this process or any other on the host."""

from __future__ import annotations

import os
import stat

import pytest
from playhouse.test_utils import count_queries

from ocs import changes
from ocs import db as dbm
from ocs.accounts.models import User
from tests.talk import api, create

CAPABILITIES = "/cloud/capabilities"


class Clock:
    def __init__(self):
        self.now = 1_800_000_000 * 10**9

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def pair(tmp_path):
    """Two mappings of one signal file, as two processes have them."""
    clock = Clock()
    database = str(tmp_path / "talk.db")
    one = changes.ChangeSignal(database, clock_ns=clock)
    two = changes.ChangeSignal(database, clock_ns=clock)
    yield one, two, clock
    one.close()
    two.close()


def test_a_write_through_one_mapping_changes_the_token_of_the_other(pair):
    one, two, _ = pair
    before = two.token()
    assert before is not None and one.token() == before
    busy = one.begin_write()
    assert two.token() is None and one.token() is None  # nothing is cached during the commit
    one.end_write(busy)
    after = two.token()
    assert after is not None and after != before and one.token() == after


def test_a_writer_that_dies_before_its_second_signal_leaves_nothing_trusted(pair):
    one, two, clock = pair
    before = two.token()
    one.begin_write()  # ...and the process is killed after its commit
    clock.now += changes.BUSY_WINDOW_NS - 1
    assert two.token() is None
    clock.now += 1
    # the window passed: the version had changed before the commit, so every row cached before
    # it is read again, and nothing was cached during it
    assert two.token() not in (None, before)


def test_the_window_stays_open_while_any_writer_is_in_it(pair):
    one, two, clock = pair
    first = one.begin_write()
    clock.now += 1000
    second = two.begin_write()
    one.end_write(first)
    assert one.token() is None and two.token() is None
    two.end_write(second)
    assert one.token() is not None and one.token() == two.token()


def test_a_forked_writer_maps_the_file_again_and_is_seen_by_its_parent(tmp_path):
    signal = changes.ChangeSignal(str(tmp_path / "talk.db"))
    before = signal.token()
    pid = os.fork()
    if pid == 0:  # the child: as a worker forked after the master mapped the file
        code = 1
        try:
            signal.end_write(signal.begin_write())
            code = 0 if signal._pid == os.getpid() else 2  # its own mapping now
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert signal.token() not in (None, before)
    signal.close()


def test_processes_reaching_the_database_through_a_symbolic_link_share_one_signal(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "data")
    direct = changes.for_database(str(tmp_path / "data" / "talk.db"))
    linked = changes.for_database(str(tmp_path / "link" / "talk.db"))
    before = direct.token()
    linked.end_write(linked.begin_write())
    assert direct.path == linked.path and direct.token() not in (None, before)
    direct.close()
    linked.close()
    assert changes.for_database(":memory:") is None  # every thread its own database


def test_the_file_takes_the_database_files_mode(tmp_path):
    database = tmp_path / "talk.db"
    database.write_bytes(b"")
    database.chmod(0o640)
    signal = changes.ChangeSignal(str(database))
    assert signal.token() is not None
    assert stat.S_IMODE(os.stat(signal.path).st_mode) == 0o640
    signal.close()


def test_a_file_of_something_else_is_not_used(tmp_path):
    database = tmp_path / "talk.db"
    (tmp_path / "talk.db-signal").write_bytes(b"x" * 4096)
    signal = changes.ChangeSignal(str(database))
    assert signal.token() is None
    with pytest.raises(changes.SignalUnavailable):
        signal.begin_write()
    assert (tmp_path / "talk.db-signal").read_bytes() == b"x" * 4096


def capabilities_statements(client, user: str, password: str | None = None) -> int:
    with count_queries() as counter:
        assert client.ocs("GET", CAPABILITIES, user=user, password=password).status_int == 200
    return counter.count


@pytest.mark.parametrize(
    "change",
    ["display name", "email", "password of another user", "deleted other user"],
)
def test_cached_credentials_are_read_back_once_after_any_account_row_changed(client, database_url, change):
    """No statement while nothing changed; one read after a change to any user row; then none."""
    client.add_user("root", "rootpw", groups=["admin"])
    client.add_user("alice", "alicepw")
    client.add_user("carol", "carolpw")
    client.ocs("GET", CAPABILITIES, user="alice")  # the password is verified and cached
    expected = 0 if database_url.startswith("sqlite") else 1
    assert capabilities_statements(client, "alice") == expected
    edits = {
        "display name": ("alice", {"key": "displayname", "value": "Alice Liddell"}),
        "email": ("alice", {"key": "email", "value": "alice@example.org"}),
        "password of another user": ("carol", {"key": "password", "value": "carol-new"}),
    }
    if change in edits:
        uid, form = edits[change]
        assert client.ocs("PUT", f"/cloud/users/{uid}", user="root", form=form).status_int == 200
    else:
        assert client.ocs("DELETE", "/cloud/users/carol", user="root").status_int == 200
    assert capabilities_statements(client, "alice") == 1
    assert capabilities_statements(client, "alice") == expected
    if change == "display name":  # the request's user is the new row
        token = create(client, "alice", roomType=2, roomName="R")["token"]
        members = client.data(client.ocs("GET", api() + f"/room/{token}/participants", user="alice"))
        assert [m["displayName"] for m in members] == ["Alice Liddell"]


def test_a_changed_password_or_deleted_account_is_refused_on_the_next_request(client):
    client.add_user("root", "rootpw", groups=["admin"])
    client.add_user("alice", "alicepw")
    client.add_user("bob", "bobpw")
    for user in ("alice", "bob"):
        assert client.ocs("GET", CAPABILITIES, user=user).status_int == 200
        assert client.ocs("GET", "/cloud/user", user=user).status_int == 200
    form = {"key": "password", "value": "alice-new"}
    assert client.ocs("PUT", "/cloud/users/alice", user="root", form=form).status_int == 200
    assert client.ocs("GET", api() + "/room", user="alice", password="alicepw").status_int == 401
    assert client.ocs("GET", api() + "/room", user="alice", password="alice-new").status_int == 200
    assert client.ocs("DELETE", "/cloud/users/bob", user="root").status_int == 200
    assert client.ocs("GET", api() + "/room", user="bob", password="bobpw").status_int == 401


def test_account_changes_made_by_occ_in_another_process_are_seen_at_once(client, occ):
    client.add_user("alice", "alicepw")
    client.add_user("bob", "bobpw")
    for user in ("alice", "bob"):
        for _ in range(3):
            assert client.ocs("GET", CAPABILITIES, user=user).status_int == 200
    occ("user:resetpassword", "--password-from-env", "alice", password="alice-new")
    assert client.ocs("GET", CAPABILITIES, user="alice", password="alicepw").status_int == 401
    assert client.ocs("GET", CAPABILITIES, user="alice", password="alice-new").status_int == 200
    occ("user:delete", "bob")
    assert client.ocs("GET", CAPABILITIES, user="bob", password="bobpw").status_int == 401


def test_an_unusable_signal_file_refuses_account_writes_and_reads_rows_back(make_client, tmp_path):
    """SQLite whatever the suite runs on: the signal is SQLite's."""
    client = make_client({"database": {"url": f"sqlite:///{tmp_path}/own.db"}})
    client.add_user("root", "rootpw", groups=["admin"])
    client.add_user("alice", "alicepw")
    signal = dbm.db.obj.changes
    signal.close()
    os.mkdir(signal.path)  # where the file belongs: it cannot be opened by anyone
    assert capabilities_statements(client, "alice") > 0  # the password is verified
    assert capabilities_statements(client, "alice") == 1  # and the row read back every time
    assert capabilities_statements(client, "alice") == 1
    form = {"key": "displayname", "value": "Alice Liddell"}
    r = client.ocs("PUT", "/cloud/users/alice", user="root", form=form)
    assert r.status_int == 503
    assert User.get(User.uid == "alice").display_name == ""  # rolled back: nothing half-done
    os.rmdir(signal.path)  # usable again: writes proceed, and cached rows are trusted again
    assert client.ocs("PUT", "/cloud/users/alice", user="root", form=form).status_int == 200
    assert capabilities_statements(client, "alice") == 1
    assert capabilities_statements(client, "alice") == 0


def test_sqlite_has_a_signal_and_postgresql_reads_the_row_every_time(make_client, database_url):
    client = make_client()
    client.add_user("alice", "alicepw")
    client.ocs("GET", CAPABILITIES, user="alice")
    if database_url.startswith("sqlite"):
        assert isinstance(dbm.db.obj.changes, changes.ChangeSignal)
        assert capabilities_statements(client, "alice") == 0
    else:
        assert dbm.db.obj.changes is None
        assert capabilities_statements(client, "alice") == 1
