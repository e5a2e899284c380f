"""``civicloop replay``: rebuild every projection from the event log, without downtime.

The rebuild runs here, unless the running worker holds a chDB directory
(``backend.ChdbThroughWorker``): then the command asks the worker to run it and follows its
progress.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from civicloop import config as config_module
from civicloop import localauth, log
from civicloop.cli.common import parse_time
from civicloop.config import Config
from civicloop.projections import backend
from civicloop.projections.rebuild import rebuild_database
from civicloop.projections.store.base import Store
from civicloop.runtime import tune_gc
from civicloop.streams import kafka
from civicloop.streams.replayer import Replayer, ReplayStatus
from civicloop.tools.feed import progress


def replay_command(
    since: Annotated[
        str | None,
        typer.Option(
            "--from", help="Rebuild from the events since this time (ISO) instead of the beginning."
        ),
    ] = None,
    keep_old: Annotated[bool, typer.Option(help="Keep the replaced tables in <db>_rebuild_old.")] = False,
) -> None:
    """Rebuild all projections into fresh tables, then switch readers over atomically.

    Resumable: run it again after an interruption and it continues where it stopped.
    """
    log.configure()
    cfg = config_module.load()
    with progress() as bar:
        task = bar.add_task("replay: starting", total=None, rate="")

        def show(status: ReplayStatus) -> None:
            bar.update(
                task,
                description=f"replay: {status.phase}",
                completed=status.done,
                total=status.total or None,
                rate=f"{status.rate:,.0f} ev/s",
            )

        where = backend.from_config(cfg)
        if where.held_by_worker:
            final = _through_worker(cfg, since, keep_old, show)
        else:
            final = _here(cfg, where.open_writer(), since, keep_old, show)
    if final.phase != "done":
        Console(stderr=True).print(f"[red]replay failed[/]: {escape(str(final.error))}", soft_wrap=True)
        raise typer.Exit(1)
    Console().print(
        f"rebuilt {final.done:,} events at {final.rate:,.0f} ev/s; readers now see the "
        "new tables" + (f" (old ones kept in {rebuild_database(cfg.database)}_old)" if keep_old else "")
    )


def _here(
    cfg: Config, store: Store, since: str | None, keep_old: bool, show: Callable[[ReplayStatus], None]
) -> ReplayStatus:
    tune_gc()
    try:
        replayer = Replayer(
            cfg,
            store,
            kafka.bootstrap(cfg),
            rebuild_database(cfg.database),
            since=parse_time(since),
            keep_old=keep_old,
            on_progress=show,
        )
        return replayer.run()
    finally:
        store.close()


def _through_worker(
    cfg: Config, since: str | None, keep_old: bool, show: Callable[[ReplayStatus], None]
) -> ReplayStatus:
    base = f"http://127.0.0.1:{cfg.worker_web_port}/civicloop/replay"
    moment = parse_time(since)
    token = localauth.read(cfg.worker_token_file)
    _call(base, token, {"since": moment.isoformat() if moment else None, "keep_old": keep_old})
    while True:
        status = _status(_call(base, token))
        show(status)
        if status.phase in ("done", "failed"):
            return status
        time.sleep(0.5)


def _call(url: str, token: str | None, body: dict[str, object] | None = None) -> dict[str, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", localauth.HEADER: token or ""}
    request = urllib.request.Request(
        url, data=data, headers=headers, method="GET" if body is None else "POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        result: dict[str, Any] = json.loads(response.read())
        return result


def _status(doc: dict[str, Any]) -> ReplayStatus:
    fields = {k: doc[k] for k in ("target", "phase", "done", "total", "started_at", "error")}
    return ReplayStatus(**fields)


def register(app: typer.Typer) -> None:
    app.command("replay")(replay_command)
