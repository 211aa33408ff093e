"""Participant rules (``participants.md``): membership, Talk sessions, joining, roles.

Raises OCS errors with Talk's v4 keys; never touches HTTP except through the cookie-session
helper handed in by the resources.
"""

from __future__ import annotations

import hashlib
import logging

import peewee

from conversations import access, listcache, rules
from conversations.access import RoomContext
from conversations.constants import (
    GROUP_OR_PUBLIC,
    MAX_CUSTOM_PERMISSIONS,
    MODERATOR_TYPES,
    ONE_TO_ONE_TYPES,
    ActorType,
    ParticipantType,
    Permission,
    RoomType,
)
from conversations.events import actor_of
from conversations.models import Attendee, Room
from conversations.service import clean_text, email_actor_id
from ocs import db as dbm
from ocs import throttle
from ocs.accounts import service as accounts
from ocs.accounts.models import GroupMember, User
from ocs.db import write_tx
from ocs.errors import BadRequest, Conflict, Forbidden, NotFound, NotImplementedByServer
from participants.cookies import CookieSessions, new_session_id, room_key, tab_suffix
from participants.models import TalkSession

log = logging.getLogger("participants")

PING_REFRESH_S = 30

# (old type, new type) -> the system message a role change posts (chat.md §7.2)
ROLE_EVENTS = {
    (3, 2): "moderator_promoted",
    (5, 2): "moderator_promoted",
    (2, 3): "moderator_demoted",
    (1, 3): "moderator_demoted",
    (4, 6): "guest_moderator_promoted",
    (6, 4): "guest_moderator_demoted",
}
MAX_GUEST_NAME = 64


