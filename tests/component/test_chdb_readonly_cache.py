"""chDB's read-only path parses a text once: ``formatQuery`` and ``EXPLAIN AST`` run the first
time a text is read, and a text read again runs only its canonical statement — on fresh data,
under the same read-only session. A refused text is never remembered: it is refused every time."""

from __future__ import annotations

from typing import Any

import pytest

from civicloop.projections.store import chdb as chdb_store
from civicloop.projections.store.readonly import Refused
from tests.support.chdb_support import Chdb

pytestmark = pytest.mark.integration


class _Counting:
    """The read-only session, counting the statements it is given (and running each)."""

    def __init__(self, session: Any) -> None:
        self.session, self.statements = session, []

    def query(self, sql: str, fmt: str) -> Any:
        self.statements.append(sql)
        return self.session.query(sql, fmt)


@pytest.fixture
def counted(chdb: Chdb) -> Any:
    chdb.query_readonly("SELECT 1")  # opens the read-only session
    counting = _Counting(chdb._readonly_session())
    chdb._reader = counting
    yield counting
    chdb._reader = counting.session


def test_a_text_read_again_runs_one_statement_on_fresh_rows(chdb: Chdb, counted: _Counting) -> None:
    db = chdb.new_database("cache")
    chdb.command(f"CREATE TABLE {db}.t (x UInt8) ENGINE = MergeTree ORDER BY x")
    chdb.insert(f"{db}.t", [{"x": 1}])
    sql = f"SELECT count() FROM {db}.t"

    assert chdb.query_readonly(sql) == [(1,)]
    assert len(counted.statements) == 3  # formatQuery, EXPLAIN AST, the statement
    chdb.insert(f"{db}.t", [{"x": 2}])
    assert chdb.query_readonly(sql) == [(2,)]
    assert len(counted.statements) == 4 and counted.statements[-1] == counted.statements[2]


def test_a_refused_text_is_refused_every_time(chdb: Chdb, counted: _Counting) -> None:
    sql = "SELECT * FROM file('/etc/passwd', 'LineAsString')"
    for _ in range(2):
        with pytest.raises(Refused):
            chdb.query_readonly(sql)
    assert sql not in chdb._accepted


def test_the_remembered_texts_are_bounded(
    chdb: Chdb, counted: _Counting, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chdb_store, "ACCEPTED_KEPT", 3)
    for n in range(5):
        assert chdb.query_readonly(f"SELECT {n}") == [(n,)]
    assert list(chdb._accepted) == ["SELECT 2", "SELECT 3", "SELECT 4"]
