"""Conversation resources: parse, call the service, respond (``conversations.md`` §1.2).

Every responder declares its Talk API versions, authentication, gate and room role as data
(``@talk``); :mod:`conversations.access` enforces the role.
"""

from __future__ import annotations

import io
from collections import namedtuple

import falcon
import falcon.media

from conversations import access, avatars, serializers
from conversations.access import Role
from conversations.constants import ONE_TO_ONE_TYPES, RoomType
from conversations.service import COLOR, CreateRequest, is_single_emoji
from ocs import envelope, formats, throttle
from ocs.accounts import service as accounts
from ocs.app import PUBLIC, USER, policy
from ocs.errors import BadRequest, InvalidParameter, NotFound, OCSError

ALL = ("v1", "v2", "v3", "v4")
V3_V4 = ("v3", "v4")
V4 = ("v4",)
V1 = ("v1",)
V1_V3 = ("v1", "v2", "v3")
RoomRef = namedtuple("RoomRef", "id token")  # what a cookie session lookup needs of a room
CURRENT = "v4"  # avatar routes live under v1 but answer with the current room object (D1)


def talk(versions=ALL, auth=PUBLIC, role: Role | None = None, feature=None, csrf=True):
    """The policy of a Talk route; token routes pre-check the ``talkRoomToken`` throttle."""
    return policy(
        auth=auth,
        versions=versions,
        feature=feature,
        csrf=csrf,
        throttle=(throttle.ROOM_TOKEN,) if role is not None else (),
        extra={"role": role},
    )


class TalkResource:
    """Shared plumbing of the conversation resources."""

    def __init__(self, platform, service):
        self.platform = platform
        self.service = service

    def room(self, req, token: str):
        """The room for this request, checked against the responder's declared role."""
        return access.authorize(self.platform, req, token, req.context.policy.extra["role"])

    def room_object(self, req, ctx, version: str | None = None) -> dict:
        view = self.service.view(ctx, base_url=self.platform.public_base(req))
        return self.service.serialize(view, version or req.context.api_version)

    def answer_room(self, req, resp, ctx) -> None:
        """Mutations: the room on v4, ``[]`` on v1–v3 (D1)."""
        if req.context.api_version == "v4":
            envelope.respond(req, resp, self.room_object(req, ctx))
        else:
            envelope.respond(req, resp, [])

    def answer_null(self, req, resp) -> None:
        envelope.respond(req, resp, None if req.context.api_version == "v4" else [])

    def talk_hash(self, resp) -> None:
        resp.set_header("X-Nextcloud-Talk-Hash", self.platform.registry.talk_hash)


