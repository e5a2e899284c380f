"""The feedback link of a closed case's message: a signed, expiring token naming the case and
the closure it asks about, and what the citizen's answer becomes.

The token is itsdangerous' timestamped signature (HMAC under a secret of the key store, which
both the notifier and the API hold): a forged or altered token fails the signature, an old one
fails ``CIVICLOOP_FEEDBACK_TTL``. Single use comes from the event id, derived from the closure:
the feedback of one closure has one id, so a second submission is "already rated" (and, were
it sent in a race, the same id with another body is a ``conflicting_duplicate`` that changes
nothing — docs/DESIGN.md §6); nothing is counted twice.
"""

from __future__ import annotations

import uuid

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from civicloop.privacy import KeyStore

SECRET = "feedback-links"
SALT = "civicloop.feedback.v1"
#: the citizen's 1–5 stars as the Satisfaction of FeedbackReceived (docs/NOTIFY.md)
#: namespace of the feedback event ids (uuid5 of the case and the closure)
FEEDBACK_IDS = uuid.UUID("5d0c7c0e-2f0b-4e53-8d2b-6f1c2a7e9b41")
SATISFACTION = {5: "satisfied", 4: "satisfied", 3: "basically_satisfied", 2: "unsatisfied", 1: "unsatisfied"}


class InvalidLink(ValueError):
    """A token that is forged, altered, malformed or expired; ``expired`` tells which."""

    def __init__(self, expired: bool) -> None:
        super().__init__("this feedback link has expired" if expired else "this feedback link is not valid")
        self.expired = expired


def _serializer(keys: KeyStore) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(keys.secret(SECRET), salt=SALT)


def token(keys: KeyStore, case_id: str, closing_event_id: str) -> str:
    return str(_serializer(keys).dumps([case_id, closing_event_id]))


def read(keys: KeyStore, given: str, max_age: int) -> tuple[str, str]:
    """(case id, closing event id) of a valid token; InvalidLink otherwise."""
    try:
        case_id, closing = _serializer(keys).loads(given, max_age=max_age)
    except SignatureExpired:
        raise InvalidLink(expired=True) from None
    except (BadData, ValueError, TypeError):
        raise InvalidLink(expired=False) from None
    if not isinstance(case_id, str) or not isinstance(closing, str):
        raise InvalidLink(expired=False)
    return case_id, closing


def event_id(case_id: str, closing_event_id: str) -> str:
    """The id of the feedback on this closure: the same however often the link is used."""
    return str(uuid.uuid5(FEEDBACK_IDS, f"{case_id}\x00{closing_event_id}"))


def url(public_url: str, link_token: str, language: str = "en") -> str:
    """The page's address; in Chinese for a reporter written to in Chinese."""
    return f"{public_url}/feedback/{link_token}" + ("?lang=zh" if language == "zh" else "")
