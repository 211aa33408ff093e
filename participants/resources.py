"""Participant, session, guest-name and signaling-settings resources (``conversations.md`` §1.3)."""

from __future__ import annotations

from conversations import access, rules
from conversations.access import Role
from conversations.constants import ParticipantType
from conversations.resources import ALL, V1, V1_V3, V3_V4, V4, TalkResource, talk
from ocs import envelope, throttle
from ocs.app import PUBLIC, USER, policy
from ocs.errors import BadRequest, Forbidden, InvalidParameter, NotFound, OCSError, PreconditionFailed
from participants.models import TalkSession
from participants.serializers import ParticipantSerializer


class ParticipantResource(TalkResource):
    """Shared plumbing: the participant service and serializer."""

    def __init__(self, platform, service, participants):
        super().__init__(platform, service)
        self.participants = participants
        self.serializer = ParticipantSerializer(platform, service.serializer)

    def participant_list(self, req, ctx, rows):
        version = req.context.api_version
        return [
            self.serializer.serialize(ctx.room, attendee, sessions, version, ctx.attendee)
            for attendee, sessions in rows
            if self.serializer.listable(attendee, version)
        ]


class ParticipantsResource(ParticipantResource):
    """``GET`` list, ``POST`` add, and the v1–v3 ``DELETE`` by user id."""

    @talk(role=Role.PARTICIPANT)
    def on_get(self, req, resp, token):
        ctx = self.room(req, token)
        serializer = self.service.serializer
        permissions = serializer.permissions_of(ctx.room, ctx.attendee)
        if rules.lobby_blocks(ctx.room, ctx.attendee, permissions, serializer.lobby_on()):
            raise PreconditionFailed()
        if ctx.attendee.participant_type == ParticipantType.GUEST:
            raise Forbidden(None)
        rows = self.participants.participants(ctx)
        envelope.respond(req, resp, self.participant_list(req, ctx, rows))

    @talk(auth=USER, role=Role.LOGGED_IN_MODERATOR)
    def on_post(self, req, resp, token):
        ctx = self.room(req, token)
        params = req.context.params
        new = params.string("newParticipant", required=True)
        # NOTE: an empty source is not "absent" here: Talk answers 400 {"error": "source"}
        source = params.string("source", "users", empty_is_absent=False)
        envelope.respond(req, resp, self.participants.add_participant(ctx, new, source))

    @talk(versions=V1_V3, role=Role.PARTICIPANT)
    def on_delete(self, req, resp, token):
        ctx = self.room(req, token)
        uid = req.context.params.string("participant", required=True)
        self.participants.remove_by_user_id(ctx, uid)
        envelope.respond(req, resp, [])


class GuestParticipantsResource(ParticipantResource):
    @talk(versions=V1_V3, role=Role.MODERATOR)
    def on_delete(self, req, resp, token):
        ctx = self.room(req, token)
        session_id = req.context.params.string("participant", required=True)
        self.participants.remove_guest_by_session(ctx, session_id)
        envelope.respond(req, resp, [])


class AttendeesResource(ParticipantResource):
    @talk(versions=V3_V4, role=Role.MODERATOR)
    def on_delete(self, req, resp, token):
        ctx = self.room(req, token)
        attendee_id = req.context.params.integer("attendeeId", required=True, minimum=0)
        self.participants.remove_attendee(ctx, attendee_id)
        self.answer_null(req, resp)


class SelfResource(ParticipantResource):
    @talk(auth=USER, role=Role.LOGGED_IN_PARTICIPANT)
    def on_delete(self, req, resp, token):
        ctx = self.room(req, token)
        self.participants.remove_self(ctx)
        self.answer_null(req, resp)


class ActiveResource(ParticipantResource):
    """Join (``POST``) and leave (``DELETE``) a Talk session."""

    @policy(
        auth=PUBLIC,
        versions=ALL,
        throttle=(throttle.ROOM_TOKEN, throttle.ROOM_PASSWORD),
        extra={"role": None},
    )
    def on_post(self, req, resp, token):
        params = req.context.params
        password = params.string("password", None)
        force = params.boolean("force", True)
        req.context.talk_v4 = req.context.api_version == "v4"
        ctx = self.participants.join(req, resp, token, password, force)
        envelope.respond(req, resp, self.room_object(req, ctx))

    @policy(auth=PUBLIC, versions=ALL, extra={"role": None})
    def on_delete(self, req, resp, token):
        self.participants.leave_session(req, token)
        self.answer_null(req, resp)


