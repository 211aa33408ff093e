"""Chat and reaction resources under ``/api/v1`` (C1): parse, check in Talk's order, call the
service, respond (``chat.md`` §1.2)."""

from __future__ import annotations

from chat.constants import (
    CONTEXT_LIMIT_DEFAULT,
    CONTEXT_LIMIT_MAX,
    HISTORY_LIMIT_DEFAULT,
    HISTORY_LIMIT_MAX,
    MENTION_LIMIT_DEFAULT,
    POLL_TIMEOUT_MAX,
)
from conversations import access, rules
from conversations.access import Role
from conversations.constants import ActorType, Permission
from ocs import envelope, throttle
from ocs.app import PUBLIC, USER, policy
from ocs.errors import BadRequest, Forbidden, InvalidParameter, PreconditionFailed

V1 = ("v1",)


def chat(
    feature: str,
    auth=PUBLIC,
    role: Role = Role.PARTICIPANT,
    *,
    user_only=False,
    writable=False,
    lobby=True,
    bit: int = 0,
    moderator=False,
):
    """The policy of a chat route: data the permission matrix reads, checked in Talk's order
    (participant 404 → moderator 403 → read-only 403 → lobby 412 → permission bit 403)."""
    return policy(
        auth=auth,
        versions=V1,
        feature=feature,
        throttle=(throttle.ROOM_TOKEN,),
        extra={
            "role": role,
            "user_only": user_only,
            "writable": writable,
            "lobby": lobby,
            "bit": bit,
            "moderator": moderator,
            "error_keys": True,
        },
    )


def clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


class ChatResourceBase:
    def __init__(self, platform, service):
        self.platform = platform
        self.service = service

    def room(self, req, token: str):
        rule = req.context.policy.extra
        ctx = access.authorize(self.platform, req, token, rule["role"])
        attendee = ctx.attendee
        if rule["user_only"] and attendee.actor_type != ActorType.USERS:
            raise access.not_found(self.platform, req, token)  # guests are "not found" (AP)
        if rule["moderator"] and not ctx.is_moderator:
            raise Forbidden(None)
        room = ctx.room
        if rule["writable"] and room.read_only == 1:
            raise Forbidden()
        serializer = self.service.conversations.serializer
        permissions = serializer.permissions_of(room, attendee)
        if rule["lobby"] and rules.lobby_blocks(room, attendee, permissions, serializer.lobby_on()):
            raise PreconditionFailed()
        if rule["bit"] and not permissions & rule["bit"]:
            raise Forbidden()
        return ctx

    def base_url(self, req) -> str:
        return self.platform.public_base(req)

    def common_read_header(self, resp, ctx) -> None:
        resp.set_header("X-Chat-Last-Common-Read", str(self.service.common_read(ctx.room.id)))


def _int(params, name, default, **kwargs):
    """Parameter type errors on chat routes answer 400 ``[]`` (chat.md §10)."""
    try:
        return params.integer(name, default, **kwargs)
    except InvalidParameter:
        raise BadRequest() from None


def _text(params, name, default="", required=False):
    try:
        return params.string(name, default, required=required, empty_is_absent=False)
    except InvalidParameter:
        raise BadRequest() from None


class ChatResource(ChatResourceBase):
    """``GET`` (history, polling), ``POST`` (send) and ``DELETE`` (clear) ``/chat/{token}``."""

    @chat("chat-v2")
    def on_get(self, req, resp, token):
        params = req.context.params
        if "lookIntoFuture" not in params:
            raise BadRequest()
        future = _int(params, "lookIntoFuture", 0) == 1
        limit = clamp(_int(params, "limit", HISTORY_LIMIT_DEFAULT), 1, HISTORY_LIMIT_MAX)
        last_known = _int(params, "lastKnownMessageId", 0)
        common_seen = _int(params, "lastCommonReadId", 0)
        timeout = clamp(_int(params, "timeout", POLL_TIMEOUT_MAX), 0, POLL_TIMEOUT_MAX)
        set_marker = _int(params, "setReadMarker", 1) == 1
        include = _int(params, "includeLastKnown", 0) == 1
        _int(params, "noStatusUpdate", 0)
        _int(params, "markNotificationsAsRead", 1)
        ctx = self.room(req, token)
        rows = self.service.receive(
            ctx,
            future=future,
            last_known=last_known,
            include_last_known=include,
            limit=limit,
            timeout=timeout,
            set_read_marker=set_marker,
        )
        if rows:
            resp.set_header("X-Chat-Last-Given", str(rows[-1].id))
            self.common_read_header(resp, ctx)
            envelope.respond(req, resp, self.service.render(ctx, rows, self.base_url(req)))
            return
        common = self.service.common_read(ctx.room.id)
        if common_seen > 0 and common_seen != common:
            resp.set_header("X-Chat-Last-Common-Read", str(common))
            envelope.respond(req, resp, [])
            return
        not_modified(req, resp)

    @chat("chat-v2", writable=True, bit=Permission.CHAT)
    def on_post(self, req, resp, token):
        params = req.context.params
        if "message" not in params:
            raise BadRequest()
        text = _text(params, "message")
        name = _text(params, "actorDisplayName")
        reference = _text(params, "referenceId")
        reply_to = _int(params, "replyTo", 0)
        try:
            silent = params.boolean("silent", False)
        except InvalidParameter:
            raise BadRequest() from None
        ctx = self.room(req, token)
        row, _parent = self.service.send(
            ctx,
            text,
            display_name=name,
            reference_id=reference,
            reply_to=reply_to,
            silent=silent,
            client=req.context.client,
        )
        self.common_read_header(resp, ctx)
        envelope.respond(req, resp, self.service.render_one(ctx, row, self.base_url(req)), status=201)

    @chat(
        "clear-history",
        auth=USER,
        role=Role.LOGGED_IN_PARTICIPANT,
        writable=True,
        lobby=False,
        moderator=True,
    )
    def on_delete(self, req, resp, token):
        ctx = self.room(req, token)
        row = self.service.clear_history(ctx)
        self.common_read_header(resp, ctx)
        envelope.respond(req, resp, self.service.render_one(ctx, row, self.base_url(req)))


