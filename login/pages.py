"""The login pages (``login.md`` §5): plain server-rendered HTML, every value escaped, no script."""

from __future__ import annotations

from html import escape
from pathlib import Path

CSS = (Path(__file__).parent / "static" / "login.css").read_bytes()

SECURITY_WARNING = (
    "If you are not trying to set up a new device or app, someone is trying to trick you into granting "
    "them access to your data. In this case do not proceed and instead contact your system administrator."
)


def _layout(title: str, body: str, css_url: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{escape(title)}</title>\n"
        f'<link rel="stylesheet" href="{escape(css_url)}">\n'
        "</head>\n<body>\n<main>\n"
        f"{body}\n"
        "</main>\n</body>\n</html>\n"
    )


def _brand(instance: str) -> str:
    return f'<div class="brand"><span class="dot" aria-hidden="true"></span>{escape(instance)}</div>'


def login_form(*, css_url, action, instance, client, user, state, csrf, error=None) -> str:
    """R4: "Connect to your account" with the login form (L6)."""
    error_html = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    body = f"""{_brand(instance)}
<h1>Connect to your account</h1>
<p>Please log in before granting <span class="client">{escape(client)}</span> access to your {escape(instance)} account.</p>
<div class="warning" role="note"><strong>Security warning</strong>{escape(SECURITY_WARNING)}</div>
{error_html}
<form method="post" action="{escape(action)}">
<label for="user">Login or email</label>
<input type="text" id="user" name="user" value="{escape(user)}" autocomplete="username" autocapitalize="none" spellcheck="false" required>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<input type="hidden" name="stateToken" value="{escape(state)}">
<input type="hidden" name="requesttoken" value="{escape(csrf)}">
<button type="submit">Log in</button>
</form>"""
    return _layout("Connect to your account", body, css_url)


def grant(*, css_url, action, instance, client, display_name, user_id, state, csrf) -> str:
    """R6/R10: "Account access"."""
    body = f"""{_brand(instance)}
<h1>Account access</h1>
<p class="who">Currently logged in as {escape(display_name)} ({escape(user_id)}).</p>
<p>You are about to grant <span class="client">{escape(client)}</span> access to your {escape(instance)} account.</p>
<div class="warning" role="note"><strong>Security warning</strong>{escape(SECURITY_WARNING)}</div>
<form method="post" action="{escape(action)}">
<input type="hidden" name="stateToken" value="{escape(state)}">
<input type="hidden" name="requesttoken" value="{escape(csrf)}">
<button type="submit">Grant access</button>
</form>"""
    return _layout("Account access", body, css_url)


def done(*, css_url, instance) -> str:
    body = f"""{_brand(instance)}
<h1>Account connected</h1>
<p>Your client should now be connected! You can close this window.</p>"""
    return _layout("Account connected", body, css_url)


def error(*, css_url, instance, message, heading="Access Forbidden") -> str:
    body = f"""{_brand(instance)}
<h1>{escape(heading)}</h1>
<p class="error" role="alert">{escape(message)}</p>
<p class="muted">Start again from your app to connect it.</p>"""
    return _layout(heading, body, css_url)
