"""The message object on the wire (``chat.md`` §3, §5.2, §7): keys in Talk's order, rich
objects, mention placeholders and viewer-dependent system texts. camelCase lives only here."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from chat import mentions, system
from chat.constants import (
    COMMENT,
    COMMENT_DELETED,
    DELETED_USERS,
    REACTION,
    REACTION_DELETED,
    REPLYABLE_ACTORS,
    SYSTEM,
)

EMPTY_PARAMETERS: list = []  # PHP's empty array: clients expect exactly []


@dataclass
class Names:
    """Display names resolved once for a page: users, the room's guests/e-mail guests/groups, and
    groups by id."""

    users: dict = field(default_factory=dict)  # uid -> shown name (existing users only)
    attendees: dict = field(default_factory=dict)  # (actor type, actor id) -> display name
    groups: dict = field(default_factory=dict)  # gid -> shown name

    def for_room(self, room_id: int) -> Names:
        """The names of one room of a multi-room lookup (attendees are keyed by room first)."""
        attendees = {(k[1], k[2]): v for k, v in self.attendees.items() if k[0] == room_id}
        return Names(users=self.users, attendees=attendees, groups=self.groups)


@dataclass
class Viewer:
    """Who reads: their actor, and how the room is called and shown for them."""

    actor_type: str
    actor_id: str
    room_name: str
    avatar_url: str

    @property
    def actor(self) -> tuple[str, str]:
        return self.actor_type, self.actor_id


def loads(text: str) -> dict:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def wire_actor_type(actor_type: str) -> str:
    return "guests" if actor_type == "emails" else actor_type


class MessageSerializer:
    """Renders chat rows for one viewer of one room."""

    def __init__(self, room, names: Names, viewer: Viewer, now: int):
        self.room = room
        self.names = names
        self.viewer = viewer
        self.now = now

    # --- rich objects -----------------------------------------------------------------------

    def actor_object(self, actor_type: str, actor_id: str) -> dict:
        if actor_type == "users":
            name = self.names.users.get(actor_id)
            if name is None:
                return {"type": "highlight", "id": DELETED_USERS, "name": "Deleted user"}
            return {"type": "user", "id": actor_id, "name": name, "mention-id": actor_id}
        if actor_type in ("guests", "emails"):
            if actor_id == "system":
                return {"type": "guest", "id": "guest/system", "name": "System", "mention-id": "guest/system"}
            prefix = "email/" if actor_type == "emails" else "guest/"
            name = self.names.attendees.get((actor_type, actor_id)) or "Guest"
            return {"type": "guest", "id": prefix + actor_id, "name": name, "mention-id": prefix + actor_id}
        if actor_type == "groups":
            return self.group_object(actor_id, "user-group/")
        return {"type": "highlight", "id": actor_id, "name": actor_id}

    def group_object(self, gid: str, mention_prefix: str) -> dict:
        name = self.names.groups.get(gid) or self.names.attendees.get(("groups", gid)) or gid
        return {"type": "group", "id": gid, "name": name, "mention-id": mention_prefix + gid}

    def call_object(self) -> dict:
        room = self.room
        call_type = "one2one" if room.type in (1, 5) else ("public" if room.type == 3 else "group")
        return {
            "type": "call",
            "id": room.token,
            "name": self.viewer.room_name,
            "call-type": call_type,
            "icon-url": self.viewer.avatar_url,
            "mention-id": "all",
        }

    def actor_fields(self, actor_type: str, actor_id: str) -> tuple[str, str, str]:
        """(actorType, actorId, actorDisplayName) as clients see them (§3.2)."""
        if actor_type == "users":
            name = self.names.users.get(actor_id)
            if name is None:
                return DELETED_USERS, DELETED_USERS, ""
            return "users", actor_id, name
        if actor_type in ("guests", "emails"):
            if actor_id == "system":
                return "guests", "system", "System"
            return "guests", actor_id, self.names.attendees.get((actor_type, actor_id), "")
        return actor_type, actor_id, actor_id

    # --- text -------------------------------------------------------------------------------

    def comment_text(self, row, meta: dict) -> tuple[str, object]:
        """The text with mention placeholders, and the parameters (``[]`` when none)."""
        text = row.message
        found = mentions.detect(text)
        if not found:
            return text, EMPTY_PARAMETERS
        parameters = {}
        replacements = []
        counters: dict = {}
        for mention in found:
            obj = self._resolve(mention, meta)
            if obj is None:
                continue
            counters[mention.kind] = counters.get(mention.kind, 0) + 1
            key = f"mention-{mention.kind.replace('_', '-')}{counters[mention.kind]}"
            parameters[key] = obj
            for search in mentions.searches_for(mention.kind, mention.id):
                replacements.append((search, "{" + key + "}"))
        if not parameters:
            return text, EMPTY_PARAMETERS
        return mentions.replace_outside_code(text, replacements), parameters

    def _resolve(self, mention, meta: dict) -> dict | None:
        if mention.kind == mentions.CALL:
            return self.call_object() if meta.get("can_mention_all") else None
        if mention.kind == mentions.USER:
            name = self.names.users.get(mention.id)
            if name is None:
                return None
            return {"type": "user", "id": mention.id, "name": name, "mention-id": mention.id}
        if mention.kind in (mentions.GUEST, mentions.EMAIL):
            actor_type = "guests" if mention.kind == mentions.GUEST else "emails"
            if (actor_type, mention.id) not in self.names.attendees:
                return None
            prefix = mention.kind + "/"
            name = self.names.attendees[(actor_type, mention.id)] or "Guest"
            return {
                "type": "guest",
                "id": prefix + mention.id,
                "name": name,
                "mention-id": prefix + mention.id,
            }
        if mention.kind == mentions.GROUP:
            if ("groups", mention.id) not in self.names.attendees:
                return None
            return self.group_object(mention.id, "group/")
        return None

    def system_text(self, row) -> tuple[str, str, object]:
        """(systemMessage, message, messageParameters) of a system row for this viewer."""
        stored = loads(row.message)
        name = stored.get("message", "")
        params = stored.get("parameters") or {}
        actor = (row.actor_type, row.actor_id)
        parameters = {"actor": self.actor_object(*actor)}
        affected = False
        user = params.get("user")
        if isinstance(user, dict):
            key = (user.get("type", "users"), user.get("id", ""))
            parameters["user"] = self.actor_object(*key)
            affected = key == self.viewer.actor
        if "group" in params:
            parameters["group"] = self.group_object(str(params["group"]), "user-group/")
        viewer_is_actor = actor == self.viewer.actor
        text = system.text_for(name, params, viewer_is_actor, affected)
        if text is None:
            text = name
        return name, text, parameters

    # --- the message object -----------------------------------------------------------------

    def hidden(self, row) -> bool:
        return row.expire_at is not None and row.expire_at <= self.now

    def message(self, row, parents: dict | None = None, own_reactions: dict | None = None) -> dict:
        """One row as a message object; ``parents`` maps ids to rows (None: no parent key)."""
        meta = loads(row.meta)
        actor_type, actor_id, actor_name = self.actor_fields(row.actor_type, row.actor_id)
        verb = row.verb
        deleted = verb == COMMENT_DELETED
        system_message = ""
        parameters: object = EMPTY_PARAMETERS
        if verb == COMMENT:
            message_type = COMMENT
            text, parameters = self.comment_text(row, meta)
        elif deleted:
            message_type = COMMENT_DELETED
            info = loads(row.message)
            deleter = (info.get("deleted_by_type", ""), info.get("deleted_by_id", ""))
            if deleter == self.viewer.actor:
                text = "Message deleted by you"
            elif deleter == (row.actor_type, row.actor_id):
                text = "Message deleted by author"
            else:
                text = "Message deleted by {actor}"
            parameters = {"actor": self.actor_object(*deleter)}
        elif verb == REACTION:
            message_type, system_message, text = SYSTEM, "reaction", row.message
        elif verb == REACTION_DELETED:
            message_type, system_message, text = SYSTEM, "reaction_deleted", "Reaction deleted by author"
        else:
            message_type = SYSTEM
            system_message, text, parameters = self.system_text(row)
        reactions = {} if deleted else loads(row.reactions)
        data = {
            "id": row.id,
            "token": self.room.token,
            "actorType": actor_type,
            "actorId": actor_id,
            "actorDisplayName": actor_name,
            "timestamp": row.created_at,
            "message": text,
            "messageParameters": parameters,
            "systemMessage": system_message,
            "messageType": message_type,
            "isReplyable": message_type == COMMENT and row.actor_type in REPLYABLE_ACTORS,
            "referenceId": "" if deleted else (row.reference_id or ""),
            "reactions": reactions,
            "expirationTimestamp": row.expire_at or 0,
            "markdown": message_type != SYSTEM,
            "threadId": row.topmost_parent_id or row.id,
        }
        if "last_edited_time" in meta and not deleted:
            edit_type, edit_id, edit_name = self.actor_fields(
                meta.get("last_edited_by_type", ""), meta.get("last_edited_by_id", "")
            )
            data["lastEditActorType"] = edit_type
            data["lastEditActorId"] = edit_id
            data["lastEditActorDisplayName"] = edit_name
            data["lastEditTimestamp"] = meta["last_edited_time"]
        if deleted:
            data["deleted"] = True
        if meta.get("silent"):
            data["silent"] = True
        if parents is not None and row.parent_id and has_parent(row):
            parent = parents.get(row.parent_id)
            if parent is None or self.hidden(parent):
                data["parent"] = {"id": row.parent_id, "deleted": True}
            else:
                data["parent"] = self.message(parent, None, own_reactions)
        if own_reactions is not None and row.id in own_reactions and not deleted:
            data["reactionsSelf"] = own_reactions[row.id]
        return data


def has_parent(row) -> bool:
    """Replies, reactions, and the system rows that point at a message carry ``parent``."""
    if row.verb in (COMMENT, COMMENT_DELETED, REACTION, REACTION_DELETED):
        return True
    if row.verb == SYSTEM:
        name = loads(row.message).get("message")
        return name in ("message_edited", "message_deleted", "reaction_revoked")
    return False
