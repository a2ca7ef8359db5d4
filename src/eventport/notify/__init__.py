"""Notifications (e-mail). Optional by design: with no SMTP configured nothing is sent
and nothing fails — the seed system's export crashed when its mail settings were empty."""
