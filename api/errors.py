"""Errors a caller can get, and how each part of the API shows them.

Handlers raise :class:`ApiError` with one :class:`Problem` per thing that was wrong (naming
the field and the offending value); the app renders it as Open311's error array
(``[{code, description}]``, XML or JSON by the path's suffix) under ``/open311/`` and as
``{"errors": [{code, field, description}]}`` elsewhere. Nothing is produced on any error:
every check runs before the one send.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: ``code`` is stable (clients branch on it),
    ``description`` is for people and names the field and value."""

    description: str
    field: str | None = None
    code: str = "bad_request"


@dataclass
class ApiError(Exception):
    """An answer other than success: HTTP ``status`` and what was wrong."""

    status: int
    problems: list[Problem]
    extra: dict[str, object] = field(default_factory=dict)  # e.g. the guard's reason on 409

    def __str__(self) -> str:
        return "; ".join(p.description for p in self.problems)


def bad_request(description: str, field: str | None = None, code: str = "bad_request") -> ApiError:
    return ApiError(400, [Problem(description, field, code)])


def not_found(description: str, field: str | None = None) -> ApiError:
    return ApiError(404, [Problem(description, field, "not_found")])


def unauthenticated(description: str) -> ApiError:
    return ApiError(401, [Problem(description, "api_key", "unauthenticated")])


def forbidden(description: str) -> ApiError:
    return ApiError(403, [Problem(description, "api_key", "forbidden")])


def unavailable(description: str) -> ApiError:
    return ApiError(503, [Problem(description, None, "unavailable")])


def shorten(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for naming an offending value."""
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."
