"""E-mail notifications (DESIGN §8, `settings.smtp`): the same message as a webhook's, by mail.

A person with an `email` and no `webhook` in crew.yaml, on a project with `settings.smtp`, gets
their notifications by e-mail. The delivery goes through the board's outbox like a webhook's
(durable, retried, its outcome on the card): its address is a `mailto:` URL that carries the SMTP
server's settings (`mail_url`), never a secret: the user name and password are read from the
environment variables the settings name, in the process that sends it. `send` speaks SMTP with
the standard library's `smtplib` (STARTTLS when the settings say so).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from crew.people.tokens import LINK_SECONDS

if TYPE_CHECKING:
    from crew.spec.models import Smtp

__all__ = ["mail_url", "send"]


def mail_url(smtp: Smtp, email: str) -> str:
    """The outbox address of an e-mail to `email` through `smtp`."""
    query: dict[str, str] = {
        "host": smtp.host,
        "port": str(smtp.port),
        "from": smtp.sender,
        "starttls": "1" if smtp.starttls else "0",
    }
    if smtp.username_env:
        query["user_env"] = smtp.username_env
    if smtp.password_env:
        query["password_env"] = smtp.password_env
    return f"mailto:{quote(email, safe='@')}?{urlencode(query)}"


def _subject(payload: Mapping[str, Any]) -> str:
    return (
        f"crew: {payload.get('playbook')} / {payload.get('step')} waits on you "
        f"({payload.get('kind')})"
    )


def _body(payload: Mapping[str, Any]) -> str:
    lines = [str(payload.get("text") or "")]
    if payload.get("link"):
        days = f"{LINK_SECONDS / 86400:g} days"  # how long crew.people.tokens lets it open
        lines += ["", f"Open it (once, for {days}): {payload['link']}"]
    if payload.get("due"):
        lines += ["", f"Due: {payload['due']}"]
    lines += ["", f"Or answer in a terminal: {payload.get('answer')}"]
    return "\n".join(lines) + "\n"


def send(url: str, payload: Mapping[str, Any], *, timeout: float) -> tuple[int | None, str | None]:
    """Send `payload` (a webhook message) by e-mail to the `mailto:` address `url`, once; never
    raise (retrying is the outbox's job). `(250, None)` when the server took it, else the SMTP
    code (None: no answer) and the error."""
    import smtplib
    from email.message import EmailMessage

    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    message = EmailMessage()
    message["From"] = query.get("from", "crew")
    message["To"] = parts.path
    message["Subject"] = _subject(payload)
    message.set_content(_body(payload))
    try:
        with smtplib.SMTP(query["host"], int(query.get("port", "587")), timeout=timeout) as smtp:
            if query.get("starttls") == "1":
                smtp.starttls()
            user = os.environ.get(query.get("user_env", ""), "") if query.get("user_env") else ""
            password = os.environ.get(query.get("password_env", ""), "")
            if user:
                smtp.login(user, password)
            smtp.send_message(message)
    except smtplib.SMTPResponseException as error:
        return int(error.smtp_code), f"SMTP {error.smtp_code}"
    except (smtplib.SMTPException, OSError, KeyError, ValueError) as error:
        return None, f"SMTP: {error or type(error).__name__}"
    return 250, None
