"""The texts of the account e-mails: an invitation to an event, a password reset link."""

from __future__ import annotations

from eventport.notify.email import send_mail

ROLE_WORDS = {
    "owner": "an owner (everything, including the team)",
    "organizer": "an organizer (settings, program, exports, backups)",
    "coorganizer": "a co-organizer (program and exports)",
}


def send_invitation(to: str, event_name: str, role: str, inviter: str, link: str) -> bool:
    body = (
        f"{inviter} invited you to “{event_name}” on Eventport as "
        f"{ROLE_WORDS.get(role, role)}.\n\n"
        f"Accept (and choose a password if you are new here):\n{link}\n\n"
        "The link works for 7 days. If you did not expect this, ignore this message.\n"
    )
    return send_mail(to, f"Invitation: {event_name}", body)


def send_password_reset(to: str, link: str) -> bool:
    body = (
        "Someone asked to reset the password of your Eventport account.\n\n"
        f"Choose a new password (the link works for one hour, once):\n{link}\n\n"
        "If it was not you, ignore this message; your password stays as it is.\n"
    )
    return send_mail(to, "Reset your Eventport password", body)
