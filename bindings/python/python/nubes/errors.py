"""The exceptions Nubes raises: one class per kind of error, all under ``nubes.Error``.

Each carries ``kind`` (the SDK's name for it, such as ``"not_found"``), ``temporary`` (a retry
may succeed), ``provider`` and ``operation`` where known. Some also derive from the built-in
exception an idiomatic ``except`` clause would name: ``NotFound`` is a ``LookupError``,
``Timeout`` a ``TimeoutError``, ``InvalidInput`` a ``ValueError``. Which kind raises which
class is decided in one place, the native module's table (see ``error_classes``).
"""

from typing import Optional


class Error(Exception):
    """Every error Nubes raises."""

    kind: str = "unexpected"
    temporary: bool = False
    provider: Optional[str] = None
    operation: Optional[str] = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(Error, LookupError):
    """The instance, disk, bucket, object or function does not exist (or is not yours)."""


class AlreadyExists(Error):
    """Something of that name exists already."""


class InvalidInput(Error, ValueError):
    """The request is malformed: a bad name, size, range or option."""


class Unsupported(Error):
    """This provider cannot do that (see its capabilities)."""


class PermissionDenied(Error):
    """The credentials are valid but may not do that."""


class Unauthenticated(Error):
    """The credentials are missing, wrong or expired."""


class QuotaExceeded(Error):
    """A plan, quota or limit would be exceeded."""


class InsufficientCredits(Error):
    """The wallet cannot pay for it."""


class Conflict(Error):
    """The resource is in a state that forbids it (running, not empty, changed meanwhile)."""


class RateLimited(Error):
    """Too many requests: slow down and retry."""


class Timeout(Error, TimeoutError):
    """It did not finish in time."""


class Unavailable(Error):
    """The backend cannot be reached or is not ready."""


class Unexpected(Error):
    """Anything else: a bug or a backend answer Nubes does not understand."""


__all__ = [
    "Error",
    "NotFound",
    "AlreadyExists",
    "InvalidInput",
    "Unsupported",
    "PermissionDenied",
    "Unauthenticated",
    "QuotaExceeded",
    "InsufficientCredits",
    "Conflict",
    "RateLimited",
    "Timeout",
    "Unavailable",
    "Unexpected",
]
