"""The project's own errors. Services raise these; ``api.errors`` maps each to one HTTP answer."""

from __future__ import annotations


class RightsgateError(Exception):
    """Base class. ``code`` is a stable machine-readable id; the message is for people."""

    code = "error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidInput(RightsgateError):
    code = "invalid_input"
    status = 422


class BadRequest(RightsgateError):
    code = "bad_request"
    status = 400


class NotFound(RightsgateError):
    code = "not_found"
    status = 404


class Forbidden(RightsgateError):
    code = "forbidden"
    status = 403


class Unauthorized(RightsgateError):
    code = "unauthorized"
    status = 401


class Conflict(RightsgateError):
    code = "conflict"
    status = 409


class TooLarge(RightsgateError):
    code = "too_large"
    status = 413


class UnsupportedMedia(RightsgateError):
    code = "unsupported_media"
    status = 415


class ServiceUnavailable(RightsgateError):
    code = "unavailable"
    status = 503
