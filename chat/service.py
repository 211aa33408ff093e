"""Chat rules (``chat.md``): posting, history and long polling, read markers, mentions, edits,
deletes, reactions, clear history, system messages, and the chat fields of room objects.

Raises OCS errors and never touches HTTP. Every chat insert takes the room's write lock so that
ids become visible in increasing order per room (C5), and wakes waiting polls after the commit.
"""

from __future__ import annotations

import json
import logging
import threading
import time

import peewee

from chat import mentions
from chat.constants import (
    COMMENT,
    COMMENT_DELETED,
    EDIT_AGE_LIMIT,
    GUEST_MENTION_LIMIT,
    LEGACY_UNREAD,
    MAX_MESSAGE_LENGTH,
    MAX_REFERENCE_ID,
    NOT_LAST_MESSAGE,
    REACTION,
    REACTION_DELETED,
    REPLYABLE_ACTORS,
    SYSTEM,
    UNREAD_FIRST_MESSAGE,
)
from chat.models import ChatMessage
from chat.serializers import MessageSerializer, Names, Viewer, loads
from chat.waiter import Waiters
from conversations import listcache
from conversations.constants import MODERATOR_TYPES, ONE_TO_ONE_TYPES, ActorType, RoomType
from conversations.models import Attendee, Room
from conversations.serializers import PARTICIPANT, avatar_version, display_name_of
from conversations.service import clean_text, is_single_emoji
from ocs import db as dbm
from ocs.accounts.models import GroupMember
from ocs.db import write_tx
from ocs.errors import BadRequest, Forbidden, NotFound, OCSError
from ocs.throttle import BruteforceAttempt

log = logging.getLogger("chat")

ROW_FIELDS = [f.name if f.name != "room" else "room_id" for f in ChatMessage._meta.sorted_fields]
ROW_COLUMNS = dbm.columns(ChatMessage)
MENTION_ACTION = "talkMentions"
PURGE_EVERY_S = 300
MENTION_WINDOW_S = 24 * 3600
MAX_GUEST_NAME = 64


def php_trim(text: str) -> str:
    """PHP ``trim``: spaces, tabs, newlines, carriage returns, NUL and vertical tabs."""
    return text.strip(" \t\n\r\0\x0b")


def dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class TooLong(OCSError):
    status = 413