class RoomsResource(TalkResource):
    """``GET /room`` (list) and ``POST /room`` (create)."""

    @talk(auth=USER)
    def on_get(self, req, resp):
        params = req.context.params
        params.integer("noStatusUpdate", 0)
        include_status = params.boolean("includeStatus", False)
        modified_since = params.integer("modifiedSince", 0, minimum=0)
        include_last = params.boolean("includeLastMessage", True)
        version = req.context.api_version
        now = self.service.now()  # taken before reading: clients send it back as modifiedSince
        base_url = self.platform.public_base(req)
        self.talk_hash(resp)
        resp.set_header("X-Nextcloud-Talk-Modified-Before", str(now))
        cached = version != "v1" and self.service.list_cache.max_bytes > 0
        if cached and self._from_cache(
            req, resp, version, include_last, base_url, modified_since, include_status
        ):
            return
        views = self.service.list_rooms(
            req.context.user, modified_since, include_status, v1=version == "v1", base_url=base_url
        )
        self._session_fields(req, views)
        data = [self.service.serializer.serialize(v, version, include_last) for v in views]
        envelope.respond(req, resp, data)

    def _from_cache(self, req, resp, version, include_last, base_url, modified_since, include_status) -> bool:
        """Answer from the encoded room list (v2–v4), unless the caller's cookie holds a Talk
        session in one of the rooms (its ``sessionId`` and ``lastPing`` are per request)."""
        fmt = req.context.fmt
        separator = formats.ITEM_SEPARATORS[fmt]
        entry = self.service.cached_room_list(
            req.context.user,
            (version, fmt, include_last, base_url),
            lambda view: self.service.serializer.serialize(view, version, include_last),
            lambda item: formats.serialize_item(item, fmt),
            separator,
            base_url,
        )
        chosen = range(len(entry.rooms))
        if modified_since:
            chosen = [
                i
                for i, (_id, _token, rtype, activity, attendee_activity) in enumerate(entry.rooms)
                if activity >= modified_since
                or attendee_activity >= modified_since
                or (include_status and rtype == RoomType.ONE_TO_ONE)
            ]
        caller_sessions = getattr(self.platform, "caller_sessions", None)
        if caller_sessions is not None and chosen and req.env.get("HTTP_COOKIE"):
            rooms = [RoomRef(entry.rooms[i][0], entry.rooms[i][1]) for i in chosen]
            if caller_sessions(req, rooms):
                return False
        if len(chosen) == len(entry.rooms):
            envelope.respond_items(req, resp, entry.blob, len(chosen))
        else:
            envelope.respond_items(req, resp, entry.select(chosen, separator), len(chosen))
        return True

    def _session_fields(self, req, views) -> None:
        caller_sessions = getattr(self.platform, "caller_sessions", None)
        if caller_sessions is not None and views:
            sessions = caller_sessions(req, [v.room for v in views])
            for view in views:
                session = sessions.get(view.room.id)
                if session is not None:
                    view.session_id, view.last_ping = session.session_id, session.last_ping

    @talk(auth=USER)
    def on_post(self, req, resp):
        params = req.context.params
        if params.raw("roomType") == "":
            raise BadRequest("type")  # NOTE: empty is not a type; Talk answers 400 {"error": "type"}
        room_type = params.integer("roomType", 2)
        create = CreateRequest(room_type=room_type)
        create.invite = params.string("invite", "")
        if room_type != 1:
            create.source = params.string("source", "")
            create.room_name = params.string("roomName", None)
            create.object_type = params.string("objectType", "")
            create.object_id = params.string("objectId", "")
            create.password = params.string("password", "")
            if self.service.feature("conversation-creation-all"):
                participants = params.array("participants", {})
                if isinstance(participants, list):
                    if participants:
                        raise InvalidParameter("participants")
                    participants = {}
                if sum(len(v) if isinstance(v, list) else 1 for v in participants.values()) > 1000:
                    raise InvalidParameter("participants")
                create.participants = participants
                create.read_only = params.integer("readOnly", None)
                create.listable = params.integer("listable", None)
                create.message_expiration = params.integer("messageExpiration", None)
                create.lobby_state = params.integer("lobbyState", None)
                create.lobby_timer = params.nullable_integer("lobbyTimer")
                create.sip_enabled = params.integer("sipEnabled", None)
                create.permissions = params.integer("permissions", None)
                create.recording_consent = params.integer("recordingConsent", None)
                create.mention_permissions = params.integer("mentionPermissions", None)
                create.description = params.string("description", None)
                create.emoji = params.string("emoji", None)
                create.avatar_color = params.string("avatarColor", None)
        else:
            participants = params.array("participants", {}) if not create.invite else {}
            create.participants = participants if isinstance(participants, dict) else {}
        status, room, attendee, partner, invalid = self.service.create_room(req.context.user, create)
        ctx = access.RoomContext(room=room, attendee=attendee, user=req.context.user)
        data = self.service.serialize(self.service.view(ctx, partner=partner), req.context.api_version)
        if status == 202:
            data["invalidParticipants"] = invalid
        envelope.respond(req, resp, data, status=status)


class NoteToSelfResource(TalkResource):
    @talk(versions=V4, auth=USER, feature="note-to-self")
    def on_get(self, req, resp):
        room, attendee = self.service.note_to_self(req.context.user)
        ctx = access.RoomContext(room=room, attendee=attendee, user=req.context.user)
        self.talk_hash(resp)
        envelope.respond(req, resp, self.room_object(req, ctx))


