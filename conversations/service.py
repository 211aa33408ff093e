"""Conversation rules (``conversations.md`` §9–§12): create, list, and every room mutation.

Functions raise OCS errors with Talk's v4 error keys and never touch HTTP. Writes run in one
``write_tx()`` each; uniqueness (tokens, one-to-one pairs, note-to-self, attendees) comes from
database constraints.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass, field

import peewee

from conversations import access, listcache, rules
from conversations.constants import (
    AVATAR_CUSTOM,
    AVATAR_DEFAULT,
    AVATAR_EMOJI,
    GROUP_OR_PUBLIC,
    MAX_CUSTOM_PERMISSIONS,
    MAX_NAME_LENGTH,
    MAX_OBJECT_LENGTH,
    MAX_ROOM_PASSWORD,
    MAX_TIMESTAMP,
    NOTE_TO_SELF_DESCRIPTION,
    NOTE_TO_SELF_NAME,
    NOTE_TO_SELF_OBJECT_TYPE,
    OBJECT_TYPES_ON_CREATE,
    ONE_TO_ONE_TYPES,
    ActorType,
    ParticipantType,
    Permission,
    RoomType,
)
from conversations.events import RoomEvents, actor_of
from conversations.models import Attendee, Room, RoomAvatar
from conversations.serializers import LISTABLE, LOBBY, PARTICIPANT, RoomSerializer, RoomView
from ocs import db as dbm
from ocs.accounts import service as accounts
from ocs.accounts.models import GroupMember, User
from ocs.db import ServerSetting, db, write_tx
from ocs.errors import BadRequest, Forbidden, NotFound
from ocs.memory import trim_memory

log = logging.getLogger("conversations")

TOKEN_ALPHABET = "abcdefghijkmnopqrstuvwxyz23456789"  # noqa: S105 - not a secret
TOKEN_LENGTH_SETTING = "conversations.token_length"  # noqa: S105 - a setting name
RESERVED_TOKENS = frozenset({"settings", "backend"})
MAX_COLLISIONS = 1000
TRIM_AFTER_ROOMS = 200  # give memory back after building a list this long
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
COLOR = re.compile(r"^[0-9A-Fa-f]{6}$")
INVITATION_SOURCES = ("users", "groups", "emails", "federated_users", "phones", "teams")
ATTENDEE_COLUMNS = dbm.columns(Attendee)
ATTENDEE_FIELDS = [f.name if f.name != "room" else "room_id" for f in Attendee._meta.sorted_fields]
ROOM_COLUMNS = dbm.columns(Room)
ROOM_FIELDS = [f.name for f in Room._meta.sorted_fields]


def clean_text(value: str, maximum: int, key: str, *, allow_empty: bool) -> str:
    """Trim, then check code-point length and control characters (D23)."""
    text = value.strip()
    if CONTROL.search(text) or len(text) > maximum or (not text and not allow_empty):
        raise BadRequest(key)
    return text


def email_actor_id(address: str) -> str:
    return hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()


def is_single_emoji(text: str) -> bool:
    """One emoji grapheme cluster of at most 16 code points (checked without an image library)."""
    if not text or len(text) > 16:
        return False
    first = ord(text[0])
    regional = 0x1F1E6 <= first <= 0x1F1FF
    if unicodedata.category(text[0]) not in ("So", "Sk") and not regional:
        return False
    previous = text[0]
    for char in text[1:]:
        code = ord(char)
        extends = (
            char == "\u200d"  # zero-width joiner
            or 0xFE00 <= code <= 0xFE0F  # variation selectors
            or 0x1F3FB <= code <= 0x1F3FF  # skin tones
            or code == 0x20E3  # keycap
            or 0xE0020 <= code <= 0xE007F  # tag sequences (subdivision flags)
            or (regional and 0x1F1E6 <= code <= 0x1F1FF and len(text) == 2)
            or (previous == "\u200d" and unicodedata.category(char) == "So")
        )
        if not extends:
            return False
        previous = char
    return True


@dataclass
class CreateRequest:
    """Parameters of ``POST /room`` after type coercion (validation happens in the service)."""

    room_type: int = RoomType.GROUP
    invite: str = ""
    source: str = ""
    room_name: str | None = None
    object_type: str = ""
    object_id: str = ""
    password: str = ""
    participants: dict = field(default_factory=dict)
    read_only: int | None = None
    listable: int | None = None
    message_expiration: int | None = None
    lobby_state: int | None = None
    lobby_timer: int | None = None
    sip_enabled: int | None = None
    permissions: int | None = None
    recording_consent: int | None = None
    mention_permissions: int | None = None
    description: str | None = None
    emoji: str | None = None
    avatar_color: str | None = None


class ConversationService:
    """The conversation rules, with the platform's configuration, clock and token source."""

    def __init__(self, platform, token_source=None):
        self.platform = platform
        self.config = platform.config
        self.registry = platform.registry
        self.passwords = platform.passwords
        self.clock = platform.clock
        self.serializer = RoomSerializer(platform)
        self.token_source = token_source or self._random_token
        self._token_length = None
        self._list_sql_cache: dict = {}
        self.events = RoomEvents()  # system messages and other reactions to room changes
        self.events.subscribe(self._touch_on_event)
        self.chat_fields = None  # fills the chat fields of room views when chat is wired
        self.chat_expiry = None  # (room ids, now) -> when the next message in them expires
        talk = self.config["talk"]
        self.list_cache = listcache.RoomListCache(talk["room_list_cache_mb"] * 1024 * 1024)
        self.verify_list_cache = talk["room_list_cache_verify"]

    @staticmethod
    def _touch_on_event(event) -> None:
        """Every room event changes the room object of everybody in the room."""
        listcache.touch_rooms([event.room.id])

    def fill_chat(self, views, actor: tuple[str, str], base_url: str = "") -> None:
        """Let the chat feature set lastMessage, unread counts … (constant queries for a list)."""
        if self.chat_fields is not None and views:
            self.chat_fields(views, actor, base_url)

    def now(self) -> int:
        return int(self.clock())

    def feature(self, name: str) -> bool:
        return self.registry.enabled(name)

    # --- views ------------------------------------------------------------------------------

    def view(self, ctx, *, partner=None, base_url: str = "", with_chat: bool = True) -> RoomView:
        """The caller's view of one room (one query for a one-to-one partner's display name);
        ``with_chat=False`` skips the chat fields (for callers that only need the names)."""
        room, attendee = ctx.room, ctx.attendee
        kind = self.serializer.view_kind(room, attendee, ctx.user is not None)
        view = RoomView(room=room, attendee=attendee, kind=kind)
        if ctx.session is not None:
            view.session_id = ctx.session.session_id
            view.last_ping = ctx.session.last_ping
        if room.type == RoomType.ONE_TO_ONE and kind in (PARTICIPANT, LOBBY):
            me = attendee.actor_id if attendee is not None else ""
            view.partner_id = rules.one_to_one_partner(room, me)
            if partner is None and view.partner_id:
                partner = User.get_or_none(User.uid == view.partner_id)
            view.partner_name = partner.shown_name if partner is not None else view.partner_id
        if attendee is not None and with_chat:
            self.fill_chat([view], (attendee.actor_type, attendee.actor_id), base_url)
        return view

    def _list_sql(self, modified_since: bool, include_status: bool) -> str:
        """The room-list join, written once per shape (peewee would rebuild it on every call)."""
        key = (dbm.param(), modified_since, include_status)
        sql = self._list_sql_cache.get(key)
        if sql is None:
            p = dbm.param()
            a_cols = ", ".join(f"a.{c}" for c in ATTENDEE_COLUMNS)
            r_cols = ", ".join(f"r.{c}" for c in ROOM_COLUMNS)
            where = f"a.actor_type = {p} AND a.actor_id = {p}"
            if modified_since:
                condition = f"r.last_activity >= {p} OR a.last_attendee_activity >= {p}"
                if include_status:
                    condition += f" OR r.type = {int(RoomType.ONE_TO_ONE)}"
                where += f" AND ({condition})"
            sql = f"SELECT {a_cols}, {r_cols} FROM attendees a JOIN rooms r ON r.id = a.room_id WHERE {where} ORDER BY a.id"  # noqa: S608 - identifiers and placeholders only
            self._list_sql_cache[key] = sql
        return sql

    def list_rooms(
        self,
        user,
        modified_since: int = 0,
        include_status: bool = False,
        v1: bool = False,
        base_url: str = "",
    ):
        """All rooms of ``user`` in one indexed join plus constant batch lookups."""
        params = [ActorType.USERS, user.uid]
        if modified_since:
            params += [modified_since, modified_since]
        split = len(ATTENDEE_COLUMNS)
        attendees = []
        for row in dbm.select(self._list_sql(bool(modified_since), include_status), params):
            attendee = dbm.record(ATTENDEE_FIELDS, row[:split])
            attendee.room = dbm.record(ROOM_FIELDS, row[split:])
            attendees.append(attendee)
        now = self.now()
        expired = [
            a.room
            for a in attendees
            if a.room.lobby_state == 1 and a.room.lobby_timer and 0 < a.room.lobby_timer <= now
        ]
        if expired:
            for room in expired:
                access.expire_lobby(room, now, self.events, (ActorType.USERS, user.uid))
        partners = {}
        for a in attendees:
            if a.room.type == RoomType.ONE_TO_ONE:
                partners[a.room.id] = rules.one_to_one_partner(a.room, user.uid)
        names = {}
        wanted = sorted({uid for uid in partners.values() if uid})
        if wanted:
            marks = ", ".join([dbm.param()] * len(wanted))
            names = dict(dbm.select(f"SELECT uid, display_name FROM users WHERE uid IN ({marks})", wanted))  # noqa: S608 - identifiers and placeholders only
        members, guests = self._v1_members([a.room.id for a in attendees]) if v1 and attendees else ({}, {})
        views = []
        for a in attendees:
            room = a.room
            kind = self.serializer.view_kind(room, a, True)
            view = RoomView(room=room, attendee=a, kind=kind)
            if room.id in partners:
                view.partner_id = partners[room.id]
                view.partner_name = names.get(view.partner_id) or view.partner_id
            view.members = members.get(room.id, [])
            view.live_guests = guests.get(room.id, 0)
            views.append(view)
        self.fill_chat(views, (ActorType.USERS, user.uid), base_url)
        return views

    def cached_room_list(
        self, user, key: tuple, serialize, encode, separator: bytes, base_url: str = ""
    ) -> listcache.CachedList:
        """``user``'s whole room list as encoded room objects, from this worker's cache while the
        user's generation is unchanged (``key``: what else shapes the bytes)."""
        key = (user.uid, *key)
        current = listcache.generation(user.uid)
        now = self.now()
        entry = self.list_cache.get(key, current, now)
        if entry is not None and not self.verify_list_cache:
            return entry
        views = self.list_rooms(user, base_url=base_url)
        fragments = [encode(serialize(view)) for view in views]
        spans, offset = [], 0
        for fragment in fragments:
            spans.append((offset, offset + len(fragment)))
            offset += len(fragment) + len(separator)
        fresh = listcache.CachedList(
            generation=current,
            valid_until=self._list_valid_until(views, now),
            blob=separator.join(fragments),
            spans=spans,
            rooms=[
                (
                    v.room.id,
                    v.room.token,
                    v.room.type,
                    v.room.last_activity,
                    v.attendee.last_attendee_activity,
                )
                for v in views
            ],
            size=0,
        )
        fresh.size = len(fresh.blob) + 200 * len(views) + 500
        if len(views) >= TRIM_AFTER_ROOMS:
            del views, fragments
            trim_memory()  # the room objects of a long list were megabytes, now garbage
        if entry is not None:
            self._verify_cached(user, entry, fresh)
            return entry
        self.list_cache.put(key, fresh)
        return fresh

    def _verify_cached(self, user, entry, fresh) -> None:
        if listcache.generation(user.uid) != entry.generation:
            return  # a write committed while the list was rebuilt: nothing to compare
        if entry.blob != fresh.blob or entry.rooms != fresh.rooms:
            log.error(
                "room list cache of %s is stale at generation %s: %r != %r",
                user.uid,
                entry.generation,
                entry.rooms,
                fresh.rooms,
            )
            raise RuntimeError("stale room list cache")

    def _list_valid_until(self, views, now: int) -> int | None:
        """When the list changes by the clock alone: a lobby timer, an expiring message."""
        moments = [
            v.room.lobby_timer
            for v in views
            if v.room.lobby_state == 1 and v.room.lobby_timer and v.room.lobby_timer > now
        ]
        if self.chat_expiry is not None and views:
            expiry = self.chat_expiry([v.room.id for v in views], now)
            if expiry is not None:
                moments.append(expiry)
        return min(moments) if moments else None

    def _v1_members(self, room_ids: list[int]) -> tuple[dict, dict]:
        """v1 ``participants`` maps and live-guest counts of the given rooms.

        One query for the users and guests of the rooms, one (through the participants
        feature, when wired) for their live Talk sessions."""
        rows = list(
            Attendee.select(
                Attendee.id,
                Attendee.room,
                Attendee.actor_type,
                Attendee.actor_id,
                Attendee.display_name,
                Attendee.participant_type,
            )
            .where(Attendee.room.in_(room_ids) & Attendee.actor_type.in_([ActorType.USERS, ActorType.GUESTS]))
            .order_by(Attendee.id)
        )
        lookup = getattr(self.platform, "live_sessions", None)
        live = lookup([a.id for a in rows]) if lookup is not None and rows else {}
        members: dict = {}
        guests: dict = {}
        for a in rows:
            sessions = live.get(a.id, [])
            if a.actor_type == ActorType.GUESTS:
                if sessions:
                    guests[a.room_id] = guests.get(a.room_id, 0) + 1
                continue
            session_id, ping = max(sessions, key=lambda s: s[1]) if sessions else ("0", 0)
            members.setdefault(a.room_id, []).append(
                (a.actor_id, a.display_name or a.actor_id, a.participant_type, session_id, ping, a.id)
            )
        return members, guests

    def with_members(self, view: RoomView) -> RoomView:
        """Fill the v1 member map of a single room view."""
        if view.kind == PARTICIPANT:
            members, guests = self._v1_members([view.room.id])
            view.members = members.get(view.room.id, [])
            view.live_guests = guests.get(view.room.id, 0)
        return view

    def serialize(self, view: RoomView, version: str, include_last_message: bool = True) -> dict:
        if version == "v1" and not view.members and view.kind == PARTICIPANT:
            self.with_members(view)
        return self.serializer.serialize(view, version, include_last_message)

    # --- tokens -----------------------------------------------------------------------------

    def _random_token(self, length: int) -> str:
        return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(length))

    def _current_token_length(self) -> int:
        if self._token_length is None:
            row = ServerSetting.get_or_none(ServerSetting.key == TOKEN_LENGTH_SETTING)
            self._token_length = int(row.value) if row else 8
        return self._token_length

    def _insert_room(self, **fields) -> Room:
        """Insert a room under a fresh token; a token collision draws again (UNIQUE index)."""
        collisions = 0
        length = self._current_token_length()
        while True:
            token = self.token_source(length)
            if token in RESERVED_TOKENS:
                continue
            try:
                with db.atomic():
                    return Room.create(token=token, **fields)
            except peewee.IntegrityError:
                if Room.select().where(Room.token == token).exists():
                    collisions += 1
                    if collisions >= MAX_COLLISIONS and length < 30:
                        length += 1
                        collisions = 0
                        self._token_length = length
                        ServerSetting.insert(key=TOKEN_LENGTH_SETTING, value=str(length)).on_conflict(
                            conflict_target=[ServerSetting.key], update={ServerSetting.value: str(length)}
                        ).execute()
                    continue
                raise

    # --- creating ---------------------------------------------------------------------------

    def _attendee_row(self, room_id, actor_type, actor_id, name, ptype, now, invited=None) -> dict:
        return {
            "room": room_id,
            "actor_type": actor_type,
            "actor_id": actor_id,
            "display_name": name,
            "participant_type": int(ptype),
            "created_at": now,
            "last_attendee_activity": 0,
            "invited_address": invited,
        }

    def create_one_to_one(self, user, target_id: str):
        """``conversations.md`` §9.2: returns (status, ctx-like tuple)."""
        target = accounts.find_user(target_id) if target_id else None
        if target is None:
            raise NotFound("invite")
        key = rules.one_to_one_key(user.uid, target.uid)
        existing = Room.get_or_none(Room.one_to_one_key == key)
        if existing is not None:
            return 200, self._fill_one_to_one(existing, user, target)
        if target.uid == user.uid:
            raise Forbidden("invite")
        now = self.now()
        try:
            with write_tx():
                room = self._insert_room(
                    type=RoomType.ONE_TO_ONE,
                    name="",
                    one_to_one_key=key,
                    last_activity=now,
                    created_at=now,
                )
                # C23 (Talk >= 22): only the creator; the other user joins with the first
                # message, or when they create or open the same one-to-one themselves
                Attendee.insert(
                    self._attendee_row(
                        room.id, ActorType.USERS, user.uid, user.shown_name, ParticipantType.OWNER, now
                    )
                ).execute()
                self.events.emit(room, (ActorType.USERS, user.uid), "conversation_created")
        except peewee.IntegrityError:
            # another request created the pair first: the unique key holds, answer with that room
            existing = Room.get_or_none(Room.one_to_one_key == key)
            if existing is None:
                raise
            return 200, self._fill_one_to_one(existing, user, target)
        log.info("one-to-one %s created by %s", room.token, user.uid)
        return 201, (room, self._user_attendee(room, user), target)

    def _fill_one_to_one(self, room, user, target):
        """The caller creates an existing pair again: they are (again) an owner of it (C23);
        idempotent under concurrency."""
        now = self.now()
        with write_tx():
            Attendee.insert(
                self._attendee_row(
                    room.id, ActorType.USERS, user.uid, user.shown_name, ParticipantType.OWNER, now
                )
            ).on_conflict_ignore().execute()
            listcache.touch_rooms([room.id])
        return room, self._user_attendee(room, user), target

    def refill_one_to_one(self, room, now: int) -> None:
        """Both users of a one-to-one are attendees again (owners) before a message is stored
        (C10; upstream ``ensureOneToOneRoomIsFilled``). Call inside the write transaction."""
        listcache.touch_rooms([room.id])
        for uid in rules.one_to_one_pair(room):
            user = accounts.find_user(uid)
            if user is None:  # a deleted user is not re-added
                continue
            Attendee.insert(
                self._attendee_row(room.id, ActorType.USERS, uid, user.shown_name, ParticipantType.OWNER, now)
            ).on_conflict_ignore().execute()

    def _user_attendee(self, room, user):
        return Attendee.get(
            (Attendee.room == room.id)
            & (Attendee.actor_type == ActorType.USERS)
            & (Attendee.actor_id == user.uid)
        )

    def create_room(self, user, req: CreateRequest):
        """``POST /room``: (status, room, caller attendee, partner, invalid participants)."""
        if req.room_type not in (RoomType.ONE_TO_ONE, RoomType.GROUP, RoomType.PUBLIC):
            raise BadRequest("type")
        if req.room_type == RoomType.ONE_TO_ONE:
            target = req.invite
            if not target:
                users = req.participants.get("users") if isinstance(req.participants, dict) else None
                target = users[0] if users and isinstance(users[0], str) else ""
            status, (room, attendee, partner) = self.create_one_to_one(user, target)
            return status, room, attendee, partner, {}
        return self._create_group(user, req)

    def _check_extended_from(self, user, req):
        if req.object_type == "extended_conversation" and req.object_id:
            source = (
                Attendee.select()
                .join(Room)
                .where(
                    (Room.token == req.object_id)
                    & (Room.type == RoomType.ONE_TO_ONE)
                    & (Attendee.actor_type == ActorType.USERS)
                    & (Attendee.actor_id == user.uid)
                )
                .exists()
            )
            if not source:
                raise BadRequest("object")

    def _invitations(self, user, req, creation_all: bool):
        """Validated invitations: (users, groups, emails, invalid map) per §9.3 step 7."""
        wanted = {k: [] for k in INVITATION_SOURCES}
        if creation_all and isinstance(req.participants, dict):
            for source in INVITATION_SOURCES:
                values = req.participants.get(source) or []
                if not isinstance(values, list):
                    values = [values]
                wanted[source] = [v if isinstance(v, str) else str(v) for v in values]
        if req.invite:
            wanted["teams" if req.source == "circles" else "groups"].append(req.invite)
        invalid: dict[str, list] = {}
        users, groups, emails = [], [], []
        seen_users = set()
        for uid in wanted["users"]:
            target = accounts.find_user(uid)
            if target is None:
                invalid.setdefault("users", []).append(uid)
            elif target.uid != user.uid and target.uid not in seen_users:
                seen_users.add(target.uid)
                users.append(target)
        groups_on = self.feature("invite-groups-and-mails")
        for gid in wanted["groups"]:
            group = accounts.find_group(gid) if groups_on else None
            if group is None:
                invalid.setdefault("groups", []).append(gid)
            elif group not in groups:
                groups.append(group)
        for address in wanted["emails"]:
            if groups_on and address.strip() and accounts.valid_email(address.strip()):
                emails.append(address.strip())
            else:
                invalid.setdefault("emails", []).append(address)
        for source in ("federated_users", "phones", "teams"):
            if wanted[source]:
                invalid.setdefault(source, []).extend(wanted[source])
        valid = users or groups or emails
        if invalid and not valid:
            raise NotFound("invite")
        return users, groups, emails, invalid

    def _validate_password(self, password: str, key: str) -> None:
        minimum = self.config["talk"]["room_password_min_length"]
        if len(password) > MAX_ROOM_PASSWORD:
            raise BadRequest(
                key, extra={"message": f"Password must be at most {MAX_ROOM_PASSWORD} characters long."}
            )
        if minimum and len(password) < minimum:
            raise BadRequest(key, extra={"message": f"Password must be at least {minimum} characters long."})

    def _create_group(self, user, req: CreateRequest):
        creation_all = self.feature("conversation-creation-all")
        self._check_extended_from(user, req)
        if not self.registry.can_create(accounts.user_groups(user)):
            raise Forbidden("permissions")
        room_type = req.room_type
        users, groups, emails, invalid = self._invitations(user, req, creation_all)
        if emails:
            room_type = RoomType.PUBLIC
        # name: empty -> '---' or the invited group's display name (HEAD legacy fallback)
        if req.room_name is None or req.room_name == "":
            legacy_group = accounts.find_group(req.invite) if req.invite and req.source != "circles" else None
            name = legacy_group.shown_name if legacy_group is not None else "---"
        else:
            name = clean_text(req.room_name, MAX_NAME_LENGTH, "name", allow_empty=False)
        if req.object_type not in OBJECT_TYPES_ON_CREATE or len(req.object_type) > MAX_OBJECT_LENGTH:
            raise BadRequest("object-type")
        if len(req.object_id) > MAX_OBJECT_LENGTH or CONTROL.search(req.object_id):
            raise BadRequest("object-id")
        if bool(req.object_type) != bool(req.object_id):
            raise BadRequest("object")
        password_hash = None
        if room_type == RoomType.PUBLIC and self.feature("conversation-creation-password"):
            if req.password:
                self._validate_password(req.password, "password")
                password_hash = self.passwords.hash(req.password)
            elif self.config["talk"]["force_passwords"]:
                raise BadRequest("password", extra={"message": "Password needs to be set"})
        elif room_type == RoomType.PUBLIC and self.config["talk"]["force_passwords"]:
            raise BadRequest("password", extra={"message": "Password needs to be set"})
        attrs = self._creation_attributes(req) if creation_all else {}
        now = self.now()
        with write_tx():
            room = self._insert_room(
                type=room_type,
                name=name,
                password_hash=password_hash,
                object_type=req.object_type,
                object_id=req.object_id,
                last_activity=now,
                created_at=now,
                **attrs,
            )
            rows = {
                (ActorType.USERS, user.uid): self._attendee_row(
                    room.id, ActorType.USERS, user.uid, user.shown_name, ParticipantType.OWNER, now
                )
            }
            for target in users:
                rows.setdefault(
                    (ActorType.USERS, target.uid),
                    self._attendee_row(
                        room.id, ActorType.USERS, target.uid, target.shown_name, ParticipantType.USER, now
                    ),
                )
            if groups:
                gids = [g.gid for g in groups]
                for g in groups:
                    rows.setdefault(
                        (ActorType.GROUPS, g.gid),
                        self._attendee_row(
                            room.id, ActorType.GROUPS, g.gid, g.shown_name, ParticipantType.USER, now
                        ),
                    )
                members = (
                    User.select(User.uid, User.display_name)
                    .join(GroupMember, on=(GroupMember.user == User.uid))
                    .where(GroupMember.group.in_(gids))
                )
                for member in members:
                    rows.setdefault(
                        (ActorType.USERS, member.uid),
                        self._attendee_row(
                            room.id, ActorType.USERS, member.uid, member.shown_name, ParticipantType.USER, now
                        ),
                    )
            for address in emails:
                actor = email_actor_id(address)
                rows.setdefault(
                    (ActorType.EMAILS, actor),
                    self._attendee_row(
                        room.id, ActorType.EMAILS, actor, "", ParticipantType.GUEST, now, invited=address
                    ),
                )
            Attendee.insert_many(list(rows.values())).execute()
            creator = (ActorType.USERS, user.uid)
            self.events.emit(room, creator, "conversation_created")
            for (actor_type, actor_id), _row in rows.items():
                if actor_type == ActorType.USERS and actor_id != user.uid:
                    self.events.emit(room, creator, "user_added", user={"type": actor_type, "id": actor_id})
                elif actor_type == ActorType.GROUPS:
                    self.events.emit(room, creator, "group_added", group=actor_id)
        log.info("room %s (type %d) created by %s", room.token, room.type, user.uid)
        for address in emails:
            self.platform.mailer.send_invitation(address, room.name, room.token, user.shown_name)
        return (202 if invalid else 201), room, self._user_attendee(room, user), None, invalid

    def _creation_attributes(self, req: CreateRequest) -> dict:
        """§9.3 step 8 and §9.4: validate the extended create parameters, in order."""
        attrs: dict = {}

        def gated(feature: str, value, default, key: str) -> bool:
            if value is None:
                return False
            if not self.feature(feature):
                if value != default:
                    raise BadRequest(key)
                return False
            return True

        if gated("read-only-rooms", req.read_only, 0, "read-only"):
            if req.read_only not in (0, 1):
                raise BadRequest("read-only")
            attrs["read_only"] = req.read_only
        if gated("listable-rooms", req.listable, 0, "listable"):
            if req.listable not in (0, 1, 2):
                raise BadRequest("listable")
            attrs["listable"] = req.listable
        if gated("message-expiration", req.message_expiration, 0, "message-expiration"):
            if req.message_expiration < 0:
                raise BadRequest("message-expiration")
            attrs["message_expiration"] = req.message_expiration
        if gated("webinary-lobby", req.lobby_state, 0, "lobby"):
            if req.lobby_state not in (0, 1):
                raise BadRequest("lobby")
            attrs["lobby_state"] = req.lobby_state
        if gated("webinary-lobby", req.lobby_timer, 0, "lobby-timer"):
            if req.lobby_timer < 0 or req.lobby_timer > MAX_TIMESTAMP:
                raise BadRequest("lobby-timer")
            if attrs.get("lobby_state") == 1 and req.lobby_timer > 0:
                attrs["lobby_timer"] = req.lobby_timer
        if req.sip_enabled not in (None, 0):
            raise BadRequest("sip-enabled")
        if gated("conversation-permissions", req.permissions, 0, "permissions"):
            if not 0 <= req.permissions <= MAX_CUSTOM_PERMISSIONS:
                raise BadRequest("permissions")
            attrs["default_permissions"] = req.permissions | Permission.CUSTOM if req.permissions else 0
        if req.recording_consent not in (None, 0):
            raise BadRequest("recording-consent")
        if gated("mention-permissions", req.mention_permissions, 0, "mention-permissions"):
            if req.mention_permissions not in (0, 1):
                raise BadRequest("mention-permissions")
            attrs["mention_permissions"] = req.mention_permissions
        if gated("room-description", req.description, "", "description"):
            attrs["description"] = clean_text(
                req.description,
                self.config["talk"]["description_max_length"],
                "description",
                allow_empty=True,
            )
        emoji_given = req.emoji is not None or req.avatar_color is not None
        if emoji_given and gated("avatar", req.emoji or req.avatar_color, None, "avatar"):
            if req.emoji is None or not is_single_emoji(req.emoji):
                raise BadRequest("avatar")
            if req.avatar_color is not None and not COLOR.match(req.avatar_color):
                raise BadRequest("avatar")
            attrs.update(
                avatar_kind=AVATAR_EMOJI,
                avatar_emoji=req.emoji,
                avatar_color=req.avatar_color or "",
                avatar_version=1,
            )
        return attrs

    # --- note to self and listed rooms ------------------------------------------------------

    def note_to_self(self, user):
        """The caller's note-to-self room, created on first use (D24)."""
        room = Room.get_or_none(Room.note_to_self_owner == user.uid)
        if room is None:
            now = self.now()
            try:
                with write_tx():
                    room = self._insert_room(
                        type=RoomType.NOTE_TO_SELF,
                        name=NOTE_TO_SELF_NAME,
                        description=NOTE_TO_SELF_DESCRIPTION,
                        object_type=NOTE_TO_SELF_OBJECT_TYPE,
                        object_id=user.uid,
                        note_to_self_owner=user.uid,
                        last_activity=now,
                        created_at=now,
                    )
                    Attendee.insert(
                        self._attendee_row(
                            room.id, ActorType.USERS, user.uid, user.shown_name, ParticipantType.OWNER, now
                        )
                    ).execute()
                    listcache.touch_users([user.uid])
            except peewee.IntegrityError:
                room = Room.get(Room.note_to_self_owner == user.uid)
        attendee = Attendee.get_or_none(
            (Attendee.room == room.id)
            & (Attendee.actor_type == ActorType.USERS)
            & (Attendee.actor_id == user.uid)
        )
        if attendee is None:  # the owner left it; it is theirs again
            now = self.now()
            with write_tx():
                Attendee.insert(
                    self._attendee_row(
                        room.id, ActorType.USERS, user.uid, user.shown_name, ParticipantType.OWNER, now
                    )
                ).on_conflict_ignore().execute()
                listcache.touch_users([user.uid])
            attendee = self._user_attendee(room, user)
        return room, attendee

    def listed_rooms(self, user, search_term: str) -> list[RoomView]:
        """Listable rooms the caller is not in, matching every term (case-folded), by id."""
        mine = Attendee.select(Attendee.room).where(
            (Attendee.actor_type == ActorType.USERS) & (Attendee.actor_id == user.uid)
        )
        query = (
            Room.select()
            .where(
                (Room.listable > 0) & Room.type.in_([RoomType.GROUP, RoomType.PUBLIC]) & Room.id.not_in(mine)
            )
            .order_by(Room.id)
        )
        terms = [t.casefold() for t in search_term.split(" ") if t]
        views = []
        for room in query:
            folded = room.name.casefold()
            if all(term in folded for term in terms):
                views.append(RoomView(room=room, attendee=None, kind=LISTABLE))
        return views

    # --- mutations --------------------------------------------------------------------------

    def _save(self, room, touch: bool, event=None, ctx=None, **changes) -> None:
        """Store room columns (and ``lastActivity`` when the event is a system-message event);
        ``event`` is ``(name, parameters)`` of the system message the change posts."""
        if touch:
            changes["last_activity"] = self.now()
        with write_tx():
            Room.update(**changes).where(Room.id == room.id).execute()
            listcache.touch_rooms([room.id])
            for name, value in changes.items():
                setattr(room, name, value)
            if event is not None:
                self.events.emit(room, actor_of(ctx), event[0], **event[1])

    def _no_one_to_one(self, room) -> None:
        if room.type in ONE_TO_ONE_TYPES:
            raise BadRequest("type")

    def _group_or_public(self, room) -> None:
        if room.type not in GROUP_OR_PUBLIC:
            raise BadRequest("type")

    def rename(self, ctx, name: str) -> None:
        room = ctx.room
        self._no_one_to_one(room)
        if room.object_type == "event":
            raise BadRequest("event")
        name = clean_text(name, MAX_NAME_LENGTH, "value", allow_empty=False)
        if name != room.name:
            old = room.name
            event = ("conversation_renamed", {"oldName": old, "newName": name}) if old else None
            self._save(room, True, event, ctx, name=name)

    def set_description(self, ctx, description: str) -> None:
        room = ctx.room
        self._no_one_to_one(room)
        if room.object_type == "event":
            raise BadRequest("event")
        text = clean_text(
            description, self.config["talk"]["description_max_length"], "value", allow_empty=True
        )
        if text != room.description:
            event = ("description_set", {"newDescription": text}) if text else ("description_removed", {})
            self._save(room, True, event, ctx, description=text)

    def delete_room(self, ctx) -> None:
        room = ctx.room
        if room.type in ONE_TO_ONE_TYPES and not self.config["talk"]["delete_one_to_one_conversations"]:
            raise BadRequest(None)
        with write_tx():
            listcache.touch_members_now([room.id])
            Room.delete().where(Room.id == room.id).execute()
        log.info("room %s deleted", room.token)

    def make_public(self, ctx, password: str | None) -> None:
        room = ctx.room
        if room.type == RoomType.PUBLIC:
            return
        if room.type != RoomType.GROUP:
            raise BadRequest("type")
        changes = {"type": RoomType.PUBLIC}
        if password and self.feature("conversation-creation-password"):
            self._validate_password(password, "password")
            changes["password_hash"] = self.passwords.hash(password)
        elif self.config["talk"]["force_passwords"] and not room.password_hash:
            raise BadRequest("password", extra={"message": "Password needs to be set"})
        self._save(room, True, ("guests_allowed", {}), ctx, **changes)

    def make_private(self, ctx) -> None:
        room = ctx.room
        if room.type == RoomType.GROUP:
            return
        if room.type != RoomType.PUBLIC:
            raise BadRequest("type")
        now = self.now()
        with write_tx():
            Room.update(type=RoomType.GROUP, last_activity=now).where(Room.id == room.id).execute()
            # guests, self-joined users and guest moderators go (their Talk sessions cascade)
            Attendee.delete().where(
                (Attendee.room == room.id)
                & Attendee.participant_type.in_(
                    [ParticipantType.GUEST, ParticipantType.USER_SELF_JOINED, ParticipantType.GUEST_MODERATOR]
                )
                & (Attendee.actor_type != ActorType.EMAILS)
            ).execute()
            room.type, room.last_activity = RoomType.GROUP, now
            self.events.emit(room, actor_of(ctx), "guests_disallowed")

    def set_password(self, ctx, password: str) -> None:
        room = ctx.room
        if room.type != RoomType.PUBLIC:
            raise BadRequest("type")
        if password == "":
            if room.password_hash:
                self._save(room, True, ("password_removed", {}), ctx, password_hash=None)
            return
        self._validate_password(password, "value")
        self._save(room, True, ("password_set", {}), ctx, password_hash=self.passwords.hash(password))

    def set_read_only(self, ctx, state: int) -> None:
        room = ctx.room
        self._group_or_public(room)
        if state not in (0, 1):
            raise BadRequest("value")
        if state != room.read_only:
            event = ("read_only" if state else "read_only_off", {})
            self._save(room, True, event, ctx, read_only=state)

    def set_listable(self, ctx, scope: int) -> None:
        room = ctx.room
        self._group_or_public(room)
        if scope not in (0, 1, 2):
            raise BadRequest("value")
        if scope != room.listable:
            event = (("listable_none", "listable_users", "listable_all")[scope], {})
            self._save(room, True, event, ctx, listable=scope)

    def set_lobby(self, ctx, state: int, timer: int | None) -> None:
        room = ctx.room
        self._group_or_public(room)
        if state not in (0, 1):
            raise BadRequest("value")
        if timer is not None and (timer < 0 or timer > MAX_TIMESTAMP):
            raise BadRequest("value")
        new_timer = timer if state == 1 and timer else None
        if state != room.lobby_state or new_timer != room.lobby_timer:
            event = None
            if state != room.lobby_state:
                event = ("lobby_non_moderators" if state else "lobby_none", {})
            self._save(room, True, event, ctx, lobby_state=state, lobby_timer=new_timer)
            # a timer already in the past ends it at once
            access.expire_lobby(room, self.now(), self.events, actor_of(ctx))

    def set_default_permissions(self, ctx, mode: str, permissions: int) -> None:
        room = ctx.room
        if mode == "call":
            raise BadRequest("mode")
        self._group_or_public(room)
        if not 0 <= permissions <= MAX_CUSTOM_PERMISSIONS:
            raise BadRequest("value")
        value = permissions | Permission.CUSTOM if permissions else 0
        with write_tx():
            Room.update(default_permissions=value).where(Room.id == room.id).execute()
            Attendee.update(permissions=0).where(Attendee.room == room.id).execute()
            listcache.touch_rooms([room.id])
        room.default_permissions = value
        if ctx.attendee is not None:
            ctx.attendee.permissions = 0

    def set_mention_permissions(self, ctx, value: int) -> None:
        room = ctx.room
        self._group_or_public(room)
        if value not in (0, 1):
            raise BadRequest("value")
        self._save(room, False, mention_permissions=value)

    def set_message_expiration(self, ctx, seconds: int) -> None:
        room = ctx.room
        if seconds < 0:
            raise BadRequest("value")
        if seconds != room.message_expiration:
            if seconds:
                event = ("message_expiration_enabled", {"seconds": seconds})
            else:
                event = ("message_expiration_disabled", {"seconds": 0})
            self._save(room, True, event, ctx, message_expiration=seconds)

    # --- attendee flags ---------------------------------------------------------------------

    def set_attendee_flag(self, ctx, column: str, value) -> None:
        """Favourite, archive, important, sensitive, notification levels (attendee-level)."""
        attendee = ctx.attendee
        now = self.now()
        with write_tx():
            Attendee.update({column: value, "last_attendee_activity": now}).where(
                Attendee.id == attendee.id
            ).execute()
            if attendee.actor_type == ActorType.USERS:
                listcache.touch_users([attendee.actor_id])
        setattr(attendee, column, value)
        attendee.last_attendee_activity = now

    def set_notification_level(self, ctx, level: int) -> None:
        if level not in (1, 2, 3):
            raise BadRequest("level")
        self.set_attendee_flag(ctx, "notification_level", level)

    def set_call_notification_level(self, ctx, level: int) -> None:
        if level not in (0, 1):
            raise BadRequest("level")
        self.set_attendee_flag(ctx, "notification_calls", level)

    # --- avatars ----------------------------------------------------------------------------

    def set_avatar_image(self, ctx, content_type: str, data: bytes) -> None:
        room = ctx.room
        now = self.now()
        with write_tx():
            RoomAvatar.insert(room=room.id, content_type=content_type, data=data).on_conflict(
                conflict_target=[RoomAvatar.room],
                update={RoomAvatar.content_type: content_type, RoomAvatar.data: data},
            ).execute()
            Room.update(
                avatar_kind=AVATAR_CUSTOM, avatar_version=Room.avatar_version + 1, last_activity=now
            ).where(Room.id == room.id).execute()
            self.events.emit(room, actor_of(ctx), "avatar_set")
        room.avatar_kind, room.avatar_version, room.last_activity = (
            AVATAR_CUSTOM,
            room.avatar_version + 1,
            now,
        )

    def set_avatar_emoji(self, ctx, emoji: str, color: str | None) -> None:
        room = ctx.room
        now = self.now()
        with write_tx():
            RoomAvatar.delete().where(RoomAvatar.room == room.id).execute()
            Room.update(
                avatar_kind=AVATAR_EMOJI,
                avatar_emoji=emoji,
                avatar_color=color or "",
                avatar_version=Room.avatar_version + 1,
                last_activity=now,
            ).where(Room.id == room.id).execute()
            self.events.emit(room, actor_of(ctx), "avatar_set")
        room.avatar_kind, room.avatar_emoji, room.avatar_color = AVATAR_EMOJI, emoji, color or ""
        room.avatar_version += 1
        room.last_activity = now

    def remove_avatar(self, ctx) -> None:
        room = ctx.room
        now = self.now()
        with write_tx():
            RoomAvatar.delete().where(RoomAvatar.room == room.id).execute()
            Room.update(
                avatar_kind=AVATAR_DEFAULT,
                avatar_emoji="",
                avatar_color="",
                avatar_version=Room.avatar_version + 1,
                last_activity=now,
            ).where(Room.id == room.id).execute()
            self.events.emit(room, actor_of(ctx), "avatar_removed")
        room.avatar_kind, room.avatar_emoji, room.avatar_color = AVATAR_DEFAULT, "", ""
        room.avatar_version += 1
        room.last_activity = now

    # --- account events ---------------------------------------------------------------------

    def on_user_deleted(self, user) -> None:
        """D25: one-to-ones become former one-to-ones, note-to-self goes, memberships go, and
        rooms left without any user are deleted. Runs inside the deletion transaction."""
        now = self.now()
        mine = list(
            Attendee.select(Attendee, Room)
            .join(Room)
            .where((Attendee.actor_type == ActorType.USERS) & (Attendee.actor_id == user.uid))
        )
        room_ids = [a.room.id for a in mine]
        listcache.touch_everyone()  # mentions of the user read differently everywhere
        for a in mine:
            room = a.room
            if room.type == RoomType.ONE_TO_ONE:
                Room.update(
                    type=RoomType.FORMER_ONE_TO_ONE,
                    read_only=1,
                    name=user.shown_name,
                    one_to_one_key=None,
                    last_activity=now,
                ).where(Room.id == room.id).execute()
            elif room.type == RoomType.NOTE_TO_SELF:
                Room.delete().where(Room.id == room.id).execute()
        Attendee.delete().where(
            (Attendee.actor_type == ActorType.USERS) & (Attendee.actor_id == user.uid)
        ).execute()
        if room_ids:
            still_used = Attendee.select(Attendee.room).where(
                Attendee.room.in_(room_ids) & (Attendee.actor_type == ActorType.USERS)
            )
            Room.delete().where(Room.id.in_(room_ids) & Room.id.not_in(still_used)).execute()

    def on_user_renamed(self, user) -> None:
        """Attendee display names follow the user's display name (``ocs.md`` §13.1)."""
        Attendee.update(display_name=user.shown_name).where(
            (Attendee.actor_type == ActorType.USERS) & (Attendee.actor_id == user.uid)
        ).execute()
        # the name shows in one-to-ones and in last messages and their mentions, anywhere
        listcache.touch_everyone()

    def on_group_renamed(self, group) -> None:
        Attendee.update(display_name=group.shown_name).where(
            (Attendee.actor_type == ActorType.GROUPS) & (Attendee.actor_id == group.gid)
        ).execute()
        listcache.touch_everyone()  # group mentions in last messages show the name
