"""Reads are really read-only through every SQL entry point — ``civicloop sql`` (through the
worker on chDB, straight to the server otherwise) and the worker's ``/civicloop/sql`` view — on
chDB and on the server: hostile statements are refused with a clear error, malformed requests
get 4xx, and concurrent readers during projection each get their own, correct, answer.

One deployment per backend checks the four in turn (the last one projects 3,000 more cases): a
worker start and its first projection cost more than any of the checks, and until issue 20 each
check had a deployment of its own."""

from __future__ import annotations

import json
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from civicloop import localauth
from civicloop.cli import main
from civicloop.config import Config
from civicloop.privacy import KeyStore, seal
from civicloop.projections.store.readonly import QueryFailed, Refused
from civicloop.projections.store.worker import WorkerReader
from civicloop.tools.local.process import wait_until
from tests.support import case_events as ev
from tests.support.workers import Worker, produce, wait_projected

pytestmark = [
    pytest.mark.integration,
    pytest.mark.every_backend("read-only SQL is enforced by each backend's own entry point"),
]
KINDS = (
    "file",
    "file()",
    "url",
    "sqlite",
    "into outfile",
    "insert",
    "with insert",
    "drop",
    "create",
    "multi-statement",
    "kill query",
    "use",
    "set",
    "system",
    "optimize",
    "format",
)
#: kinds ClickHouse's readonly = 1 alone would let through: refused by civicloop's statement
#: rules, and the refusal names the rule
NOT_PLAIN_READS = {"kill query", "use", "set", "system", "optimize", "format", "multi-statement"}


def hostile(config: Config, out: Path) -> dict[str, str]:
    db, keys = config.database, config.keystore
    return {
        "file": f"SELECT * FROM file('{keys}', 'RawBLOB')",
        "file()": f"SELECT hex(file('{keys}'))",
        "url": "SELECT * FROM url('http://127.0.0.1:9/x', 'LineAsString')",
        "sqlite": f"SELECT hex(key) FROM sqlite('{keys}', 'reporter_keys')",
        "into outfile": f"SELECT * FROM {db}.event_log INTO OUTFILE '{out}'",
        "insert": f"INSERT INTO {db}.dead_letters (topic) SELECT 'forged'",
        "with insert": f"WITH 'forged' AS t INSERT INTO {db}.dead_letters (topic) SELECT t",
        "drop": f"DROP TABLE {db}.event_log",
        "create": f"CREATE TABLE {db}.evil (x UInt8) ENGINE = Memory",
        "multi-statement": f"SELECT 1; DROP TABLE {db}.event_log",
        "kill query": "KILL QUERY WHERE 1 SYNC",
        "use": "USE system",
        "set": "SET max_threads = 1",
        "system": "SYSTEM STOP MERGES",
        "optimize": f"OPTIMIZE TABLE {db}.event_log FINAL",
        "format": f"SELECT * FROM {db}.event_log FORMAT JSONEachRow",
    }


@pytest.fixture
def projected(config: Config, worker: Worker) -> Config:
    keys = KeyStore(config.keystore)
    seal(keys, "r-1", "+1-410-555-0100")
    keys.close()
    events = [ev.reported(ev.at(0), f"C-{n}") for n in range(20)]
    wait_projected(config, produce(config, events), 120)
    return config


def _counts(worker: Worker) -> tuple[int, int, int]:
    db = worker.config.database
    rows = worker.reader().query(
        f"SELECT (SELECT count() FROM {db}.event_log), (SELECT count() FROM {db}.dead_letters), "
        f"(SELECT count() FROM system.tables WHERE database = '{db}')"
    )
    return tuple(int(v) for v in rows[0])  # type: ignore[return-value]