class ListedRoomsResource(TalkResource):
    @talk(versions=V3_V4, auth=USER, feature="listable-rooms")
    def on_get(self, req, resp):
        term = req.context.params.string("searchTerm", "")
        if len(term) > 255 or any(ord(c) < 32 for c in term):
            raise InvalidParameter("searchTerm")
        views = self.service.listed_rooms(req.context.user, term)
        version = req.context.api_version
        envelope.respond(req, resp, [self.service.serializer.serialize(v, version) for v in views])


class RoomResource(TalkResource):
    """``GET``/``PUT``/``DELETE /room/{token}``."""

    @talk(role=Role.NONE)
    def on_get(self, req, resp, token):
        ctx = self.room(req, token)
        self.talk_hash(resp)
        envelope.respond(req, resp, self.room_object(req, ctx))

    @talk(role=Role.MODERATOR)
    def on_put(self, req, resp, token):
        ctx = self.room(req, token)
        name = req.context.params.string("roomName", None, empty_is_absent=False)
        if name is None:
            raise InvalidParameter("roomName")
        self.service.rename(ctx, name)
        self.answer_room(req, resp, ctx)

    @talk(role=Role.MODERATOR)
    def on_delete(self, req, resp, token):
        ctx = self.room(req, token)
        self.service.delete_room(ctx)
        self.answer_null(req, resp)


class DescriptionResource(TalkResource):
    @talk(versions=V3_V4, role=Role.MODERATOR, feature="room-description")
    def on_put(self, req, resp, token):
        ctx = self.room(req, token)
        description = req.context.params.string("description", None, empty_is_absent=False)
        if description is None:
            raise InvalidParameter("description")
        self.service.set_description(ctx, description)
        self.answer_room(req, resp, ctx)


class PublicResource(TalkResource):
    @talk(auth=USER, role=Role.LOGGED_IN_MODERATOR)
    def on_post(self, req, resp, token):
        ctx = self.room(req, token)
        self.service.make_public(ctx, req.context.params.string("password", None))
        self.answer_room(req, resp, ctx)

    @talk(auth=USER, role=Role.LOGGED_IN_MODERATOR)
    def on_delete(self, req, resp, token):
        ctx = self.room(req, token)
        self.service.make_private(ctx)
        self.answer_room(req, resp, ctx)


class ReadOnlyResource(TalkResource):
    @talk(auth=USER, role=Role.MODERATOR, feature="read-only-rooms")
    def on_put(self, req, resp, token):
        ctx = self.room(req, token)
        self.service.set_read_only(ctx, req.context.params.integer("state", required=True))
        self.answer_room(req, resp, ctx)


class PasswordResource(TalkResource):
    @talk(role=Role.MODERATOR)
    def on_put(self, req, resp, token):
        ctx = self.room(req, token)
        password = req.context.params.string("password", None, empty_is_absent=False)
        if password is None:
            raise InvalidParameter("password")
        self.service.set_password(ctx, password)
        self.answer_room(req, resp, ctx)


class ListableResource(TalkResource):
    @talk(versions=V3_V4, auth=USER, role=Role.MODERATOR, feature="listable-rooms")
    def on_put(self, req, resp, token):
        ctx = self.room(req, token)
        self.service.set_listable(ctx, req.context.params.integer("scope", required=True))
        self.answer_room(req, resp, ctx)


class AttendeeFlagResource(TalkResource):
    """POST sets, DELETE clears one attendee flag (favourite, archive, important, sensitive)."""

    def __init__(self, platform, service, column: str):
        super().__init__(platform, service)
        self.column = column

    def _set(self, req, resp, token, value: bool):
        ctx = self.room(req, token)
        self.service.set_attendee_flag(ctx, self.column, value)
        self.answer_room(req, resp, ctx)