def not_modified(req, resp) -> None:
    """No new messages: an empty 304 on OCS v2, statuscode 304 with ``null`` on v1 (§4.4)."""
    envelope.not_modified(req, resp, None)


class MessageResource(ChatResourceBase):
    """``PUT`` (edit) and ``DELETE`` (delete) ``/chat/{token}/{messageId}``."""

    @chat("edit-messages", user_only=True, writable=True, bit=Permission.CHAT)
    def on_put(self, req, resp, token, messageId):  # noqa: N803 - Falcon passes the route field name
        params = req.context.params
        if "message" not in params:
            raise BadRequest()
        text = _text(params, "message")
        ctx = self.room(req, token)
        row = self.service.edit(ctx, messageId, text)
        self.common_read_header(resp, ctx)
        envelope.respond(req, resp, self.service.render_one(ctx, row, self.base_url(req)))

    @chat("delete-messages", user_only=True, writable=True, bit=Permission.CHAT)
    def on_delete(self, req, resp, token, messageId):  # noqa: N803
        ctx = self.room(req, token)
        row = self.service.delete(ctx, messageId)
        self.common_read_header(resp, ctx)
        envelope.respond(req, resp, self.service.render_one(ctx, row, self.base_url(req)))


class ContextResource(ChatResourceBase):
    """``GET /chat/{token}/{messageId}/context``."""

    @chat("chat-get-context")
    def on_get(self, req, resp, token, messageId):  # noqa: N803
        limit = clamp(_int(req.context.params, "limit", CONTEXT_LIMIT_DEFAULT), 1, CONTEXT_LIMIT_MAX)
        ctx = self.room(req, token)
        rows = self.service.context(ctx, messageId, limit)
        if not rows:
            not_modified(req, resp)
            return
        resp.set_header("X-Chat-Last-Given", str(rows[-1].id))
        self.common_read_header(resp, ctx)
        envelope.respond(req, resp, self.service.render(ctx, rows, self.base_url(req)))


class ReadMarkerResource(ChatResourceBase):
    """``POST`` (set) and ``DELETE`` (mark unread) ``/chat/{token}/read``."""

    @chat("chat-read-marker", user_only=True, lobby=False)
    def on_post(self, req, resp, token):
        params = req.context.params
        value = None
        if params.raw("lastReadMessage") is not None:
            value = _int(params, "lastReadMessage", None)
        ctx = self.room(req, token)
        self.service.set_read_marker(ctx, value)
        self.answer_room(req, resp, ctx)

    @chat("chat-unread", user_only=True, lobby=False)
    def on_delete(self, req, resp, token):
        ctx = self.room(req, token)
        self.service.mark_unread(ctx)
        self.answer_room(req, resp, ctx)

    def answer_room(self, req, resp, ctx) -> None:
        conversations = self.service.conversations
        view = conversations.view(ctx, base_url=self.base_url(req))
        self.common_read_header(resp, ctx)
        envelope.respond(req, resp, conversations.serialize(view, "v4"))


class MentionsResource(ChatResourceBase):
    """``GET /chat/{token}/mentions``."""

    @chat("chat-v2", writable=True, bit=Permission.CHAT)
    def on_get(self, req, resp, token):
        params = req.context.params
        if "search" not in params:
            raise BadRequest()
        search = _text(params, "search")
        limit = clamp(_int(params, "limit", MENTION_LIMIT_DEFAULT), 1, 200)
        try:
            params.boolean("includeStatus", False)
        except InvalidParameter:
            raise BadRequest() from None
        ctx = self.room(req, token)
        envelope.respond(req, resp, self.service.suggestions(ctx, search, limit))


class ReactionResource(ChatResourceBase):
    """``GET``, ``POST`` and ``DELETE /reaction/{token}/{messageId}``."""

    @chat("reactions")
    def on_get(self, req, resp, token, messageId):  # noqa: N803
        emoji = _text(req.context.params, "reaction", None)
        ctx = self.room(req, token)
        envelope.respond(req, resp, self.service.reactions(ctx, messageId, emoji or None))

    @chat("reactions", writable=True, bit=Permission.REACT)
    def on_post(self, req, resp, token, messageId):  # noqa: N803
        emoji = self._emoji(req)
        ctx = self.room(req, token)
        status = self.service.react(ctx, messageId, emoji)
        envelope.respond(req, resp, self.service.reactions(ctx, messageId), status=status)

    @chat("reactions", writable=True, bit=Permission.REACT)
    def on_delete(self, req, resp, token, messageId):  # noqa: N803
        emoji = self._emoji(req)
        ctx = self.room(req, token)
        self.service.unreact(ctx, messageId, emoji)
        envelope.respond(req, resp, self.service.reactions(ctx, messageId))

    @staticmethod
    def _emoji(req) -> str:
        params = req.context.params
        if "reaction" not in params:
            raise BadRequest()
        return _text(params, "reaction")