def civicloop(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str]:
    """Run the ``civicloop`` command line as a user does (its ``main``: errors a user can fix
    become one line and exit status 2); return the status and what it printed."""
    monkeypatch.setattr(sys, "argv", ["civicloop", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    printed = capsys.readouterr()
    return int(exited.value.code or 0), printed.out + printed.err


def civicloop_sql_refuses_hostile_statements_with_a_clear_error_and_still_reads(
    projected: Config,
    worker: Worker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = _counts(worker)
    out = tmp_path / "out.tsv"
    statements = hostile(projected, out)
    assert set(statements) == set(KINDS)
    for kind, sql in statements.items():
        status, printed = civicloop(monkeypatch, capsys, "sql", sql)

        assert status == 2, (kind, printed)
        assert printed.startswith("error:") and len(printed.strip().splitlines()) <= 3, (kind, printed)
        assert not out.exists() and "+1-410-555" not in printed, kind
        assert _counts(worker) == before, kind
        if kind in NOT_PLAIN_READS:
            assert "refused by the rule" in printed, (kind, printed)

    status, printed = civicloop(
        monkeypatch, capsys, "sql", f"SELECT count() FROM {projected.database}.case_lifecycle FINAL"
    )
    assert (status, printed.strip()) == (0, "20")


def _post(
    config: Config, body: bytes, method: str = "POST", token: str | None = "the worker's"
) -> tuple[int, dict[str, object]]:
    presented = localauth.read(config.worker_token_file) if token == "the worker's" else token
    request = urllib.request.Request(
        f"http://127.0.0.1:{config.worker_web_port}/civicloop/sql",
        data=body if method == "POST" else None,
        method=method,
        headers={localauth.HEADER: presented} if presented is not None else {},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, {"raw": raw.decode(errors="replace")}


MALFORMED = [
    b"",
    b"not json",
    b"\xff\xfe",
    b"[1, 2]",
    b'"SELECT 1"',
    b"{}",
    b'{"sql": 5}',
    b'{"sql": ""}',
    b'{"sql": null}',
    json.dumps({"sql": "SELECT 1 -- " + "x" * 300_000}).encode(),
]


def the_worker_sql_view_answers_malformed_bodies_with_400_and_hostile_sql_with_4xx(
    projected: Config, worker: Worker, tmp_path: Path
) -> None:
    for body in MALFORMED:
        status, answer = _post(projected, body)
        assert status == 400, (body[:40], status, answer)
        assert isinstance(answer.get("error"), str) and answer["error"]
    for kind, sql in hostile(projected, tmp_path / "out.tsv").items():
        status, answer = _post(projected, json.dumps({"sql": sql}).encode())
        assert status in (400, 403), (sql, status, answer)
        if kind in NOT_PLAIN_READS:
            assert status == 403 and "refused by the rule" in str(answer["error"]), (sql, answer)
    assert _post(projected, json.dumps({"sql": "SELECT 41 + 1"}).encode()) == (200, {"rows": [[42]]})


def the_worker_sql_view_answers_401_without_the_worker_token(projected: Config, worker: Worker) -> None:
    # given the worker's token file, private to the deployment's user
    assert (projected.worker_token_file.stat().st_mode & 0o777) == 0o600
    query = json.dumps({"sql": f"SELECT count() FROM {projected.database}.event_log"}).encode()
    # when a caller without it, or with another, asks; then 401 and no rows
    for token in (None, "", "not-the-token"):
        status, answer = _post(projected, query, token=token)
        assert status == 401 and "rows" not in answer, (token, status, answer)
    # and with it, the answer
    assert _post(projected, query)[0] == 200


def concurrent_reads_during_projection_each_get_their_own_correct_answer(
    projected: Config, worker: Worker
) -> None:
    reader = WorkerReader(
        f"http://127.0.0.1:{projected.worker_web_port}", localauth.read(projected.worker_token_file)
    )
    db = projected.database
    numbers = (
        "SELECT {n} AS n, toString({n}) AS s, sum(number) FROM (SELECT number FROM system.numbers LIMIT {n})"
    )
    known = {n: numbers.format(n=n) for n in (10, 100, 1000)}
    wrong: list[object] = []
    answered: dict[int, int] = dict.fromkeys(known, 0)
    stop = threading.Event()

    def ask(n: int) -> None:
        seen = 0
        while not stop.is_set():
            answered[n] += 1
            try:
                assert reader.query_readonly(known[n]) == [(n, str(n), n * (n - 1) // 2)]
                count = reader.query_readonly(f"SELECT count() FROM {db}.event_log")[0][0]
                assert count >= seen, f"count went back from {seen} to {count}"
                seen = count
            except AssertionError as exc:
                wrong.append(exc)
            except (Refused, QueryFailed) as exc:
                wrong.append(exc)

    def misbehave() -> None:
        while not stop.is_set():
            for sql in (
                f"SELECT 1; DROP TABLE {db}.event_log",
                "SELECT * FROM numbers(",
                f"DROP TABLE {db}.x",
            ):
                try:
                    reader.query_readonly(sql)
                    wrong.append(f"not refused: {sql}")
                except (Refused, QueryFailed):
                    pass

    threads = [threading.Thread(target=ask, args=(n,)) for n in known] + [threading.Thread(target=misbehave)]
    for thread in threads:
        thread.start()
    try:
        events = [
            e
            for n in range(3000)
            for e in (ev.reported(ev.at(0), f"D-{n}"), ev.registered(ev.at(1), f"D-{n}"))
        ]
        wait_projected(projected, produce(projected, events), 300)
        # Readers keep going until each has asked a few times (not a speed requirement).
        wait_until(lambda: min(answered.values()) >= 5, 120, "readers answered")
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    assert wrong == []
    assert reader.query_readonly(
        f"SELECT count() FROM {db}.case_lifecycle FINAL WHERE state = 'REGISTERED'"
    ) == [(3000,)]


def test_every_sql_entry_point_is_read_only_and_each_reader_gets_its_own_answer(
    projected: Config,
    worker: Worker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    civicloop_sql_refuses_hostile_statements_with_a_clear_error_and_still_reads(
        projected, worker, tmp_path, monkeypatch, capsys
    )
    the_worker_sql_view_answers_malformed_bodies_with_400_and_hostile_sql_with_4xx(
        projected, worker, tmp_path
    )
    the_worker_sql_view_answers_401_without_the_worker_token(projected, worker)
    concurrent_reads_during_projection_each_get_their_own_correct_answer(projected, worker)
