"""One exception type per failure kind, each carrying its HTTP status and a message a person
can act on. Mapped once: JSON {"detail"} for the API, a message bubble for the chat."""

from __future__ import annotations


class ClosetChatError(Exception):
    status_code = 400
    headers: dict[str, str] | None = None  # sent with the error (Retry-After on a 503)

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UploadTooLarge(ClosetChatError):
    status_code = 413


class RequestTooLarge(ClosetChatError):
    status_code = 413


class TooManyFiles(ClosetChatError):
    status_code = 413


class NotAnImage(ClosetChatError):
    status_code = 415


class BrokenImage(ClosetChatError):
    status_code = 422


class EmptyFile(ClosetChatError):
    status_code = 422


class ImageTooLarge(ClosetChatError):
    """More pixels than we decode: a decompression bomb or a panorama we will not hold."""

    status_code = 422


class BadForm(ClosetChatError):
    status_code = 422


class NotFound(ClosetChatError):
    status_code = 404


class CsrfFailed(ClosetChatError):
    status_code = 403


class Unauthorized(ClosetChatError):
    status_code = 401


class ServiceBusy(ClosetChatError):
    """Out of a shared resource (decoding room, database connections) for now: retry shortly."""

    status_code = 503
    headers = {"Retry-After": "2"}
