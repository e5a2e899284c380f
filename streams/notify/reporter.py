"""Telling the reporter: received / closed / reopened, in their language, through an adapter.

Only here is a contact unsealed (civicloop/privacy.py), at the moment of sending, so an erasure
that came after the event still wins: an erased reporter's key is gone, the contact cannot be
opened, and the delivery is ``skipped``. The contact is never logged, and an error kept in the
failures list names the failure, never the address.

An adapter carries a composed message to one kind of address: e-mail over SMTP here; an SMS
gateway would be another ``Adapter`` (``address`` picks its field from the contact, ``send``
delivers) registered in :func:`adapters`.
"""

from __future__ import annotations

import json
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any, Protocol

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from civicloop.config import Config
from civicloop.privacy import KeyStore, unseal
from civicloop.streams.notify import feedback
from civicloop.streams.notify.couriers import Send, Undeliverable
from civicloop.streams.notify.routing import status_url
from civicloop.streams.notify.store import Delivery, NotifyStore

LANGUAGES = ("en", "zh")
SUBJECTS = {
    "en": {
        "received": "We received your report {case_id}",
        "closed": "Your report {case_id} is closed: how did we do?",
        "reopened": "Your report {case_id} was reopened",
    },
    "zh": {
        "received": "您的诉求 {case_id} 已受理",
        "closed": "您的诉求 {case_id} 已办结，请评价",
        "reopened": "您的诉求 {case_id} 已重新办理",
    },
}
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
)


@dataclass(frozen=True)
class Message:
    language: str
    subject: str
    text: str
    html: str


class Adapter(Protocol):
    name: str

    def address(self, contact: dict[str, str]) -> str | None:
        """Where this adapter reaches the reporter, or None (the contact has no such field)."""

    def send(self, address: str, message: Message) -> None:
        """Deliver or raise Undeliverable (with a reason that does not name the address)."""


class Email:
    """E-mail over SMTP: plain text and HTML alternatives."""

    name = "email"

    def __init__(self, config: Config) -> None:
        self.config = config

    def address(self, contact: dict[str, str]) -> str | None:
        return contact.get("email") or None

    def send(self, address: str, message: Message) -> None:
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.config.smtp_from, address, message.subject
        mail["Message-ID"] = make_msgid(domain=self.config.smtp_from.rpartition("@")[2] or None)
        mail["Content-Language"] = "zh-Hans" if message.language == "zh" else "en"
        mail.set_content(message.text)
        mail.add_alternative(message.html, subtype="html")
        cfg = self.config
        try:
            if cfg.smtp_security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    cfg.smtp_host, cfg.smtp_port, timeout=30, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=30)
            with smtp:
                if cfg.smtp_security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if cfg.smtp_user:
                    smtp.login(cfg.smtp_user, cfg.smtp_password)
                smtp.send_message(mail)
        except smtplib.SMTPResponseException as exc:
            raise Undeliverable(f"SMTP {exc.smtp_code}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise Undeliverable(f"SMTP {type(exc).__name__}") from None


def contact_fields(opened: str) -> dict[str, str]:
    """The sealed contact as fields: the API seals a JSON object (email, phone, names, and
    optionally language); an SDK may seal a bare address or number."""
    try:
        loaded: Any = json.loads(opened)
    except ValueError:
        loaded = opened
    if isinstance(loaded, dict):
        return {str(k): str(v) for k, v in loaded.items() if isinstance(v, str)}
    text = str(loaded).strip()
    return {"email": text} if "@" in text else {"phone": text}


def language(contact: dict[str, str], default: str) -> str:
    wanted = contact.get("language", "").strip().lower()
    return next((lang for lang in LANGUAGES if wanted.startswith(lang)), default)


def compose(kind: str, lang: str, case_id: str, status: str, feedback_url: str | None) -> Message:
    values = {"kind": kind, "case_id": case_id, "status_url": status, "feedback_url": feedback_url}
    return Message(
        lang,
        SUBJECTS[lang][kind].format(case_id=case_id),
        _templates.get_template(f"message.{lang}.txt").render(values),
        _templates.get_template(f"message.{lang}.html").render(values),
    )


def sender(config: Config, adapter: Adapter) -> Send:
    """The courier's send for reporter messages through ``adapter``."""
    keys = KeyStore(config.keystore)
    store = NotifyStore(config.notify_db, durable=False)

    def send(delivery: Delivery) -> str:
        kind = delivery.payload.decode()
        context = store.context(delivery.case_id)
        if context.sealed is None or context.key_id is None:
            return "skipped"
        opened = unseal(keys, context.sealed, context.key_id)
        if opened is None:
            return "skipped"  # the reporter was erased: nobody to tell
        contact = contact_fields(opened)
        address = adapter.address(contact)
        if address is None:
            return "skipped"
        lang, link = language(contact, config.notify_language), None
        if kind == "closed":
            signed = feedback.token(keys, delivery.case_id, delivery.event_id)
            link = feedback.url(config.api_public_url, signed, lang)
        message = compose(
            kind,
            lang,
            delivery.case_id,
            status_url(config.api_public_url, delivery.case_id),
            link,
        )
        adapter.send(address, message)
        return "delivered"

    return send


def adapters(config: Config) -> dict[str, Send]:
    """The reporter adapters this deployment has configured, by target name."""
    return {"email": sender(config, Email(config))} if config.smtp_host else {}
