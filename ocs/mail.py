"""Outgoing mail for e-mail invitations: SMTP when ``mail.enabled``, otherwise a log line."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage

log = logging.getLogger("ocs.mail")


def mask_address(address: str) -> str:
    """``a***@example.org``: enough to debug delivery, not the whole address."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


class Mailer:
    """Sends mail through the configured SMTP server; never raises into a request."""

    def __init__(self, config):
        self.section = config["mail"]
        self.enabled = self.section["enabled"]

    def send(self, to: str, subject: str, body: str) -> bool:
        if not self.enabled:
            log.info("mail to %s not sent (mail.enabled is false): %s", mask_address(to), subject)
            return False
        section = self.section
        message = EmailMessage()
        message["From"] = section["from_address"]
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        try:
            smtp_class = smtplib.SMTP_SSL if section["smtp_ssl"] else smtplib.SMTP
            with smtp_class(section["smtp_host"], section["smtp_port"], timeout=section["timeout"]) as smtp:
                if section["smtp_starttls"] and not section["smtp_ssl"]:
                    smtp.starttls(context=ssl.create_default_context())
                if section["smtp_username"]:
                    smtp.login(section["smtp_username"], section["smtp_password"])
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("mail to %s failed: %s", mask_address(to), exc.__class__.__name__)
            return False
        log.info("mail sent to %s: %s", mask_address(to), subject)
        return True

    def send_invitation(self, address: str, room_name: str, token: str, inviter: str) -> bool:
        """The invitation to a conversation, with its link when ``mail.public_url`` is set."""
        base = self.section["public_url"].rstrip("/")
        link = f"{base}/call/{token}" if base else f"conversation token {token}"
        subject = f"{inviter} invited you to a conversation"
        body = f'{inviter} invited you to the conversation "{room_name}".\n\nJoin it here: {link}\n'
        return self.send(address, subject, body)