class ParticipantService:
    """Membership and session rules, with the platform's clock and configuration."""

    def __init__(self, platform, conversations):
        self.platform = platform
        self.conversations = conversations
        self.cookies = CookieSessions(platform)
        self.timeout = platform.config["talk"]["session_ping_timeout"]

    def now(self) -> int:
        return int(self.platform.clock())

    def feature(self, name: str) -> bool:
        return self.platform.registry.enabled(name)

    def _emit(self, room, actor, name: str, **parameters) -> None:
        """Post a membership system message (never in one-to-one rooms, ``chat.md`` §7.2)."""
        if room.type in ONE_TO_ONE_TYPES and name in ("user_added", "user_removed"):
            return
        self.conversations.events.emit(room, actor, name, **parameters)

    # --- the caller's Talk session ------------------------------------------------------------

    def session_lookup(self, req, room):
        """``(talk session, attendee)`` that the caller's cookie session maps to ``room``.

        Refreshes the session's ``lastPing`` when it is older than 30 s (D19)."""
        row = self._cookie_session(req, room, self.cookies.load(req))
        if row is None:
            return None, None
        now = self.now()
        if row.last_ping < now - PING_REFRESH_S:
            with write_tx():
                TalkSession.update(last_ping=now).where(TalkSession.id == row.id).execute()
            row.last_ping = now
        return row, row.attendee

    def caller_sessions(self, req, rooms) -> dict:
        """The caller's Talk session per room id for a room list (one query when a cookie is sent)."""
        cookie = self.cookies.load(req)
        if cookie is None or not cookie.rooms:
            return {}
        wanted = {}
        for room in rooms:
            entry = cookie.entry(room_key(req, room.token))
            if entry is not None and isinstance(entry.get("session"), str):
                wanted[entry["session"]] = room.id
        if not wanted:
            return {}
        rows = (
            TalkSession.select(TalkSession, Attendee)
            .join(Attendee)
            .where(TalkSession.session_id.in_(list(wanted)))
        )
        return {
            row.attendee.room_id: row for row in rows if wanted.get(row.session_id) == row.attendee.room_id
        }

    def live_sessions(self, attendee_ids: list[int]) -> dict:
        """``{attendee id: [(session id, last ping)]}`` of live Talk sessions (one query)."""
        stale = self.now() - self.timeout
        result: dict = {}
        for s in (
            TalkSession.select(TalkSession.attendee, TalkSession.session_id, TalkSession.last_ping)
            .where(TalkSession.attendee.in_(attendee_ids) & (TalkSession.last_ping >= stale))
            .order_by(TalkSession.id)
        ):
            result.setdefault(s.attendee_id, []).append((s.session_id, s.last_ping))
        return result

    # --- join and leave -----------------------------------------------------------------------

    def _session_in_room(self, room, session_id):
        """The Talk session ``session_id`` of ``room`` with its attendee, or None."""
        if not isinstance(session_id, str):
            return None
        return (
            TalkSession.select(TalkSession, Attendee)
            .join(Attendee)
            .where((TalkSession.session_id == session_id) & (Attendee.room == room.id))
            .first()
        )

    def _cookie_session(self, req, room, cookie):
        """The Talk session that ``cookie`` maps to ``room`` (for this tab), or None."""
        if cookie is None:
            return None
        entry = cookie.entry(room_key(req, room.token))
        return self._session_in_room(room, entry.get("session")) if entry is not None else None

    def join(self, req, resp, token: str, password: str | None, force: bool) -> RoomContext:
        """``POST …/participants/active`` (``participants.md`` §8)."""
        client = req.context.client
        throttler = self.platform.throttler
        user = req.context.user
        room = Room.get_or_none(Room.token == token)
        attendee = None
        listable = False
        if room is not None and user is not None:
            attendee = Attendee.get_or_none(
                (Attendee.room == room.id)
                & (Attendee.actor_type == ActorType.USERS)
                & (Attendee.actor_id == user.uid)
            )
            listable = rules.listable_for_user(room, self.feature("listable-rooms"))
        if room is None or not (room.type == RoomType.PUBLIC or attendee is not None or listable):
            throttler.register(client, throttle.ROOM_TOKEN, {"token": token})
            raise NotFound(None)
        access.expire_lobby(room, self.now())
        cookie = self.cookies.load(req)
        previous = self._cookie_session(req, room, cookie)
        if (
            previous is not None
            and user is not None
            and previous.attendee.id != getattr(attendee, "id", None)
        ):
            previous = None  # a session of somebody else's attendee is never taken over
        if previous is not None and not force and previous.in_call:
            raise Conflict(
                data={
                    "sessionId": previous.session_id,
                    "inCall": previous.in_call,
                    "lastPing": previous.last_ping,
                }
            )
        prior_guest = previous.attendee if (previous is not None and user is None) else None
        must_check = (
            room.type == RoomType.PUBLIC
            and bool(room.password_hash)
            and attendee is None
            and not listable
            and prior_guest is None
        )
        verified = False
        if must_check:
            ok = bool(password) and self.platform.passwords.verify(password, room.password_hash)[0]
            if not ok:
                throttler.register(client, throttle.ROOM_PASSWORD, {"token": token})
                raise Forbidden("password")
            verified = True
        now = self.now()
        session_id = new_session_id(tab_suffix(req))
        with write_tx():
            if previous is not None:
                TalkSession.delete().where(TalkSession.id == previous.id).execute()
            # a concurrent leave may have removed a self-joined user or guest meanwhile: look
            # again under the lock (the row stays locked on PostgreSQL until the session exists)
            if attendee is not None and not self._still_there(attendee):
                attendee = None
            if prior_guest is not None and not self._still_there(prior_guest):
                prior_guest = None
            if attendee is None and user is not None:
                ptype = ParticipantType.USER if listable else ParticipantType.USER_SELF_JOINED
                attendee = self._insert_attendee(room, ActorType.USERS, user.uid, user.shown_name, ptype, now)
                if listable and attendee.participant_type == ParticipantType.USER:
                    me = (ActorType.USERS, user.uid)
                    self._emit(room, me, "user_added", user={"type": me[0], "id": me[1]}, by_self=True)
            elif attendee is None and prior_guest is not None:
                attendee = prior_guest
            elif attendee is None:
                actor = hashlib.sha1(session_id.encode("ascii")).hexdigest()  # noqa: S324 - upstream's guest id
                attendee = self._insert_attendee(
                    room, ActorType.GUESTS, actor, "", ParticipantType.GUEST, now
                )
            session = TalkSession.create(
                attendee=attendee.id, session_id=session_id, in_call=0, last_ping=now, state=1, created_at=now
            )
        cookie = self.cookies.ensure(req, resp)
        cookie.rooms[room_key(req, token)] = {
            "session": session_id,
            "actor": attendee.actor_id if attendee.actor_type != ActorType.USERS else None,
        }
        self.cookies.save(cookie)
        throttler.reset(client, throttle.ROOM_PASSWORD, {"token": token})
        throttler.reset(client, throttle.ROOM_TOKEN, {"token": token})
        if verified:
            self.cookies.rotate(req, resp, cookie)
        return RoomContext(room=room, attendee=attendee, user=user, session=session)

    def _still_there(self, attendee) -> bool:
        query = Attendee.select(Attendee.id).where(Attendee.id == attendee.id)
        if not dbm.is_sqlite():
            query = query.for_update()
        return query.exists()

    def _insert_attendee(self, room, actor_type, actor_id, name, ptype, now):
        try:
            with write_tx():
                listcache.touch_rooms([room.id])
                return Attendee.create(
                    room=room.id,
                    actor_type=actor_type,
                    actor_id=actor_id,
                    display_name=name,
                    participant_type=int(ptype),
                    created_at=now,
                )
        except peewee.IntegrityError:  # a concurrent join created it: use that one
            return Attendee.get(
                (Attendee.room == room.id)
                & (Attendee.actor_type == actor_type)
                & (Attendee.actor_id == actor_id)
            )

    def leave_session(self, req, token: str) -> None:
        """``DELETE …/participants/active``: always succeeds (§9.4)."""
        cookie = self.cookies.load(req)
        if cookie is None:
            return
        key = room_key(req, token)
        entry = cookie.rooms.pop(key, None)
        if not isinstance(entry, dict):
            return
        self.cookies.save(cookie)
        with write_tx():
            session = (
                TalkSession.select(TalkSession, Attendee)
                .join(Attendee)
                .where(TalkSession.session_id == entry.get("session"))
                .first()
            )
            if session is None:
                return
            TalkSession.delete().where(TalkSession.id == session.id).execute()
            self._drop_if_sessionless(session.attendee)

    def _drop_if_sessionless(self, attendee) -> None:
        """Self-joined users and plain guests stop being attendees without a Talk session."""
        transient = attendee.participant_type == ParticipantType.USER_SELF_JOINED or (
            attendee.participant_type == ParticipantType.GUEST
            and attendee.actor_type == ActorType.GUESTS
            and attendee.permissions in (0, 1)
        )
        if transient and not TalkSession.select().where(TalkSession.attendee == attendee.id).exists():
            listcache.touch_members_now([attendee.room_id])
            Attendee.delete().where(Attendee.id == attendee.id).execute()

    def set_session_state(self, ctx, state: int) -> None:
        if ctx.session is None:
            raise NotFound(None)
        if state not in (0, 1):
            raise BadRequest(None)
        now = self.now()
        with write_tx():
            TalkSession.update(state=state, last_ping=now).where(TalkSession.id == ctx.session.id).execute()
        ctx.session.state, ctx.session.last_ping = state, now

    # --- listing ------------------------------------------------------------------------------

    def participants(self, ctx) -> list[tuple]:
        """``(attendee, live sessions)`` of the room, after dropping stale sessions (§2)."""
        room = ctx.room
        now = self.now()
        stale = now - self.timeout
        with write_tx():
            TalkSession.delete().where(
                (TalkSession.last_ping < stale)
                & TalkSession.attendee.in_(Attendee.select(Attendee.id).where(Attendee.room == room.id))
            ).execute()
            live = TalkSession.select(TalkSession.attendee).join(Attendee).where(Attendee.room == room.id)
            gone = [
                a.id
                for a in Attendee.select(Attendee.id).where(
                    (Attendee.room == room.id)
                    & Attendee.id.not_in(live)
                    & (
                        (Attendee.participant_type == ParticipantType.USER_SELF_JOINED)
                        | (
                            (Attendee.participant_type == ParticipantType.GUEST)
                            & (Attendee.actor_type == ActorType.GUESTS)
                            & Attendee.permissions.in_([0, 1])
                        )
                    )
                )
            ]
            if gone:
                listcache.touch_members_now([room.id])
                Attendee.delete().where(Attendee.id.in_(gone)).execute()
        attendees = list(Attendee.select().where(Attendee.room == room.id).order_by(Attendee.id))
        sessions: dict = {}
        if attendees:
            for s in (
                TalkSession.select()
                .where(TalkSession.attendee.in_([a.id for a in attendees]))
                .order_by(TalkSession.id)
            ):
                sessions.setdefault(s.attendee_id, []).append(s)
        return [(a, sessions.get(a.id, [])) for a in attendees]

    # --- adding -------------------------------------------------------------------------------

    def add_participant(self, ctx, new: str, source: str):
        """``POST …/participants``: ``[]`` or ``{"type": 3}`` when an e-mail made the room public."""
        room = ctx.room
        if room.type in ONE_TO_ONE_TYPES or room.type == RoomType.NOTE_TO_SELF:
            raise BadRequest("room-type")
        groups_on = self.feature("invite-groups-and-mails")
        now = self.now()
        if source == "users":
            target = accounts.find_user(new)
            if target is None:
                raise NotFound("new-participant")
            with write_tx():
                changed = self._add_users(room, [target], now, actor_of(ctx))
                if changed:
                    self._touch(room, now)
            return []
        if source == "groups" and groups_on:
            group = accounts.find_group(new)
            if group is None:
                raise NotFound("new-participant")
            with write_tx():
                existed = (
                    Attendee.select()
                    .where(
                        (Attendee.room == room.id)
                        & (Attendee.actor_type == ActorType.GROUPS)
                        & (Attendee.actor_id == group.gid)
                    )
                    .exists()
                )
                created = (
                    Attendee.insert(
                        room=room.id,
                        actor_type=ActorType.GROUPS,
                        actor_id=group.gid,
                        display_name=group.shown_name,
                        participant_type=ParticipantType.USER,
                        created_at=now,
                    )
                    .on_conflict_ignore()
                    .execute()
                )
                members = list(
                    User.select()
                    .join(GroupMember, on=(GroupMember.user == User.uid))
                    .where(GroupMember.group == group.gid)
                )
                if not existed:
                    self._emit(room, actor_of(ctx), "group_added", group=group.gid)
                changed = self._add_users(room, members, now, actor_of(ctx))
                if created or changed:
                    self._touch(room, now)
            return []
        if source == "emails" and groups_on:
            address = new.strip()
            if not address or not accounts.valid_email(address):
                raise BadRequest("new-participant")
            result = []
            with write_tx():
                if room.type == RoomType.GROUP:
                    Room.update(type=RoomType.PUBLIC).where(Room.id == room.id).execute()
                    room.type = RoomType.PUBLIC
                    result = {"type": int(RoomType.PUBLIC)}
                Attendee.insert(
                    room=room.id,
                    actor_type=ActorType.EMAILS,
                    actor_id=email_actor_id(address),
                    display_name="",
                    participant_type=ParticipantType.GUEST,
                    invited_address=address,
                    created_at=now,
                ).on_conflict_ignore().execute()
                self._touch(room, now)
            self.platform.mailer.send_invitation(address, room.name, room.token, ctx.user.shown_name)
            return result
        if source in ("circles", "teams"):
            raise BadRequest("new-participant")
        if source == "federated_users":
            raise NotImplementedByServer("federation")
        if source == "phones":
            raise NotImplementedByServer("sip")
        raise BadRequest("source")

    def resend_invitations(self, ctx, attendee_id: int | None) -> None:
        """Send the e-mail invitation again to one ``emails`` attendee, or to all of them."""
        query = Attendee.select().where(
            (Attendee.room == ctx.room.id) & (Attendee.actor_type == ActorType.EMAILS)
        )
        if attendee_id is not None:
            target = self._target(ctx.room, attendee_id)
            query = query.where(Attendee.id == target.id)
        inviter = ctx.user.shown_name if ctx.user is not None else ""
        for attendee in query:
            if attendee.invited_address:
                self.platform.mailer.send_invitation(
                    attendee.invited_address, ctx.room.name, ctx.room.token, inviter
                )

    def _add_users(self, room, users, now, actor=("guests", "system")) -> bool:
        """Add users as type 3 (self-joined ones become 3); one statement per kind of change.
        Each added user gets a ``user_added`` system message."""
        if not users:
            return False
        uids = [u.uid for u in users]
        existing = {
            a.actor_id: a
            for a in Attendee.select(Attendee.id, Attendee.actor_id, Attendee.participant_type).where(
                (Attendee.room == room.id)
                & (Attendee.actor_type == ActorType.USERS)
                & Attendee.actor_id.in_(uids)
            )
        }
        upgrade = [a.id for a in existing.values() if a.participant_type == ParticipantType.USER_SELF_JOINED]
        if upgrade:
            Attendee.update(participant_type=ParticipantType.USER).where(Attendee.id.in_(upgrade)).execute()
        rows = [
            {
                "room": room.id,
                "actor_type": ActorType.USERS,
                "actor_id": u.uid,
                "display_name": u.shown_name,
                "participant_type": int(ParticipantType.USER),
                "created_at": now,
                # what was said before they joined is not unread for them (upstream addUsers)
                "last_read_message": room.last_message_id or 0,
            }
            for u in users
            if u.uid not in existing
        ]
        if rows:
            Attendee.insert_many(rows).on_conflict_ignore().execute()
        if rows or upgrade:
            listcache.touch_rooms([room.id])
        added = [a.actor_id for a in existing.values() if a.id in upgrade] + [r["actor_id"] for r in rows]
        for uid in added:
            self._emit(room, actor, "user_added", user={"type": ActorType.USERS, "id": uid})
        return bool(rows or upgrade)

    def _touch(self, room, now) -> None:
        Room.update(last_activity=now).where(Room.id == room.id).execute()
        listcache.touch_rooms([room.id])
        room.last_activity = now

    # --- removing -----------------------------------------------------------------------------

    def _target(self, room, attendee_id: int):
        target = Attendee.get_or_none((Attendee.id == attendee_id) & (Attendee.room == room.id))
        if target is None:
            raise NotFound("participant")
        return target

    def remove_attendee(self, ctx, attendee_id: int) -> bool:
        """``DELETE …/attendees`` (§5.1). Returns True when the room itself was deleted."""
        room = ctx.room
        target = self._target(room, attendee_id)
        if room.type in ONE_TO_ONE_TYPES:
            raise BadRequest("room-type")
        if target.id == ctx.attendee.id:
            return self.remove_self(ctx)
        if target.participant_type == ParticipantType.OWNER:
            raise Forbidden("owner")
        self._remove(room, target, actor_of(ctx))
        return False

    def _remove(self, room, target, actor=("guests", "system")) -> None:
        now = self.now()
        with write_tx():
            listcache.touch_members_now([room.id])
            Attendee.delete().where(Attendee.id == target.id).execute()
            if target.actor_type == ActorType.USERS:
                self._emit(room, actor, "user_removed", user={"type": ActorType.USERS, "id": target.actor_id})
            if target.actor_type == ActorType.GROUPS:
                self._emit(room, actor, "group_removed", group=target.actor_id)
                members = [
                    m.user_id
                    for m in GroupMember.select(GroupMember.user).where(GroupMember.group == target.actor_id)
                ]
                self._drop_group_members(room, target.actor_id, members, actor)
            self._touch(room, now)

    def _drop_group_members(self, room, gid: str, candidates: list[str], actor=("guests", "system")) -> None:
        """Remove the type-3 users among ``candidates`` that no other group attendee of the room
        contains (upstream keeps this even for users who were also added individually)."""
        if not candidates:
            return
        other_groups = [
            a.actor_id
            for a in Attendee.select(Attendee.actor_id).where(
                (Attendee.room == room.id)
                & (Attendee.actor_type == ActorType.GROUPS)
                & (Attendee.actor_id != gid)
            )
        ]
        covered = set()
        if other_groups:
            covered = {
                m.user_id
                for m in GroupMember.select(GroupMember.user).where(
                    GroupMember.group.in_(other_groups) & GroupMember.user.in_(candidates)
                )
            }
        doomed = [u for u in candidates if u not in covered]
        if doomed:
            listcache.touch_members_now([room.id])
            gone = [
                a.actor_id
                for a in Attendee.select(Attendee.actor_id).where(
                    (Attendee.room == room.id)
                    & (Attendee.actor_type == ActorType.USERS)
                    & Attendee.actor_id.in_(doomed)
                    & (Attendee.participant_type == ParticipantType.USER)
                )
            ]
            Attendee.delete().where(
                (Attendee.room == room.id)
                & (Attendee.actor_type == ActorType.USERS)
                & Attendee.actor_id.in_(doomed)
                & (Attendee.participant_type == ParticipantType.USER)
            ).execute()
            for uid in gone:
                self._emit(room, actor, "user_removed", user={"type": ActorType.USERS, "id": uid})

    def remove_self(self, ctx) -> bool:
        """Leaving a conversation (§6). Returns True when the room was deleted."""
        room, me = ctx.room, ctx.attendee
        with write_tx():
            listcache.touch_members_now([room.id])
            users = (
                Attendee.select()
                .where(
                    (Attendee.room == room.id)
                    & (Attendee.actor_type == ActorType.USERS)
                    & Attendee.participant_type.in_([1, 2, 3])
                )
                .count()
            )
            moderators = (
                Attendee.select()
                .where((Attendee.room == room.id) & Attendee.participant_type.in_([1, 2, 6]))
                .count()
            )
            one_to_one = room.type in ONE_TO_ONE_TYPES
            if (
                not one_to_one
                and me.participant_type in (ParticipantType.OWNER, ParticipantType.MODERATOR)
                and users > 1
                and moderators == 1
            ):
                raise BadRequest("last-moderator")
            if room.type != RoomType.CHANGELOG and users == 1 and me.participant_type in (1, 2, 3):
                Room.delete().where(Room.id == room.id).execute()
                return True
            if one_to_one and self.platform.config["talk"]["delete_one_to_one_conversations"]:
                Room.delete().where(Room.id == room.id).execute()
                return True
            Attendee.delete().where(Attendee.id == me.id).execute()
            if me.actor_type == ActorType.USERS and me.participant_type != ParticipantType.USER_SELF_JOINED:
                mine = (me.actor_type, me.actor_id)
                self._emit(room, mine, "user_removed", user={"type": mine[0], "id": mine[1]}, by_self=True)
            self._touch(room, self.now())
        return False

    def remove_by_user_id(self, ctx, uid: str) -> None:
        """v1–v3 ``DELETE …/participants`` with a user id (§5.2)."""
        room = ctx.room
        target = Attendee.get_or_none(
            (Attendee.room == room.id) & (Attendee.actor_type == ActorType.USERS) & (Attendee.actor_id == uid)
        )
        if target is None:
            raise NotFound()
        if room.type in ONE_TO_ONE_TYPES:
            raise BadRequest()
        if target.id == ctx.attendee.id:
            self.remove_self(ctx)
            return
        if ctx.attendee.participant_type not in MODERATOR_TYPES:
            raise Forbidden()
        if target.participant_type == ParticipantType.OWNER:
            raise Forbidden()
        self._remove(room, target, actor_of(ctx))

    def remove_guest_by_session(self, ctx, session_id: str) -> None:
        """v1–v3 ``DELETE …/participants/guests`` (§5.3)."""
        room = ctx.room
        session = self._session_in_room(room, session_id)
        if session is None:
            raise NotFound()
        if session.attendee.participant_type not in (ParticipantType.GUEST, ParticipantType.GUEST_MODERATOR):
            raise BadRequest()
        if ctx.session is not None and ctx.session.id == session.id:
            raise Forbidden()
        self._remove(room, session.attendee, actor_of(ctx))

    # --- roles --------------------------------------------------------------------------------

    def change_type(self, ctx, target, promote: bool, requested: int | None) -> None:
        """Promote or demote (§12)."""
        room, me = ctx.room, ctx.attendee
        if target.actor_type == ActorType.GROUPS:
            raise BadRequest("actor-type")
        requested = requested or None
        if target.id == me.id and not (
            not promote
            and me.participant_type == ParticipantType.OWNER
            and requested == ParticipantType.MODERATOR
        ):
            raise Forbidden("self")
        if requested is not None:
            allowed = (1, 2) if promote else (2, 3)
            if requested not in allowed:
                raise BadRequest("participant-type")
        owner_change = (promote and requested == ParticipantType.OWNER) or (
            not promote and target.participant_type == ParticipantType.OWNER
        )
        if owner_change and requested is not None:
            if me.participant_type != ParticipantType.OWNER:
                raise Forbidden("moderator")
            if promote and target.actor_type != ActorType.USERS:
                raise BadRequest("actor-type")
            if room.type not in GROUP_OR_PUBLIC or room.object_type == "event":
                raise BadRequest("room-type")
        current = target.participant_type
        if promote:
            if requested == ParticipantType.OWNER:
                if current not in (2, 3, 5) or target.actor_type != ActorType.USERS:
                    raise BadRequest("type")
                new = ParticipantType.OWNER
            elif current in (3, 5):
                new = ParticipantType.MODERATOR
            elif current == 4:
                new = ParticipantType.GUEST_MODERATOR
            else:
                raise BadRequest("type")
        else:
            if current == 1:
                if requested is None:
                    raise BadRequest("type")
                new = requested
            elif current == 2:
                new = ParticipantType.USER
            elif current == 6:
                new = ParticipantType.GUEST
            else:
                raise BadRequest("type")
        with write_tx():
            moderators_left = (
                Attendee.select()
                .where(
                    (Attendee.room == room.id)
                    & Attendee.participant_type.in_([1, 2, 6])
                    & (Attendee.id != target.id)
                )
                .count()
            )
            if int(new) not in MODERATOR_TYPES and moderators_left == 0:
                raise BadRequest("last-moderator")
            changes = {"participant_type": int(new)}
            if int(new) in MODERATOR_TYPES:
                # NOTE: Talk clears custom permissions on promotion, so that a later demotion
                # falls back to the room's default permissions instead of the stale custom value.
                changes["permissions"] = 0
            Attendee.update(changes).where(Attendee.id == target.id).execute()
            self._touch(room, self.now())
            event = ROLE_EVENTS.get((int(current), int(new)))
            if event is not None:
                self._emit(
                    room, actor_of(ctx), event, user={"type": target.actor_type, "id": target.actor_id}
                )
        for name, value in changes.items():
            setattr(target, name, value)

    def find_target(self, ctx, attendee_id=None, uid=None, session_id=None):
        room = ctx.room
        if attendee_id is not None:
            return self._target(room, attendee_id)
        if uid is not None:
            target = Attendee.get_or_none(
                (Attendee.room == room.id)
                & (Attendee.actor_type == ActorType.USERS)
                & (Attendee.actor_id == uid)
            )
        else:
            session = self._session_in_room(room, session_id)
            target = session.attendee if session is not None else None
        if target is None:
            raise NotFound("participant")
        return target

    def set_permissions(self, ctx, attendee_id: int, method: str, permissions: int):
        """``PUT …/attendees/permissions`` (§7); returns the updated target."""
        room = ctx.room
        target = self._target(room, attendee_id)
        if room.type in ONE_TO_ONE_TYPES:
            raise BadRequest("room-type")
        if target.actor_type == ActorType.GROUPS:
            raise BadRequest("type")
        if target.participant_type in MODERATOR_TYPES:
            raise Forbidden("moderator")
        if method not in ("set", "add", "remove"):
            raise BadRequest("method")
        if not 0 <= permissions <= MAX_CUSTOM_PERMISSIONS:
            raise BadRequest("value")
        base = target.permissions or self.conversations.serializer.permissions_of(room, target)
        if method == "set":
            value = permissions | Permission.CUSTOM if permissions else 0
        elif method == "add":
            value = base | permissions | Permission.CUSTOM
        else:
            remaining = base & ~permissions & ~Permission.CUSTOM
            value = remaining | Permission.CUSTOM if remaining else 0
        changes = {"permissions": value}
        if target.participant_type == ParticipantType.USER_SELF_JOINED:
            changes["participant_type"] = int(ParticipantType.USER)
        with write_tx():
            Attendee.update(changes).where(Attendee.id == target.id).execute()
            listcache.touch_rooms([room.id])
            if "participant_type" in changes:  # a self-joined user became a member
                self._emit(
                    room, actor_of(ctx), "user_added", user={"type": target.actor_type, "id": target.actor_id}
                )
        for name, v in changes.items():
            setattr(target, name, v)
        return target

    def set_guest_name(self, ctx, name: str) -> None:
        if ctx.attendee.actor_type not in (ActorType.GUESTS, ActorType.EMAILS):
            raise Forbidden(None)
        text = clean_text(name, MAX_GUEST_NAME, "value", allow_empty=True)
        with write_tx():
            Attendee.update(display_name=text).where(Attendee.id == ctx.attendee.id).execute()
            listcache.touch_rooms([ctx.attendee.room_id])
        ctx.attendee.display_name = text

    # --- account events (D28, D25) ------------------------------------------------------------

    def on_member_added(self, group, user) -> None:
        rooms = [
            a.room_id
            for a in Attendee.select(Attendee.room).where(
                (Attendee.actor_type == ActorType.GROUPS) & (Attendee.actor_id == group.gid)
            )
        ]
        now = self.now()
        for room_id in rooms:
            room = Room.get_by_id(room_id)
            self._add_users(room, [user], now)

    def on_member_removed(self, group, user) -> None:
        for a in Attendee.select(Attendee.room).where(
            (Attendee.actor_type == ActorType.GROUPS) & (Attendee.actor_id == group.gid)
        ):
            room = Room.get_by_id(a.room_id)
            self._drop_group_members(room, group.gid, [user.uid])

    def on_group_deleted(self, group, member_uids) -> None:
        rooms = [
            a.room_id
            for a in Attendee.select(Attendee.room).where(
                (Attendee.actor_type == ActorType.GROUPS) & (Attendee.actor_id == group.gid)
            )
        ]
        listcache.touch_members_now(rooms)
        Attendee.delete().where(
            (Attendee.actor_type == ActorType.GROUPS) & (Attendee.actor_id == group.gid)
        ).execute()
        for room_id in rooms:
            self._drop_group_members(Room.get_by_id(room_id), group.gid, list(member_uids))

    def on_user_deleted(self, user) -> None:
        self.cookies.forget_principal(f"user:{user.uid}")
