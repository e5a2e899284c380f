"""Telling the reporter: adapters that carry a message to a contact (e-mail over SMTP first)."""

from __future__ import annotations

from civicloop.config import Config
from civicloop.streams.notify.couriers import Send


def adapters(config: Config) -> dict[str, Send]:
    """The reporter adapters this deployment has configured, by target name."""
    return {}