def flag_resource(column: str, versions, feature: str):
    """A resource class for one attendee flag with its versions and gate as data."""

    class FlagResource(AttendeeFlagResource):
        @talk(versions=versions, auth=USER, role=Role.LOGGED_IN_PARTICIPANT, feature=feature)
        def on_post(self, req, resp, token):
            self._set(req, resp, token, True)

        @talk(versions=versions, auth=USER, role=Role.LOGGED_IN_PARTICIPANT, feature=feature)
        def on_delete(self, req, resp, token):
            self._set(req, resp, token, False)

    FlagResource.__name__ = f"{column.title()}Resource"
    return FlagResource


class NotifyResource(TalkResource):
    @talk(auth=USER, role=Role.LOGGED_IN_PARTICIPANT, feature="notification-levels")
    def on_post(self, req, resp, token):
        ctx = self.room(req, token)
        self.service.set_notification_level(ctx, req.context.params.integer("level", required=True))
        self.answer_room(req, resp, ctx)


class NotifyCallsResource(TalkResource):
    @talk(versions=V4, auth=USER, role=Role.LOGGED_IN_PARTICIPANT, feature="notification-calls")
    def on_post(self, req, resp, token):
        ctx = self.room(req, token)
        self.service.set_call_notification_level(ctx, req.context.params.integer("level", required=True))
        self.answer_room(req, resp, ctx)


class LobbyResource(TalkResource):
    """``PUT …/webinar/lobby`` (and ``webinary/lobby`` below v4): the room in every version."""

    @talk(auth=USER, role=Role.MODERATOR, feature="webinary-lobby")
    def on_put(self, req, resp, token):
        ctx = self.room(req, token)
        params = req.context.params
        state = params.integer("state", required=True)
        try:
            timer = params.nullable_integer("timer")
        except InvalidParameter:
            raise BadRequest("value") from None
        self.service.set_lobby(ctx, state, timer)
        envelope.respond(req, resp, self.room_object(req, ctx))


class LegacyLobbyResource(LobbyResource):
    @talk(versions=V1_V3, auth=USER, role=Role.MODERATOR, feature="webinary-lobby")
    def on_put(self, req, resp, token):
        super().on_put(req, resp, token)


class DefaultPermissionsResource(TalkResource):
    @talk(versions=V4, role=Role.MODERATOR, feature="conversation-permissions")
    def on_put(self, req, resp, token, mode):
        if mode not in ("call", "default"):
            raise NotFound()
        ctx = self.room(req, token)
        permissions = req.context.params.integer("permissions", required=True)
        self.service.set_default_permissions(ctx, mode, permissions)
        self.answer_room(req, resp, ctx)


class MentionPermissionsResource(TalkResource):
    @talk(versions=V4, auth=USER, role=Role.MODERATOR, feature="mention-permissions")
    def on_put(self, req, resp, token):
        ctx = self.room(req, token)
        self.service.set_mention_permissions(
            ctx, req.context.params.integer("mentionPermissions", required=True)
        )
        self.answer_room(req, resp, ctx)


class MessageExpirationResource(TalkResource):
    @talk(versions=V4, role=Role.MODERATOR, feature="message-expiration")
    def on_post(self, req, resp, token):
        ctx = self.room(req, token)
        self.service.set_message_expiration(ctx, req.context.params.integer("seconds", required=True))
        self.answer_room(req, resp, ctx)


class RoomCapabilitiesResource(TalkResource):
    """``GET /room/{token}/capabilities``: the ``spreed`` capabilities that apply in this room.

    All rooms are local here, so this is this server's ``spreed`` payload for the caller, with
    ``X-Nextcloud-Talk-Hash`` (upstream sends ``X-Nextcloud-Talk-Proxy-Hash`` only for rooms
    hosted on another server)."""

    @talk(versions=V4, role=Role.PARTICIPANT)
    def on_get(self, req, resp, token):
        self.room(req, token)
        user = req.context.user
        registry = self.platform.registry
        if user is None:
            data = registry.spreed(False, False)
        else:
            data = registry.spreed(True, registry.can_create(accounts.user_groups(user)))
        self.talk_hash(resp)
        envelope.respond(req, resp, data)