class SessionStateResource(ParticipantResource):
    @talk(versions=V4, role=Role.NONE, feature="session-state")
    def on_put(self, req, resp, token):
        ctx = self.room(req, token)
        if ctx.session is None:
            raise NotFound(None)
        state = req.context.params.integer("state", required=True)
        self.participants.set_session_state(ctx, state)
        envelope.respond(req, resp, self.room_object(req, ctx))


class ResendInvitationsResource(ParticipantResource):
    @talk(versions=V3_V4, auth=USER, role=Role.MODERATOR)
    def on_post(self, req, resp, token):
        ctx = self.room(req, token)
        attendee_id = req.context.params.nullable_integer("attendeeId", minimum=0)
        self.participants.resend_invitations(ctx, attendee_id)
        self.answer_null(req, resp)


class ModeratorsResource(ParticipantResource):
    """Promote (``POST``) and demote (``DELETE``)."""

    def _change(self, req, resp, token, promote: bool):
        ctx = self.room(req, token)
        params = req.context.params
        version = req.context.api_version
        if version in ("v3", "v4"):
            target = self.participants.find_target(
                ctx, attendee_id=params.integer("attendeeId", required=True, minimum=0)
            )
        else:
            uid = params.string("participant", None)
            session_id = params.string("sessionId", None)
            if uid is None and session_id is None:
                raise InvalidParameter("participant")
            target = self.participants.find_target(ctx, uid=uid, session_id=session_id)
        requested = None
        if version == "v4" and self.platform.registry.enabled("promote-demote-owner"):
            requested = params.nullable_integer("participantType")
        self.participants.change_type(ctx, target, promote, requested)
        self.answer_null(req, resp)

    @talk(role=Role.MODERATOR)
    def on_post(self, req, resp, token):
        self._change(req, resp, token, True)

    @talk(role=Role.MODERATOR)
    def on_delete(self, req, resp, token):
        self._change(req, resp, token, False)


class AttendeePermissionsResource(ParticipantResource):
    @talk(versions=V4, role=Role.MODERATOR, feature="conversation-permissions")
    def on_put(self, req, resp, token):
        ctx = self.room(req, token)
        params = req.context.params
        attendee_id = params.integer("attendeeId", required=True, minimum=0)
        method = params.string("method", required=True)
        permissions = params.integer("permissions", required=True)
        target = self.participants.set_permissions(ctx, attendee_id, method, permissions)
        sessions = list(
            TalkSession.select().where(TalkSession.attendee == target.id).order_by(TalkSession.id)
        )
        envelope.respond(
            req, resp, [self.serializer.serialize(ctx.room, target, sessions, "v4", ctx.attendee)]
        )


class AllAttendeePermissionsResource(ParticipantResource):
    @talk(versions=V4, role=Role.MODERATOR, feature="conversation-permissions")
    def on_put(self, req, resp, token):
        self.room(req, token)
        raise BadRequest(None)  # call permissions were removed in Talk 20: always 400 null


class GuestNameResource(ParticipantResource):
    """``POST /api/v1/guest/{token}/name``: current payloads (``null`` / ``{"error": …}``)."""

    @talk(versions=V1, role=Role.PARTICIPANT, feature="guest-display-names")
    def on_post(self, req, resp, token):
        ctx = self.room(req, token)
        req.context.talk_v4 = True
        name = req.context.params.string("displayName", None, empty_is_absent=False)
        if name is None:
            raise InvalidParameter("displayName")
        self.participants.set_guest_name(ctx, name)
        envelope.respond(req, resp, None)


class SignalingSettingsResource(ParticipantResource):
    """Talk's internal-signaling answer (D43), so that Talk iOS and Android start."""

    @policy(auth=PUBLIC, versions=V1_V3, throttle=(throttle.ROOM_TOKEN,), extra={"role": None})
    def on_get(self, req, resp):
        user = req.context.user
        token = req.context.params.string("token", None)
        if token is not None:
            ctx = access.resolve(self.platform, req, token) if access.TOKEN_SYNTAX.match(token) else None
            if ctx is None or (ctx.attendee is None and ctx.session is None):
                self.platform.throttler.register(req.context.client, throttle.ROOM_TOKEN, {"token": token})
                raise OCSError(status=404, data=None)
        elif user is None:
            raise OCSError(status=404, data=None)
        talk = self.platform.config["talk"]
        envelope.respond(
            req,
            resp,
            {
                "signalingMode": "internal",
                "userId": user.uid if user is not None else None,
                "hideWarning": talk["hide_signaling_warning"],
                "server": "",
                "federation": None,
                "stunservers": [{"urls": [f"stun:{server}"]} for server in talk["stun_servers"]],
                "turnservers": [],
                "sipDialinInfo": "",
            },
        )
