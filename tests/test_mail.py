"""E-mail invitations: sent through SMTP when configured, only logged when off (default)."""

from __future__ import annotations

import pytest

from tests.smtp_sink import SmtpSink
from tests.talk import api, create


@pytest.fixture
def sink():
    server = SmtpSink()
    yield server
    server.close()


def test_invitation_mail_is_sent_when_enabled(make_client, sink):
    client = make_client(
        {
            "mail": {
                "enabled": True,
                "smtp_host": "127.0.0.1",
                "smtp_port": sink.port,
                "from_address": "talk@example.org",
                "public_url": "https://cloud.example.org/",
            }
        }
    )
    client.add_user("alice", "pw", display_name="Alice A")
    token = create(client, "alice", roomName="Planning")["token"]
    r = client.ocs(
        "POST",
        api() + f"/room/{token}/participants",
        user="alice",
        form={"newParticipant": "guest@example.net", "source": "emails"},
    )
    assert client.data(r) == {"type": 3}
    assert len(sink.messages) == 1
    message = sink.messages[0]
    assert message["to"] == ["guest@example.net"] and message["from"] == "<talk@example.org>"
    text = message["data"].decode()
    assert "Subject: Alice A invited you to a conversation" in text
    assert f"https://cloud.example.org/call/{token}" in text and '"Planning"' in text
    client.ocs("POST", api() + f"/room/{token}/participants/resend-invitations", user="alice")
    assert len(sink.messages) == 2
    create(client, "alice", roomName="Kickoff", participants={"emails": ["x@example.net", "y@example.net"]})
    assert [m["to"] for m in sink.messages[2:]] == [["x@example.net"], ["y@example.net"]]


def test_mail_is_only_logged_by_default(make_client, sink, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="ocs.mail")
    client = make_client({"mail": {"smtp_host": "127.0.0.1", "smtp_port": sink.port}})
    client.add_user("alice", "pw")
    token = create(client, "alice", roomName="R")["token"]
    client.ocs(
        "POST",
        api() + f"/room/{token}/participants",
        user="alice",
        form={"newParticipant": "guest@example.net", "source": "emails"},
    )
    assert sink.messages == []
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "not sent (mail.enabled is false)" in logged
    assert "guest@example.net" not in logged and "g***@example.net" in logged


def test_unreachable_smtp_does_not_fail_the_request(make_client):
    client = make_client({"mail": {"enabled": True, "smtp_host": "127.0.0.1", "smtp_port": 1, "timeout": 2}})
    client.add_user("alice", "pw")
    token = create(client, "alice", roomName="R")["token"]
    r = client.ocs(
        "POST",
        api() + f"/room/{token}/participants",
        user="alice",
        form={"newParticipant": "guest@example.net", "source": "emails"},
    )
    assert r.status_int == 200
