"""Wiring of the participants feature: migrations, routes, capabilities, hooks, session lookup."""

from __future__ import annotations

from conversations.routes import PREFIX
from participants import resources as r
from participants.migrations import MIGRATIONS
from participants.service import ParticipantService

FEATURES = ("guest-display-names", "session-state", "promote-demote-owner")

__all__ = ["MIGRATIONS", "register", "routes"]


def routes(platform, service, participants) -> list[tuple[str, object]]:
    def made(cls):
        return cls(platform, service, participants)

    return [
        ("/room/{token}/participants", made(r.ParticipantsResource)),
        ("/room/{token}/participants/guests", made(r.GuestParticipantsResource)),
        ("/room/{token}/attendees", made(r.AttendeesResource)),
        ("/room/{token}/participants/self", made(r.SelfResource)),
        ("/room/{token}/participants/active", made(r.ActiveResource)),
        ("/room/{token}/participants/state", made(r.SessionStateResource)),
        ("/room/{token}/participants/resend-invitations", made(r.ResendInvitationsResource)),
        ("/room/{token}/moderators", made(r.ModeratorsResource)),
        ("/room/{token}/attendees/permissions", made(r.AttendeePermissionsResource)),
        ("/room/{token}/attendees/permissions/all", made(r.AllAttendeePermissionsResource)),
        ("/guest/{token}/name", made(r.GuestNameResource)),
        ("/signaling/settings", made(r.SignalingSettingsResource)),
    ]


def register(app, platform) -> ParticipantService:
    """Needs the conversations feature wired first (it owns rooms and attendees)."""
    platform.registry.provide(*FEATURES)
    participants = ParticipantService(platform, platform.conversations)
    for path, resource in routes(platform, platform.conversations, participants):
        app.add_route(PREFIX + path, resource)
    platform.session_lookup = participants.session_lookup
    platform.caller_sessions = participants.caller_sessions
    platform.live_sessions = participants.live_sessions
    platform.hooks.register("member_added", participants.on_member_added)
    platform.hooks.register("member_removed", participants.on_member_removed)
    platform.hooks.register("group_deleted", participants.on_group_deleted)
    platform.hooks.register("user_deleted", participants.on_user_deleted)
    platform.participants = participants
    return participants