# --- avatars (Talk API v1 only) ---------------------------------------------------------------


def avatar_error(message: str) -> OCSError:
    return OCSError(status=400, data={"message": message})


class AvatarResource(TalkResource):
    @talk(versions=V1, role=Role.MODERATOR, feature="avatar")
    def on_post(self, req, resp, token):
        ctx = self.room(req, token)
        if ctx.room.type in ONE_TO_ONE_TYPES:
            raise avatar_error("One-to-one rooms always need to show the other users avatar")
        upload = self._uploaded_file(req)
        if upload is None:
            raise avatar_error("No image file provided")
        try:
            content_type = avatars.validate_image(upload)
        except avatars.AvatarError as exc:
            raise avatar_error(str(exc)) from None
        self.service.set_avatar_image(ctx, content_type, upload)
        envelope.respond(req, resp, self.room_object(req, ctx, CURRENT))

    def _uploaded_file(self, req) -> bytes | None:
        content_type = req.content_type or ""
        body = getattr(req.context, "body", b"")
        if not content_type.lower().startswith("multipart/form-data") or not body:
            return None
        handler = falcon.media.MultipartFormHandler()
        try:
            form = handler.deserialize(io.BytesIO(body), content_type, len(body))
            for part in form:
                if part.name == "file":
                    return part.stream.read()
        except (falcon.HTTPError, ValueError):
            return None
        return None

    @talk(versions=V1, role=Role.MODERATOR, feature="avatar")
    def on_delete(self, req, resp, token):
        ctx = self.room(req, token)
        if ctx.room.type in ONE_TO_ONE_TYPES:
            raise avatar_error("One-to-one rooms always need to show the other users avatar")
        self.service.remove_avatar(ctx)
        envelope.respond(req, resp, self.room_object(req, ctx, CURRENT))

    @policy(auth=PUBLIC, versions=V1, feature="avatar", csrf=False, extra={"role": None})
    def on_get(self, req, resp, token):
        send_avatar(self, req, resp, token, req.context.params.boolean("darkTheme", False))


def send_avatar(resource: TalkResource, req, resp, token: str, dark: bool) -> None:
    """Avatar bytes for participants and for logged-in users who may list the room; else 404."""
    ctx = access.resolve(resource.platform, req, token)
    if ctx is None:
        raise NotFound()
    view = resource.service.view(ctx)
    if view.kind not in (serializers.PARTICIPANT, serializers.LOBBY, serializers.LISTABLE):
        raise NotFound()
    content_type, data = avatars.render(ctx.room, view, dark)
    resp.status = falcon.HTTP_200
    resp.content_type = content_type
    resp.data = data
    resp.set_header("Cache-Control", "private, max-age=86400, immutable")
    if content_type == avatars.SVG:
        resp.set_header("Content-Security-Policy", "default-src 'none'")


class DarkAvatarResource(TalkResource):
    @policy(auth=PUBLIC, versions=V1, feature="avatar", csrf=False, extra={"role": None})
    def on_get(self, req, resp, token):
        send_avatar(self, req, resp, token, True)


class EmojiAvatarResource(TalkResource):
    @talk(versions=V1, role=Role.MODERATOR, feature="avatar")
    def on_post(self, req, resp, token):
        ctx = self.room(req, token)
        if ctx.room.type in ONE_TO_ONE_TYPES:
            raise avatar_error("One-to-one rooms always need to show the other users avatar")
        params = req.context.params
        emoji = params.string("emoji", "", empty_is_absent=False)
        color = params.raw("color")
        if not is_single_emoji(emoji):
            raise avatar_error("Invalid emoji character")
        if color is not None and (not isinstance(color, str) or not COLOR.match(color)):
            raise avatar_error("Invalid background color")
        self.service.set_avatar_emoji(ctx, emoji, color)
        envelope.respond(req, resp, self.room_object(req, ctx, CURRENT))
