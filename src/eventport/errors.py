"""Domain errors services raise; the API turns each into an RFC 9457 problem.

Services do not know HTTP, but they know *why* something cannot be done; the status
code travels with the error class so that every entry point (API, web, CLI) reports
the same thing the same way.
"""

from __future__ import annotations

from typing import Any


class EventportError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(EventportError):
    status = 404
    title = "Not found"


class Forbidden(EventportError):
    status = 403
    title = "Forbidden"


class Unauthorized(EventportError):
    status = 401
    title = "Unauthorized"


class Conflict(EventportError):
    status = 409
    title = "Conflict"


class InvalidInput(EventportError):
    status = 422
    title = "Invalid input"


class PayloadTooLarge(EventportError):
    status = 413
    title = "Payload too large"


class TooManyRequests(EventportError):
    status = 429
    title = "Too many requests"
