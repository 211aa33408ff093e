"""Account rules: users, groups, memberships, credentials. Raises provisioning errors.

Feature packages react to account changes through the app's :class:`Hooks` (``platform.hooks``;
e.g. conversations turn a deleted user's one-to-one rooms into former one-to-one rooms); callers
pass them in, and hooks run inside the same write transaction as the change.
"""

from __future__ import annotations

import logging
import re
import time

import peewee

from ocs import db as dbm
from ocs.accounts.models import Group, GroupMember, User
from ocs.db import db, write_tx
from ocs.errors import ProvisioningError

log = logging.getLogger("ocs.accounts")

ADMIN_GROUP = "admin"
MAX_ID_LENGTH = 64
MAX_DISPLAY_NAME = 64
MAX_PASSWORD = 469
USER_ID_CHARS = re.compile(r"^[A-Za-z0-9 _.@\-']+$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
EMAIL = re.compile(r"^[^\s@]+@[^\s@]+$")
INVALID_USER_ID = (
    'Only the following characters are allowed in an Login: "a-z", "A-Z", "0-9", spaces and "_.@-\'"'
)


class Hooks:
    """Callbacks that feature packages register for account events (idempotent)."""

    EVENTS = (
        "user_deleted",  # (user)
        "user_renamed",  # (user)  display name changed
        "member_added",  # (group, user)
        "member_removed",  # (group, user)
        "group_deleted",  # (group, member_uids)
        "group_renamed",  # (group)
    )

    def __init__(self):
        self._callbacks = {event: [] for event in self.EVENTS}

    def register(self, event: str, callback) -> None:
        if callback not in self._callbacks[event]:
            self._callbacks[event].append(callback)

    def fire(self, event: str, *args) -> None:
        for callback in self._callbacks[event]:
            callback(*args)


NO_HOOKS = Hooks()


# --- validation -----------------------------------------------------------------------------


def valid_user_id(uid: str) -> bool:
    return (
        isinstance(uid, str)
        and 1 <= len(uid) <= MAX_ID_LENGTH
        and uid == uid.strip()
        and bool(USER_ID_CHARS.match(uid))
        and uid.strip(".") != ""
    )


def valid_group_id(gid: str) -> bool:
    return (
        isinstance(gid, str)
        and 1 <= len(gid) <= MAX_ID_LENGTH
        and gid == gid.strip()
        and not CONTROL.search(gid)
    )


def clean_display_name(name: str | None) -> str | None:
    """Trimmed display name, or None when it is invalid (too long, control characters)."""
    if name is None:
        return ""
    name = name.strip()
    if len(name) > MAX_DISPLAY_NAME or CONTROL.search(name):
        return None
    return name


def valid_email(email: str) -> bool:
    return email == "" or (len(email) <= 254 and bool(EMAIL.match(email)))


def valid_password(password: str) -> bool:
    return isinstance(password, str) and 1 <= len(password) <= MAX_PASSWORD and "\x00" not in password


# --- users ----------------------------------------------------------------------------------


# what an authenticated request knows of its user: the row without the password hash (code
# that checks a password reads the hash itself)
USER_COLUMNS = [f.column_name for f in User._meta.sorted_fields if f is not User.password_hash]
USER_FIELDS = [f.name for f in User._meta.sorted_fields if f is not User.password_hash]


_USER_BY_ID: dict[str, str] = {}


def user_by_id(user_id: int) -> User | None:
    """One indexed lookup with fixed SQL text (the authenticated-request hot path); the user
    without the password hash."""
    p = dbm.param()
    sql = _USER_BY_ID.get(p)
    if sql is None:
        sql = _USER_BY_ID[p] = f"SELECT {', '.join(USER_COLUMNS)} FROM users WHERE id = {p}"  # noqa: S608 - identifiers and placeholders only
    row = dbm.select_one(sql, (user_id,))
    return None if row is None else user_from_row(row)


def user_from_row(values) -> User:
    """The user from the values of :data:`USER_COLUMNS`, in their order."""
    return user_from_data(dict(zip(USER_FIELDS, values, strict=True)))


def password_hash_of(user: User) -> str | None:
    """The stored password hash of ``user`` (the request's user is read without it)."""
    return User.select(User.password_hash).where(User.id == user.id).scalar()


def user_from_data(data: dict) -> User:
    """A model instance as peewee's own row reader leaves it, without a setattr per column
    (``data`` becomes the instance's own)."""
    user = User.__new__(User)
    user.__data__ = data
    user._dirty = set()
    user.__rel__ = {}
    return user


def user_row_changed() -> None:
    """In a write transaction that changes what :func:`user_by_id` returns for an existing user:
    credentials cached by any process on this host are read back from the commit on
    (``ocs/changes.py``; nothing to do on PostgreSQL, where every request reads the row)."""
    signal = db.obj.changes
    if signal is None:
        return

    def begin(_items) -> None:
        busy_until = signal.begin_write()
        dbm.after_commit(lambda: signal.end_write(busy_until))

    dbm.before_commit("changes.accounts", (), begin)


def find_user(uid: str) -> User | None:
    """The user whose id matches ``uid`` case-insensitively."""
    if not isinstance(uid, str) or not uid:
        return None
    return User.get_or_none(User.uid_lower == uid.lower())


def create_user(
    passwords,
    uid: str,
    password: str = "",
    display_name: str = "",
    email: str = "",
    groups: list[str] | tuple = (),
    clock=time.time,
    hooks: Hooks = NO_HOOKS,
) -> User:
    """Create a user (and memberships) in one transaction; provisioning codes on failure."""
    if not valid_user_id(uid):
        raise ProvisioningError(101, INVALID_USER_ID)
    name = clean_display_name(display_name)
    if name is None:
        raise ProvisioningError(101, "Invalid display name")
    email = (email or "").strip()
    if not valid_email(email):
        raise ProvisioningError(101, "Invalid email address")
    if password and not valid_password(password):
        raise ProvisioningError(101, "Invalid password value")
    if not password and not email:
        raise ProvisioningError(108, "An email address is required, to send a password link to the user.")
    hashed = passwords.hash(password) if password else None  # outside the write lock
    with write_tx():
        wanted = []
        for gid in groups or ():
            group = Group.get_or_none(Group.gid == gid)
            if group is None:
                raise ProvisioningError(104, f"Group {gid} does not exist")
            wanted.append(group)
        try:
            with db.atomic():
                user = User.create(
                    uid=uid,
                    uid_lower=uid.lower(),
                    display_name=name,
                    email=email or None,
                    password_hash=hashed,
                    created_at=int(clock()),
                )
        except peewee.IntegrityError as exc:
            raise ProvisioningError(102, "User already exists") from exc
        for group in wanted:
            _add_member(group, user, hooks)
    log.info("user %s created", uid)
    return user


def delete_user(uid: str, hooks: Hooks = NO_HOOKS) -> None:
    """Delete a user and everything that belongs to them (features via ``user_deleted``)."""
    with write_tx():
        user = find_user(uid)
        if user is None:
            raise ProvisioningError(998, "")
        hooks.fire("user_deleted", user)
        user_row_changed()
        GroupMember.delete().where(GroupMember.user == user.uid).execute()
        user.delete_instance()
    log.info("user %s deleted", user.uid)


def set_display_name(uid: str, display_name: str, hooks: Hooks = NO_HOOKS) -> User:
    name = clean_display_name(display_name)
    if name is None:
        raise ProvisioningError(101, "Invalid display name")
    with write_tx():
        user = find_user(uid)
        if user is None:
            raise ProvisioningError(998, "")
        user.display_name = name
        user.save(only=[User.display_name])
        user_row_changed()
        hooks.fire("user_renamed", user)
    return user


def set_email(uid: str, email: str) -> User:
    email = (email or "").strip()
    if not valid_email(email):
        raise ProvisioningError(101, "Invalid email address")
    with write_tx():
        user = find_user(uid)
        if user is None:
            raise ProvisioningError(998, "")
        user.email = email or None
        user.save(only=[User.email])
        user_row_changed()
    return user


def set_password(passwords, uid: str, password: str) -> User:
    """Replace the password; bumping ``credential_epoch`` invalidates cached credentials."""
    if not valid_password(password):
        raise ProvisioningError(101, "Invalid password value")
    hashed = passwords.hash(password)
    with write_tx():
        user = find_user(uid)
        if user is None:
            raise ProvisioningError(998, "")
        User.update(password_hash=hashed, credential_epoch=User.credential_epoch + 1).where(
            User.id == user.id
        ).execute()
        user_row_changed()
    log.info("password of user %s changed", user.uid)
    return user


def _paged(query, limit: int | None, offset: int):
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return query


def list_users(search: str = "", limit: int | None = None, offset: int = 0) -> list[str]:
    query = User.select(User.uid).order_by(User.uid)
    if search:
        needle = f"%{search.lower()}%"
        query = query.where((User.uid_lower**needle) | (peewee.fn.LOWER(User.display_name) ** needle))
    return [row.uid for row in _paged(query, limit, offset)]


def user_groups(user: User) -> list[str]:
    return [
        row.group_id
        for row in GroupMember.select(GroupMember.group)
        .where(GroupMember.user == user.uid)
        .order_by(GroupMember.group)
    ]


def is_admin(user: User) -> bool:
    return (
        GroupMember.select()
        .where((GroupMember.group == ADMIN_GROUP) & (GroupMember.user == user.uid))
        .exists()
    )


def verify_login(passwords, login: str, password: str, clock=time.time) -> User | None:
    """Check a login name and password; upgrades the hash and ``last_login`` on success."""
    user = find_user(login)
    if user is None:
        passwords.verify(password, None)  # same cost as a real check
        return None
    ok, new_hash = passwords.verify(password, user.password_hash)
    if not ok:
        return None
    now = int(clock())
    changes = {}
    if new_hash:
        changes[User.password_hash] = new_hash
    if now - (user.last_login or 0) >= 60:
        changes[User.last_login] = now
    if changes:
        with write_tx():
            User.update(changes).where(User.id == user.id).execute()
        for field, value in changes.items():
            setattr(user, field.name, value)
    return user


def ensure_user(uid: str, clock=time.time) -> User | None:
    """The user with id ``uid``, created without a password when missing (external auth)."""
    user = find_user(uid)
    if user is not None or not valid_user_id(uid):
        return user
    try:
        with write_tx():
            user = User.create(uid=uid, uid_lower=uid.lower(), display_name="", created_at=int(clock()))
        log.info("user %s provisioned by the authentication backend", uid)
        return user
    except peewee.IntegrityError:
        return find_user(uid)


# --- groups ---------------------------------------------------------------------------------


def find_group(gid: str) -> Group | None:
    if not isinstance(gid, str) or not gid:
        return None
    return Group.get_or_none(Group.gid == gid)


def create_group(gid: str, display_name: str | None = None) -> Group:
    if not valid_group_id(gid):
        raise ProvisioningError(101, "Invalid group name")
    name = clean_display_name(display_name if display_name is not None else gid)
    if name is None:
        raise ProvisioningError(101, "Invalid group name")
    try:
        with write_tx():
            group = Group.create(gid=gid, display_name=name or gid)
    except peewee.IntegrityError as exc:
        raise ProvisioningError(102, "group exists") from exc
    return group


def delete_group(gid: str, hooks: Hooks = NO_HOOKS) -> None:
    if gid == ADMIN_GROUP:
        raise ProvisioningError(102, "")
    with write_tx():
        group = find_group(gid)
        if group is None:
            raise ProvisioningError(101, "")
        members = [m.user_id for m in GroupMember.select(GroupMember.user).where(GroupMember.group == gid)]
        GroupMember.delete().where(GroupMember.group == gid).execute()
        hooks.fire("group_deleted", group, members)
        group.delete_instance()


def set_group_display_name(gid: str, display_name: str, hooks: Hooks = NO_HOOKS) -> Group:
    name = clean_display_name(display_name)
    if name is None:
        raise ProvisioningError(101, "Invalid group name")
    with write_tx():
        group = find_group(gid)
        if group is None:
            raise ProvisioningError(404, "The requested group could not be found")
        group.display_name = name or gid
        group.save(only=[Group.display_name])
        hooks.fire("group_renamed", group)
    return group


def list_groups(search: str = "", limit: int | None = None, offset: int = 0) -> list[str]:
    query = Group.select(Group.gid).order_by(Group.gid)
    if search:
        needle = f"%{search.lower()}%"
        query = query.where(
            (peewee.fn.LOWER(Group.gid) ** needle) | (peewee.fn.LOWER(Group.display_name) ** needle)
        )
    return [row.gid for row in _paged(query, limit, offset)]


def group_member_ids(gid: str) -> list[str]:
    return [
        row.user_id
        for row in GroupMember.select(GroupMember.user)
        .where(GroupMember.group == gid)
        .order_by(GroupMember.user)
    ]


def _add_member(group: Group, user: User, hooks: Hooks) -> bool:
    inserted = GroupMember.insert(group=group.gid, user=user.uid).on_conflict_ignore().execute()
    if inserted:
        hooks.fire("member_added", group, user)
    return bool(inserted)


def add_member(gid: str, uid: str, hooks: Hooks = NO_HOOKS) -> None:
    """Add a user to a group (101 empty group id, 102 unknown group, 103 unknown user)."""
    if not gid:
        raise ProvisioningError(101, "")
    with write_tx():
        group = find_group(gid)
        if group is None:
            raise ProvisioningError(102, "")
        user = find_user(uid)
        if user is None:
            raise ProvisioningError(103, "")
        _add_member(group, user, hooks)


def remove_member(gid: str, uid: str, acting_uid: str | None = None, hooks: Hooks = NO_HOOKS) -> None:
    """Remove a user from a group; nobody removes themselves from ``admin`` (105)."""
    if not gid:
        raise ProvisioningError(101, "")
    with write_tx():
        group = find_group(gid)
        if group is None:
            raise ProvisioningError(102, "")
        user = find_user(uid)
        if user is None:
            raise ProvisioningError(103, "")
        if gid == ADMIN_GROUP and acting_uid is not None and user.uid == acting_uid:
            raise ProvisioningError(105, "Cannot remove yourself from the admin group")
        deleted = (
            GroupMember.delete().where((GroupMember.group == gid) & (GroupMember.user == user.uid)).execute()
        )
        if deleted:
            hooks.fire("member_removed", group, user)


def ensure_admin_group() -> None:
    """The ``admin`` group always exists (created by the first migration, restored if gone)."""
    with write_tx():
        Group.insert(gid=ADMIN_GROUP, display_name=ADMIN_GROUP).on_conflict_ignore().execute()
