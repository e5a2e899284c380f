"""``civicloop erase`` and ``civicloop contact``: crypto-shredding, operated."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from civicloop import config as config_module
from civicloop import log
from civicloop.privacy import KeyStore, unseal
from civicloop.projections.backend import open_reader
from civicloop.projections.read_model import cases

ReporterRef = Annotated[str, typer.Argument(help="The pseudonymous reporter reference.")]
CaseId = Annotated[str, typer.Argument(help="The case whose reporter to contact.")]


def erase_command(reporter_ref: ReporterRef) -> None:
    """Erase a reporter: delete their keys, so every copy of their contact becomes unreadable.

    The events stay in the log and keep decoding; only the sealed contact can no longer be opened.
    """
    log.configure()
    cfg = config_module.load()
    store = KeyStore(cfg.keystore)
    try:
        deleted = store.erase(reporter_ref)
    finally:
        store.close()
    Console().print(
        f"erased reporter {reporter_ref!r}: {deleted} key(s) deleted"
        if deleted
        else f"no keys for reporter {reporter_ref!r} (nothing to erase)"
    )


def contact_command(case_id: CaseId) -> None:
    """Show the reporter's contact for a case (for the handler calling back), if not erased."""
    log.configure()
    cfg = config_module.load()
    event = cases.reports(open_reader(cfg).query, cfg.database, [case_id]).get(case_id)
    if event is None:
        Console(stderr=True).print(f"no CaseReported for case {case_id!r}")
        raise typer.Exit(1)
    ciphertext, key_id = event["contact_ciphertext"], event["contact_key_id"]
    if ciphertext is None or key_id is None:
        Console().print("the report carries no contact")
        return
    store = KeyStore(cfg.keystore)
    try:
        contact = unseal(store, ciphertext, key_id)
    finally:
        store.close()
    Console().print(contact if contact is not None else "the reporter was erased: contact unreadable")


def register(app: typer.Typer) -> None:
    app.command("erase")(erase_command)
    app.command("contact")(contact_command)