class ChatService:
    """The chat rules, with the platform's clock, the conversations service and the waiters."""

    def __init__(self, platform, conversations, waiters: Waiters | None = None):
        self.platform = platform
        self.conversations = conversations
        self.registry = platform.registry
        self.waiters = waiters or Waiters()
        self._row_sql: dict = {}
        self._purge_lock = threading.Lock()
        self._next_purge = 0.0

    def now(self) -> int:
        return int(self.platform.clock())

    def feature(self, name: str) -> bool:
        return self.registry.enabled(name)

    # --- rows -------------------------------------------------------------------------------

    def _rows(self, where: str, params: list, order: str, limit: int | None = None) -> list:
        """Chat rows as plain records, with fixed SQL text per shape."""
        key = (dbm.param(), where, order, limit is not None)
        sql = self._row_sql.get(key)
        if sql is None:
            cols = ", ".join(ROW_COLUMNS)
            sql = f"SELECT {cols} FROM chat_messages WHERE {where} ORDER BY id {order}"  # noqa: S608 - fixed fragments
            if limit is not None:
                sql += f" LIMIT {dbm.param()}"
            sql = sql.replace("?", dbm.param())
            self._row_sql[key] = sql
        args = list(params) + ([limit] if limit is not None else [])
        return [dbm.record(ROW_FIELDS, row) for row in dbm.select(sql, args)]

    def rows_by_id(self, ids) -> dict:
        wanted = sorted({i for i in ids if i})
        if not wanted:
            return {}
        marks = ", ".join(["?"] * len(wanted))
        return {r.id: r for r in self._rows(f"id IN ({marks})", wanted, "ASC")}

    def _lock_room(self, room) -> None:
        """The room's write lock (C5): SQLite's ``BEGIN IMMEDIATE`` already serialises writers."""
        if not dbm.is_sqlite():
            dbm.db.execute_sql("SELECT id FROM rooms WHERE id = %s FOR UPDATE", (room.id,))

    def _expire_at(self, room, now: int) -> int | None:
        seconds = room.message_expiration or 0
        if seconds > 0 and self.feature("message-expiration"):
            return now + seconds
        return None

    def _insert(
        self,
        room,
        actor,
        verb: str,
        message: str,
        *,
        now: int,
        parent=None,
        reference_id=None,
        meta=None,
        last_message: bool = True,
        expire_at=None,
    ) -> ChatMessage:
        """Insert one chat row under the room lock; call inside ``write_tx``."""
        self._lock_room(room)
        topmost = None
        if parent is not None:
            topmost = parent.topmost_parent_id or parent.id
        row = ChatMessage.create(
            room=room.id,
            actor_type=actor[0],
            actor_id=actor[1],
            verb=verb,
            message=message,
            parent_id=parent.id if parent is not None else None,
            topmost_parent_id=topmost,
            reference_id=reference_id,
            created_at=now,
            expire_at=expire_at if expire_at is not None else self._expire_at(room, now),
            meta=dumps(meta or {}),
            reactions="{}",
        )
        if last_message:
            Room.update(last_message_id=row.id, last_activity=now).where(Room.id == room.id).execute()
            room.last_message_id, room.last_activity = row.id, now
        room_id = room.id
        listcache.touch_rooms([room_id])  # every message, system message and reaction row
        dbm.after_commit(lambda: self.waiters.notify(room_id))
        return row

    # --- system messages --------------------------------------------------------------------

    def on_room_event(self, event) -> None:
        """Post the system message of a room change (inside the change's transaction)."""
        if not self.feature("chat-v2"):
            return
        stored = {"message": event.name, "parameters": event.parameters}
        self._insert(
            event.room,
            event.actor,
            SYSTEM,
            dumps(stored),
            now=self.now(),
            last_message=event.name not in NOT_LAST_MESSAGE,
        )

    def _system(self, room, actor, name: str, now: int, parent=None, **parameters) -> ChatMessage:
        stored = {"message": name, "parameters": parameters}
        return self._insert(
            room,
            actor,
            SYSTEM,
            dumps(stored),
            now=now,
            parent=parent,
            last_message=name not in NOT_LAST_MESSAGE,
        )

    # --- posting ----------------------------------------------------------------------------

    def actor(self, ctx) -> tuple[str, str]:
        a = ctx.attendee
        return a.actor_type, a.actor_id

    def send(
        self,
        ctx,
        text: str,
        *,
        display_name: str = "",
        reference_id: str = "",
        reply_to: int = 0,
        silent: bool = False,
        client=None,
    ):
        """``POST /chat/{token}`` (§5.1): the new row and its parent row (or None)."""
        room, attendee = ctx.room, ctx.attendee
        text = php_trim(text)
        if not text:
            raise BadRequest("message")
        if len(text) > MAX_MESSAGE_LENGTH:
            raise TooLong("message")
        now = self.now()
        parent = None
        if reply_to:
            parent = self._replyable(room, reply_to, now)
        reference = php_trim(reference_id[:MAX_REFERENCE_ID]) or None
        found = mentions.detect(text)
        is_guest = attendee.actor_type in (ActorType.GUESTS, ActorType.EMAILS)
        if is_guest and found and client is not None:
            self._count_guest_mention(client, now)
        can_mention_all = room.mention_permissions == 0 or attendee.participant_type in MODERATOR_TYPES
        meta = {"can_mention_all": True} if can_mention_all else {}
        if silent:
            meta["silent"] = True
        guest_name = None
        if is_guest and display_name:
            try:
                guest_name = clean_text(display_name, MAX_GUEST_NAME, "name", allow_empty=True)
            except BadRequest:
                guest_name = None  # the message is still posted (chat.md §5.1 step 3)
        with write_tx():
            if room.type == RoomType.ONE_TO_ONE:
                self.conversations.refill_one_to_one(room, now)  # C10, C23
            if guest_name:
                Attendee.update(display_name=guest_name).where(Attendee.id == attendee.id).execute()
                attendee.display_name = guest_name
            row = self._insert(
                room,
                self.actor(ctx),
                COMMENT,
                text,
                now=now,
                parent=parent,
                reference_id=reference,
                meta=meta,
            )
            Attendee.update(last_read_message=row.id).where(Attendee.id == attendee.id).execute()
            attendee.last_read_message = row.id
            self._mention_bookkeeping(room, attendee, row.id, found, can_mention_all, parent)
        return row, parent

    def _replyable(self, room, message_id: int, now: int):
        parent = ChatMessage.get_or_none((ChatMessage.id == message_id) & (ChatMessage.room == room.id))
        if (
            parent is None
            or parent.verb != COMMENT
            or parent.actor_type not in REPLYABLE_ACTORS
            or (parent.expire_at is not None and parent.expire_at <= now)
        ):
            raise BadRequest("reply-to")
        return parent

    def _count_guest_mention(self, client, now: int) -> None:
        """C11: 50 mentioning messages per 24 h per guest address, shared through the database."""
        throttler = self.platform.throttler
        if not throttler.enabled or client.bypass:
            return
        count = (
            BruteforceAttempt.select()
            .where(
                (BruteforceAttempt.subnet == client.subnet)
                & (BruteforceAttempt.action == MENTION_ACTION)
                & (BruteforceAttempt.occurred > now - MENTION_WINDOW_S)
            )
            .count()
        )
        if count >= GUEST_MENTION_LIMIT:
            raise OCSError("mentions", status=429, message="Reached maximum delay")
        with write_tx():
            BruteforceAttempt.create(
                action=MENTION_ACTION, occurred=now, ip=client.ip, subnet=client.subnet, metadata="{}"
            )

    def _mention_bookkeeping(
        self, room, author, message_id: int, found, can_mention_all: bool, parent
    ) -> None:
        """§6.1: mentioned user attendees get ``last_mention_message``, direct ones also
        ``last_mention_direct``."""
        direct: set[str] = set()
        broad: set[str] = set()
        everyone = False
        groups = []
        for mention in found:
            if mention.kind == mentions.USER:
                direct.add(mention.id)
            elif mention.kind == mentions.CALL and can_mention_all:
                everyone = True
            elif mention.kind == mentions.GROUP:
                groups.append(mention.id)
        if parent is not None and parent.actor_type == ActorType.USERS:
            direct.add(parent.actor_id)
        users_in_room = Attendee.select(Attendee.actor_id).where(
            (Attendee.room == room.id) & (Attendee.actor_type == ActorType.USERS)
        )
        if everyone:
            broad.update(a.actor_id for a in users_in_room)
        if groups:
            present = {
                a.actor_id
                for a in Attendee.select(Attendee.actor_id).where(
                    (Attendee.room == room.id)
                    & (Attendee.actor_type == ActorType.GROUPS)
                    & Attendee.actor_id.in_(groups)
                )
            }
            if present:
                members = GroupMember.select(GroupMember.user).where(GroupMember.group.in_(list(present)))
                broad.update(m.user_id for m in members)
        me = author.actor_id if author.actor_type == ActorType.USERS else None
        direct.discard(me)
        broad.discard(me)
        if direct | broad:
            Attendee.update(last_mention_message=message_id).where(
                (Attendee.room == room.id)
                & (Attendee.actor_type == ActorType.USERS)
                & Attendee.actor_id.in_(sorted(direct | broad))
            ).execute()
        if direct:
            Attendee.update(last_mention_direct=message_id).where(
                (Attendee.room == room.id)
                & (Attendee.actor_type == ActorType.USERS)
                & Attendee.actor_id.in_(sorted(direct))
            ).execute()

    # --- reading ----------------------------------------------------------------------------

    def select(self, room, future: bool, last_known: int, include_last_known: bool, limit: int) -> list:
        if future:
            op = ">=" if include_last_known else ">"
            return self._rows(f"room_id = ? AND id {op} ?", [room.id, last_known], "ASC", limit)
        if last_known <= 0:
            return self._rows("room_id = ?", [room.id], "DESC", limit)
        op = "<=" if include_last_known else "<"
        return self._rows(f"room_id = ? AND id {op} ?", [room.id, last_known], "DESC", limit)

    def receive(
        self,
        ctx,
        *,
        future: bool,
        last_known: int,
        include_last_known: bool,
        limit: int,
        timeout: int,
        set_read_marker: bool,
    ) -> list:
        """History (newest first) or a long poll (oldest first) (§4.2, §4.3).

        A poll that finds nothing waits for a new row without holding a database connection
        (C9): woken in-process after a commit, or by the per-process watcher within a second."""
        room = ctx.room
        self.maybe_purge()
        if not future:
            return self.select(room, False, last_known, include_last_known, limit)
        attendee = ctx.attendee
        if (
            set_read_marker
            and attendee.actor_type == ActorType.USERS
            and last_known > attendee.last_read_message
        ):
            self._store_marker(attendee, last_known)
        rows = self.select(room, True, last_known, include_last_known, limit)
        if rows or timeout <= 0:
            return rows
        floor = last_known - 1 if include_last_known else last_known
        waiter = self.waiters.add(room.id, floor)
        deadline = time.monotonic() + timeout
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                dbm.release_connection()  # C9: never hold a connection while waiting
                if dbm.is_sqlite():
                    dbm.db.close()  # nor this thread's SQLite handle: hundreds may wait at once
                if waiter.wait(remaining):
                    rows = self.select(room, True, last_known, include_last_known, limit)
                    if rows:
                        return rows
        finally:
            self.waiters.remove(waiter)

    def context(self, ctx, message_id: int, limit: int) -> list:
        """``…/{messageId}/context`` (§4.5): up to limit−1 rows before, the row, limit rows after."""
        room = ctx.room
        before = self._rows("room_id = ? AND id < ?", [room.id, message_id], "DESC", max(limit - 1, 0))
        if limit - 1 <= 0:
            before = []
        after = self._rows("room_id = ? AND id >= ?", [room.id, message_id], "ASC", limit + 1)
        return list(reversed(before)) + after

    # --- rendering --------------------------------------------------------------------------

    def viewer(self, ctx, base_url: str) -> Viewer:
        room = ctx.room
        view = self.conversations.view(ctx, with_chat=False)  # only the room's name is needed
        a = ctx.attendee
        return viewer_of(room, a, display_name_of(room, view.partner_name), base_url)

    def names_for(self, rooms_rows: list[tuple[object, list]]) -> Names:
        """Every display name a page needs, one query per table (users, attendees, groups)."""
        users: set[str] = set()
        attendee_keys: set[tuple] = set()
        group_ids: set[str] = set()
        room_ids: set[int] = set()
        for room, rows in rooms_rows:
            room_ids.add(room.id)
            for row in rows:
                self._collect(row, users, attendee_keys, group_ids)
        names = Names()
        if users:
            wanted = sorted(users)
            marks = ", ".join([dbm.param()] * len(wanted))
            sql = f"SELECT uid, display_name FROM users WHERE uid IN ({marks})"  # noqa: S608 - placeholders only
            names.users = {uid: (display or uid) for uid, display in dbm.select(sql, wanted)}
        if attendee_keys:
            ids = sorted({k[1] for k in attendee_keys})
            marks = ", ".join([dbm.param()] * len(ids))
            rmarks = ", ".join([dbm.param()] * len(room_ids))
            rows = dbm.select(
                f"SELECT room_id, actor_type, actor_id, display_name FROM attendees WHERE room_id IN ({rmarks})"  # noqa: S608 - placeholders only
                f" AND actor_type IN ('guests', 'emails', 'groups') AND actor_id IN ({marks})",
                sorted(room_ids) + ids,
            )
            names.attendees = {(r[0], r[1], r[2]): r[3] for r in rows}
        if group_ids:
            wanted = sorted(group_ids)
            marks = ", ".join([dbm.param()] * len(wanted))
            sql = f"SELECT gid, display_name FROM user_groups WHERE gid IN ({marks})"  # noqa: S608 - placeholders only
            names.groups = {gid: (display or gid) for gid, display in dbm.select(sql, wanted)}
        return names

    def _collect(self, row, users, attendee_keys, group_ids) -> None:
        for actor in ((row.actor_type, row.actor_id),):
            self._collect_actor(actor, users, attendee_keys)
        meta = loads(row.meta)
        if "last_edited_by_id" in meta:
            self._collect_actor(
                (meta.get("last_edited_by_type", ""), meta["last_edited_by_id"]), users, attendee_keys
            )
        if row.verb == COMMENT:
            for mention in mentions.detect(row.message):
                if mention.kind == mentions.USER:
                    users.add(mention.id)
                elif mention.kind == mentions.GUEST:
                    attendee_keys.add(("guests", mention.id))
                elif mention.kind == mentions.EMAIL:
                    attendee_keys.add(("emails", mention.id))
                elif mention.kind == mentions.GROUP:
                    attendee_keys.add(("groups", mention.id))
        elif row.verb == COMMENT_DELETED:
            info = loads(row.message)
            self._collect_actor(
                (info.get("deleted_by_type", ""), info.get("deleted_by_id", "")), users, attendee_keys
            )
        elif row.verb == SYSTEM:
            params = loads(row.message).get("parameters") or {}
            user = params.get("user")
            if isinstance(user, dict):
                self._collect_actor((user.get("type", ""), user.get("id", "")), users, attendee_keys)
            if "group" in params:
                group_ids.add(str(params["group"]))

    @staticmethod
    def _collect_actor(actor, users, attendee_keys) -> None:
        if actor[0] == ActorType.USERS:
            users.add(actor[1])
        elif actor[0] in (ActorType.GUESTS, ActorType.EMAILS) and actor[1] != "system":
            attendee_keys.add(actor)

    def own_reactions(self, actor, message_ids) -> dict:
        """The caller's emojis per message id, one query for a page (``reactionsSelf``)."""
        wanted = sorted({i for i in message_ids if i})
        if not wanted:
            return {}
        marks = ", ".join([dbm.param()] * len(wanted))
        p = dbm.param()
        rows = dbm.select(
            f"SELECT parent_id, message FROM chat_messages WHERE verb = 'reaction' AND actor_type = {p}"  # noqa: S608 - placeholders only
            f" AND actor_id = {p} AND parent_id IN ({marks}) ORDER BY id",
            [actor[0], actor[1], *wanted],
        )
        result: dict = {}
        for parent_id, emoji in rows:
            result.setdefault(parent_id, []).append(emoji)
        return result

    def render(self, ctx, rows: list, base_url: str, with_parents: bool = True) -> list[dict]:
        """Rows as message objects for the caller, with parents and ``reactionsSelf``; rows that
        expired are left out (§9)."""
        room = ctx.room
        now = self.now()
        by_id = {r.id: r for r in rows}
        parents = {}
        if with_parents:
            wanted = [r.parent_id for r in rows if r.parent_id and r.parent_id not in by_id]
            parents = {**by_id, **self.rows_by_id(wanted)}
        page = list(rows) + [p for p in parents.values() if p.id not in by_id]
        names = self.names_for([(room, page)]).for_room(room.id)
        viewer = self.viewer(ctx, base_url)
        own = self.own_reactions(viewer.actor, [r.id for r in page if r.verb == COMMENT])
        serializer = MessageSerializer(room, names, viewer, now)
        return [
            serializer.message(r, parents if with_parents else None, own)
            for r in rows
            if not serializer.hidden(r)
        ]

    def render_one(self, ctx, row, base_url: str) -> dict:
        return self.render(ctx, [row], base_url)[0]

    # --- read markers -----------------------------------------------------------------------

    def _store_marker(self, attendee, value: int) -> None:
        now = self.now()
        with write_tx():
            common = self.common_read(attendee.room_id)
            Attendee.update(last_read_message=value, last_attendee_activity=now).where(
                Attendee.id == attendee.id
            ).execute()
            # the reader's own unread fields, and everybody's lastCommonReadMessage if it moved
            if self.common_read(attendee.room_id) != common:
                listcache.touch_rooms([attendee.room_id])
            elif attendee.actor_type == ActorType.USERS:
                listcache.touch_users([attendee.actor_id])
        attendee.last_read_message = value
        attendee.last_attendee_activity = now

    def set_read_marker(self, ctx, value: int | None) -> None:
        """``POST …/read`` (§6.2, C21)."""
        if value is None:
            value = ctx.room.last_message_id or UNREAD_FIRST_MESSAGE
        elif value < UNREAD_FIRST_MESSAGE:
            raise BadRequest()
        elif value == 0:
            value = UNREAD_FIRST_MESSAGE
        self._store_marker(ctx.attendee, value)

    def mark_unread(self, ctx) -> None:
        """``DELETE …/read``: normally exactly the last message becomes unread (§6.2)."""
        room = ctx.room
        newest = self._rows("room_id = ?", [room.id], "DESC", 1)
        value = UNREAD_FIRST_MESSAGE
        if newest:
            last = newest[0]
            comments = self._rows(
                "room_id = ? AND verb = 'comment' AND id < ?", [room.id, last.id], "DESC", 2
            )
            if last.verb == COMMENT:
                value = comments[0].id if comments else UNREAD_FIRST_MESSAGE
            elif comments:
                value = comments[-1].id
            else:
                before = self._rows("room_id = ? AND id < ?", [room.id, last.id], "DESC", 1)
                value = before[0].id if before else UNREAD_FIRST_MESSAGE
        self._store_marker(ctx.attendee, value)

    def common_read(self, room_id: int) -> int:
        """§6.3: the lowest read marker of the room's users (all read publicly here, C3)."""
        p = dbm.param()
        row = dbm.select(
            f"SELECT MIN(last_read_message) FROM attendees WHERE room_id = {p} AND actor_type = 'users'"  # noqa: S608 - placeholders only
            " AND read_privacy = 0",
            [room_id],
        )
        return int(row[0][0]) if row and row[0][0] is not None else 0

    # --- room objects (§6.4, C19) -------------------------------------------------------------

    def fill_views(self, views, caller_actor, base_url: str = "") -> None:
        """Set the chat fields of room views in a constant number of queries."""
        if not views or not self.feature("chat-v2"):
            return
        now = self.now()
        participant = [v for v in views if v.attendee is not None]
        for view in views:
            view.chat = {}
        if not participant:
            return
        room_ids = [v.room.id for v in participant]
        rmarks = ", ".join([dbm.param()] * len(room_ids))
        last_ids = [v.room.last_message_id for v in participant if v.room.last_message_id]
        last_rows = self.rows_by_id(last_ids)
        # unread comments per room for the caller, one grouped query
        p = dbm.param()
        unread = {}
        if caller_actor[0] == ActorType.USERS:
            unread = dict(
                dbm.select(
                    "SELECT m.room_id, COUNT(*) FROM chat_messages m JOIN attendees a ON a.room_id = m.room_id"  # noqa: S608 - placeholders only
                    f" AND a.actor_type = {p} AND a.actor_id = {p} AND m.id > a.last_read_message"
                    f" WHERE m.room_id IN ({rmarks}) AND m.verb = 'comment'"
                    f" AND (m.expire_at IS NULL OR m.expire_at > {p}) GROUP BY m.room_id",
                    [caller_actor[0], caller_actor[1], *room_ids, now],
                )
            )
        common = dict(
            dbm.select(
                f"SELECT room_id, MIN(last_read_message) FROM attendees WHERE room_id IN ({rmarks})"  # noqa: S608 - placeholders only
                " AND actor_type = 'users' AND read_privacy = 0 GROUP BY room_id",
                room_ids,
            )
        )
        rendered = {}
        if last_rows:
            rooms = {v.room.id: v.room for v in participant}
            names = self.names_for(
                [(rooms[r.room_id], [r]) for r in last_rows.values() if r.room_id in rooms]
            )
            own = self.own_reactions(caller_actor, [r.id for r in last_rows.values() if r.verb == COMMENT])
            for view in participant:
                row = last_rows.get(view.room.last_message_id)
                if row is None:
                    continue
                room = view.room
                viewer = viewer_of(room, view.attendee, display_name_of(room, view.partner_name), base_url)
                serializer = MessageSerializer(room, names.for_room(room.id), viewer, now)
                if not serializer.hidden(row):
                    rendered[room.id] = serializer.message(row, None, own)
        for view in participant:
            view.chat = self._fields(
                view, unread.get(view.room.id, 0), common.get(view.room.id, 0), rendered.get(view.room.id)
            )

    def _fields(self, view, unread_count: int, common: int, last_message) -> dict:
        attendee, room = view.attendee, view.room
        stored = attendee.last_read_message
        last_read = UNREAD_FIRST_MESSAGE if stored in (0, LEGACY_UNREAD) else stored
        is_user = attendee.actor_type == ActorType.USERS
        if not is_user:
            count = 0
        elif stored == room.last_message_id:
            count = 0
        else:
            count = int(unread_count)
            if stored == UNREAD_FIRST_MESSAGE and count == 0 and room.last_message_id:
                count = 1  # upstream: "nothing read" (e.g. after clearing the history) shows one
        mention = (
            bool(count) and attendee.last_mention_message != 0 and stored < attendee.last_mention_message
        )
        direct = bool(count) and attendee.last_mention_direct != 0 and stored < attendee.last_mention_direct
        if view.kind != PARTICIPANT:
            count, mention, direct = 0, False, False
        return {
            "lastReadMessage": last_read,
            "unreadMessages": count,
            "unreadMention": mention if is_user else False,
            "unreadMentionDirect": direct if is_user else False,
            "lastCommonReadMessage": int(common or 0),
            "lastMessage": last_message if last_message is not None else [],
        }

    # --- edit, delete -----------------------------------------------------------------------

    def _own_or_moderated(self, ctx, message_id: int):
        room, attendee = ctx.room, ctx.attendee
        row = ChatMessage.get_or_none((ChatMessage.id == message_id) & (ChatMessage.room == room.id))
        if row is None or (row.expire_at is not None and row.expire_at <= self.now()):
            raise NotFound("message")
        own = (row.actor_type, row.actor_id) == (attendee.actor_type, attendee.actor_id)
        moderator = attendee.participant_type in MODERATOR_TYPES and room.type not in ONE_TO_ONE_TYPES
        if not own and not moderator:
            raise Forbidden("permission")
        if row.verb != COMMENT:
            raise OCSError("message", status=405, message="Method not allowed")
        return row

    def edit(self, ctx, message_id: int, text: str):
        """``PUT /chat/{token}/{id}`` (§8.1, C20): the ``message_edited`` row and the message."""
        room = ctx.room
        row = self._own_or_moderated(ctx, message_id)
        now = self.now()
        if room.type != RoomType.NOTE_TO_SELF and row.created_at < now - EDIT_AGE_LIMIT:
            raise BadRequest("age")
        text = php_trim(text)
        if not text:
            raise BadRequest("message")
        if len(text) > MAX_MESSAGE_LENGTH:
            raise TooLong("message")
        meta = loads(row.meta)
        before = {(m.kind, m.id) for m in mentions.detect(row.message)}
        meta.update(
            last_edited_by_type=ctx.attendee.actor_type,
            last_edited_by_id=ctx.attendee.actor_id,
            last_edited_time=now,
        )
        with write_tx():
            changed = (
                ChatMessage.update(message=text, meta=dumps(meta))
                .where((ChatMessage.id == row.id) & (ChatMessage.verb == COMMENT))
                .execute()
            )
            if not changed:  # deleted meanwhile by a concurrent request
                raise OCSError("message", status=405, message="Method not allowed")
            row.message, row.meta = text, dumps(meta)
            system_row = self._system(
                room, self.actor(ctx), "message_edited", now, parent=row, message=row.id
            )
            if not meta.get("silent"):
                added = [m for m in mentions.detect(text) if (m.kind, m.id) not in before]
                author = (
                    Attendee.get_or_none(
                        (Attendee.room == room.id)
                        & (Attendee.actor_type == row.actor_type)
                        & (Attendee.actor_id == row.actor_id)
                    )
                    or ctx.attendee
                )
                self._mention_bookkeeping(
                    room, author, row.id, added, bool(meta.get("can_mention_all")), None
                )
        return system_row

    def delete(self, ctx, message_id: int):
        """``DELETE /chat/{token}/{id}`` (§8.2): the ``message_deleted`` row."""
        room = ctx.room
        row = self._own_or_moderated(ctx, message_id)
        now = self.now()
        info = {
            "deleted_by_type": ctx.attendee.actor_type,
            "deleted_by_id": ctx.attendee.actor_id,
            "deleted_on": now,
        }
        with write_tx():
            changed = (
                ChatMessage.update(verb=COMMENT_DELETED, message=dumps(info), meta="{}", reactions="{}")
                .where((ChatMessage.id == row.id) & (ChatMessage.verb == COMMENT))
                .execute()
            )
            if not changed:  # a concurrent delete won
                raise OCSError("message", status=405, message="Method not allowed")
            row.verb, row.message, row.meta, row.reactions = COMMENT_DELETED, dumps(info), "{}", "{}"
            system_row = self._system(
                room, self.actor(ctx), "message_deleted", now, parent=row, message=row.id
            )
        return system_row

    # --- reactions --------------------------------------------------------------------------

    def _reactable(self, room, message_id: int):
        row = ChatMessage.get_or_none((ChatMessage.id == message_id) & (ChatMessage.room == room.id))
        if row is None or (row.expire_at is not None and row.expire_at <= self.now()):
            raise NotFound(None)
        if row.verb != COMMENT:
            raise BadRequest(None)
        return row

    def _reaction_target(self, ctx, message_id: int, emoji: str):
        """(room, reacted row, actor, now) after the checks both reaction writes share."""
        if not is_single_emoji(emoji):
            raise BadRequest(None)
        return ctx.room, self._reactable(ctx.room, message_id), self.actor(ctx), self.now()

    def react(self, ctx, message_id: int, emoji: str) -> int:
        """``POST /reaction/{token}/{id}``: 201 new, 200 already there (§8.3)."""
        room, row, actor, now = self._reaction_target(ctx, message_id, emoji)
        try:
            with write_tx():
                self._insert(
                    room,
                    actor,
                    REACTION,
                    emoji,
                    now=now,
                    parent=row,
                    last_message=False,
                    expire_at=row.expire_at,
                )
                self._count_reaction(row.id, emoji, +1)
        except peewee.IntegrityError:
            return 200  # the unique index: this actor already reacted with this emoji
        return 201

    def unreact(self, ctx, message_id: int, emoji: str) -> None:
        """``DELETE /reaction/{token}/{id}``: 404 ``null`` when the caller has no such reaction."""
        room, row, actor, now = self._reaction_target(ctx, message_id, emoji)
        with write_tx():
            changed = (
                ChatMessage.update(verb=REACTION_DELETED)
                .where(
                    (ChatMessage.parent_id == row.id)
                    & (ChatMessage.verb == REACTION)
                    & (ChatMessage.actor_type == actor[0])
                    & (ChatMessage.actor_id == actor[1])
                    & (ChatMessage.message == emoji)
                )
                .execute()
            )
            if not changed:
                raise NotFound(None)
            self._count_reaction(row.id, emoji, -1)
            self._system(room, actor, "reaction_revoked", now, parent=row, message=row.id)

    def _count_reaction(self, message_id: int, emoji: str, delta: int) -> None:
        """Keep the reacted message's emoji counts (read-modify-write under the room lock)."""
        current = ChatMessage.select(ChatMessage.reactions).where(ChatMessage.id == message_id).scalar()
        counts = loads(current)
        value = int(counts.get(emoji, 0)) + delta
        if value > 0:
            counts[emoji] = value
        else:
            counts.pop(emoji, None)
        ChatMessage.update(reactions=dumps(counts)).where(ChatMessage.id == message_id).execute()

    def reactions(self, ctx, message_id: int, emoji: str | None = None) -> dict:
        """Emoji → who reacted, newest first (``GET /reaction/…``, and POST/DELETE answers)."""
        room = ctx.room
        row = self._reactable(room, message_id)
        query = ChatMessage.select().where((ChatMessage.parent_id == row.id) & (ChatMessage.verb == REACTION))
        if emoji:
            query = query.where(ChatMessage.message == emoji)
        rows = list(query.order_by(ChatMessage.id.desc()))
        names = self.names_for([(room, rows)]).for_room(room.id)
        serializer = MessageSerializer(room, names, Viewer("", "", "", ""), self.now())
        result: dict = {}
        for r in rows:
            actor_type, actor_id, name = serializer.actor_fields(r.actor_type, r.actor_id)
            result.setdefault(r.message, []).append(
                {
                    "actorType": actor_type,
                    "actorId": actor_id,
                    "actorDisplayName": name,
                    "timestamp": r.created_at,
                }
            )
        return result

    # --- clear history ----------------------------------------------------------------------

    def clear_history(self, ctx):
        """``DELETE /chat/{token}`` (§8.4, C22): the ``history_cleared`` row."""
        room = ctx.room
        if (
            room.type in ONE_TO_ONE_TYPES
            and not self.platform.config["talk"]["delete_one_to_one_conversations"]
        ):
            raise Forbidden(None)
        now = self.now()
        with write_tx():
            self._lock_room(room)
            ChatMessage.delete().where(ChatMessage.room == room.id).execute()
            Attendee.update(
                last_read_message=UNREAD_FIRST_MESSAGE, last_mention_message=0, last_mention_direct=0
            ).where(Attendee.room == room.id).execute()
            ctx.attendee.last_read_message = UNREAD_FIRST_MESSAGE
            row = self._system(room, self.actor(ctx), "history_cleared", now)
        return row

    # --- mention suggestions ----------------------------------------------------------------

    def suggestions(self, ctx, search: str, limit: int) -> list[dict]:
        """``GET /chat/{token}/mentions`` (§5.4)."""
        room = ctx.room
        needle = search.casefold()
        result = []
        attendees = Attendee.select().where(Attendee.room == room.id).order_by(Attendee.id)
        names = {}
        user_ids = [a.actor_id for a in attendees if a.actor_type == ActorType.USERS]
        if user_ids:
            marks = ", ".join([dbm.param()] * len(user_ids))
            names = dict(dbm.select(f"SELECT uid, display_name FROM users WHERE uid IN ({marks})", user_ids))  # noqa: S608 - placeholders only
        for a in attendees:
            if a.actor_type == ActorType.USERS:
                label = names.get(a.actor_id) or a.actor_id
                entry = {"id": a.actor_id, "label": label, "source": "users", "mentionId": a.actor_id}
            elif a.actor_type in (ActorType.GUESTS, ActorType.EMAILS):
                prefix = "guest/" if a.actor_type == ActorType.GUESTS else "email/"
                label = a.display_name or "Guest"
                entry = {
                    "id": prefix + a.actor_id,
                    "label": label,
                    "source": a.actor_type,
                    "mentionId": prefix + a.actor_id,
                }
            elif a.actor_type == ActorType.GROUPS:
                label = a.display_name or a.actor_id
                entry = {
                    "id": a.actor_id,
                    "label": label,
                    "source": "groups",
                    "mentionId": "group/" + a.actor_id,
                }
            else:
                continue
            if needle and needle not in entry["id"].casefold() and needle not in label.casefold():
                continue
            result.append(entry)
        may_all = room.mention_permissions == 0 or ctx.attendee.participant_type in MODERATOR_TYPES
        view = self.conversations.view(ctx, with_chat=False)
        room_name = display_name_of(room, view.partner_name)
        if may_all and (not needle or needle in "all" or needle in room_name.casefold()):
            count = sum(
                1 for a in attendees if a.actor_type in (ActorType.USERS, ActorType.GUESTS, ActorType.EMAILS)
            )
            result.append(
                {
                    "id": "all",
                    "label": room_name,
                    "source": "calls",
                    "mentionId": "all",
                    "details": f"All {count} participants",
                }
            )
        return result[:limit]

    # --- expiry -----------------------------------------------------------------------------

    def maybe_purge(self) -> None:
        """Purge expired rows at most every five minutes per process, from ordinary requests:
        no cron and no extra process (C15). Reads never depend on it."""
        now = time.monotonic()
        if now < self._next_purge or not self._purge_lock.acquire(blocking=False):
            return
        try:
            self._next_purge = now + PURGE_EVERY_S
            removed = self.purge_expired()
            if removed:
                log.info("purged %d expired chat rows", removed)
        except Exception as exc:  # a busy database: the next round tries again
            log.warning("expired chat rows not purged: %s", exc.__class__.__name__)
        finally:
            self._purge_lock.release()

    def next_expiry(self, room_ids: list[int], now: int) -> int | None:
        """When the next message of these rooms expires (None: none will)."""
        p = dbm.param()
        found = []
        for start in range(0, len(room_ids), 500):
            chunk = room_ids[start : start + 500]
            marks = ", ".join([p] * len(chunk))
            found += dbm.select(
                "SELECT MIN(expire_at) FROM chat_messages WHERE expire_at IS NOT NULL"  # noqa: S608 - placeholders only
                f" AND expire_at > {p} AND room_id IN ({marks})",
                [now, *chunk],
            )
        moments = [row[0] for row in found if row[0] is not None]
        return min(moments) if moments else None

    def purge_expired(self, batch: int = 1000) -> int:
        """Delete expired rows in batches (C15); reads hide them already."""
        now = self.now()
        ids = [
            r.id
            for r in ChatMessage.select(ChatMessage.id)
            .where(ChatMessage.expire_at.is_null(False) & (ChatMessage.expire_at <= now))
            .limit(batch)
        ]
        if not ids:
            return 0
        with write_tx():
            rooms = ChatMessage.select(ChatMessage.room).where(ChatMessage.id.in_(ids)).distinct()
            listcache.touch_rooms([r.room_id for r in rooms])
            ChatMessage.delete().where(ChatMessage.id.in_(ids)).execute()
        return len(ids)


def viewer_of(room, attendee, room_name: str, base_url: str) -> Viewer:
    """Who reads, and the room as they see it (its name and the ``@all`` icon URL)."""
    version = avatar_version(room, room_name)
    url = f"{base_url}/ocs/v2.php/apps/spreed/api/v1/room/{room.token}/avatar?v={version}"
    return Viewer(
        actor_type=attendee.actor_type, actor_id=attendee.actor_id, room_name=room_name, avatar_url=url
    )
