"""The statement rules every SQL entry point applies first: one plain read or a refusal that
names the rule — and comments, string literals and quoted identifiers fool neither way."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicloop.projections.store.base import bind
from civicloop.projections.store.statement import RULES, Refused, check

REFUSED = {
    "KILL QUERY WHERE 1 SYNC": "read-statements",
    "kill query where user = 'default'": "read-statements",
    "USE system": "read-statements",
    "SET readonly = 0": "read-statements",
    "SYSTEM STOP MERGES": "read-statements",
    "SYSTEM SHUTDOWN": "read-statements",
    "OPTIMIZE TABLE db.t FINAL": "read-statements",
    "INSERT INTO db.t SELECT 1": "read-statements",
    "ALTER TABLE db.t DELETE WHERE 1": "read-statements",
    "DROP TABLE db.t": "read-statements",
    "CREATE TABLE db.u (x UInt8) ENGINE = Memory": "read-statements",
    "RENAME TABLE db.t TO db.u": "read-statements",
    "TRUNCATE TABLE db.t": "read-statements",
    "DETACH TABLE db.t": "read-statements",
    "EXISTS TABLE db.t": "read-statements",
    "EXPLAIN SELECT 1": "read-statements",
    "WITH 1 AS x INSERT INTO db.t SELECT x": "read-statements",
    "WITH (SELECT 1) AS x KILL QUERY WHERE x": "read-statements",
    "/* SELECT */ KILL QUERY WHERE 1": "read-statements",
    "-- SELECT\nKILL QUERY WHERE 1": "read-statements",
    "SELECT 1 FORMAT JSON": "plain-read",
    "select * from db.t format TabSeparated": "plain-read",
    "SHOW TABLES FORMAT JSONEachRow": "plain-read",
    "SHOW TABLES LIKE ';' FORMAT JSON": "plain-read",
    "SHOW TABLES; KILL QUERY WHERE 1": "one-statement",
    "SELECT 1 SETTINGS max_threads = 1": "plain-read",
    "SELECT * FROM db.t INTO OUTFILE '/tmp/x'": "plain-read",
    "SELECT 1; KILL QUERY WHERE 1": "one-statement",
    "SELECT 1;;USE system": "one-statement",
    "SELECT ';' ; DROP TABLE db.t": "one-statement",
    "SELECT file('/etc/passwd')": "no-files",
    "SELECT hex(FILE ('/var/keys.sqlite'))": "no-files",
}

ALLOWED = [
    "SELECT 1",
    "SELECT 1;",
    "select count() from db.t final",
    "(SELECT 1) UNION ALL (SELECT 2)",
    "WITH 2 AS two SELECT two",
    "WITH x AS (SELECT 1) SELECT * FROM x",
    "DESCRIBE TABLE db.t",
    "DESC db.t",
    "SHOW TABLES FROM db",
    "SHOW CREATE TABLE db.t",
    # words of refused statements inside literals, comments and quoted names
    "SELECT 'KILL QUERY; FORMAT JSON' AS s",
    "SELECT 1 /* ; KILL QUERY WHERE 1 */",
    "SELECT 1 -- ; USE system",
    'SELECT `format`, "settings" FROM db.t',
    "SELECT 'it\\'s; DROP' AS s",
    "SELECT format('{} {}', 'a', 'b')",
    "SELECT * FROM system.tables WHERE name = 'into outfile'",
    "SELECT '' AS file",
]


@pytest.mark.parametrize("sql", list(REFUSED))
def test_what_is_not_one_plain_read_is_refused_naming_the_rule(sql: str) -> None:
    with pytest.raises(Refused) as refused:
        check(sql)
    rule = REFUSED[sql]
    assert f"refused by the rule {rule!r} ({RULES[rule]})" in str(refused.value)


@pytest.mark.parametrize("sql", ALLOWED)
def test_plain_reads_pass_whatever_their_literals_comments_and_quoted_names_say(sql: str) -> None:
    check(sql)


@pytest.mark.parametrize("sql", ["SELECT 'unclosed", "SELECT 1 /* unclosed", "KILL QUERY WHERE query = 'x"])
def test_text_the_tokenizer_cannot_split_is_refused_not_waved_through(sql: str) -> None:
    with pytest.raises(Refused, match="refused by the rule 'tokens'"):
        check(sql)


@given(st.text(), st.lists(st.text(max_size=20), max_size=5))
def test_civicloop_own_reads_pass_whatever_values_are_bound_into_them(value: str, values: list[str]) -> None:
    # on chDB civicloop's own queries reach the worker as text through the same rules
    check(bind("SELECT %(v)s, count() FROM db.t WHERE x IN %(vs)s", {"v": value, "vs": tuple(values)}))
