"""SQL that civicloop did not write, run under ClickHouse's own read-only enforcement.

``civicloop sql``, the worker's ``/civicloop/sql`` view and (later) the HTTP API pass on text
from an analyst or a caller. Checking its first word is no defence (``WITH … INSERT``,
``SELECT 1; DROP …``, ``file('/etc/passwd')``); so each backend runs it the way ClickHouse
itself keeps a reader read-only (docs/TRUST.md §4):

- **readonly = 1**: the server gets it as a setting of the query; chDB runs the text in a
  second session of the same directory on which ``SET readonly = 1`` was issued — a setting
  that session can never change back. ClickHouse then refuses INSERT, CREATE, DROP, ALTER,
  SET / SETTINGS, and the table functions that reach files, URLs, other databases or processes.
- **one statement**: the server's parser refuses several on the native protocol; chDB would run
  them all (and hand the next reader the rest of their output), so the text first goes to
  ClickHouse's own parser as a string (``formatQuery``), and only that one canonical statement
  is run.
- **what readonly does not cover** is refused here, from ClickHouse's own parse of the
  statement (``EXPLAIN AST``) on chDB: ``INTO OUTFILE`` and ``FORMAT`` (chDB, like
  clickhouse-local, would write the file / change the output), table functions other than the
  generators in ``SAFE_TABLE_FUNCTIONS`` (chDB's ``Python()`` reads the worker's memory), and
  the scalar functions in ``UNSAFE_FUNCTIONS`` (``file()`` reads any file even in readonly
  mode — the key store included). ``INTO OUTFILE`` and calls of ``UNSAFE_FUNCTIONS`` are
  refused on the server too, from the text (it has no parse to offer; the server never writes
  an OUTFILE itself, and 18.16 has no ``file()``, but a newer server would read its user files).
"""

from __future__ import annotations

import re

from civicloop.projections.store.base import engine_message, error_code

#: ClickHouse's error code READONLY: what it raises when readonly = 1 refuses a statement
READONLY = 164
SYNTAX_ERROR = 62
#: table functions that only generate or reshape values given in the query
SAFE_TABLE_FUNCTIONS = frozenset(
    {
        "numbers",
        "numbers_mt",
        "zeros",
        "zeros_mt",
        "generate_series",
        "generateseries",
        "values",
        "view",
        "format",
        "null",
        "generaterandom",
    }
)
#: the statements a reader may run, as the root node of ClickHouse's AST names them (readonly = 1
#: would still let USE change the shared session's database, or KILL QUERY stop a write)
READ_STATEMENTS = (
    "SelectWithUnionQuery",
    "SelectIntersectExceptQuery",
    "Explain",
    "Show",
    "Describe",
    "Exists",
)
#: scalar functions that read outside the database even under readonly = 1
UNSAFE_FUNCTIONS = frozenset({"file", "catboostevaluate"})

_OUTFILE = re.compile(r"\bINTO\s+OUTFILE\b", re.IGNORECASE)
_UNSAFE_CALL = re.compile(r"\b(" + "|".join(UNSAFE_FUNCTIONS) + r")\s*\(", re.IGNORECASE)
_FUNCTION = re.compile(r"^(\s*)Function (\S+)")


class Refused(ValueError):
    """The statement may not run through a read-only entry point; the message says why."""


class QueryFailed(ValueError):
    """ClickHouse could not run the statement (a syntax error, an unknown table, …)."""


def refuse_outfile(sql: str) -> None:
    """Refuse ``INTO OUTFILE`` anywhere in the text (a string literal that merely contains the
    words is refused too: the safe side)."""
    if _OUTFILE.search(sql):
        raise Refused(
            "INTO OUTFILE is not allowed here: results come back to you, never into files on the "
            "machine that runs ClickHouse"
        )


def refuse_unsafe_calls(sql: str) -> None:
    """Refuse a call of an ``UNSAFE_FUNCTIONS`` function anywhere in the text: for a server,
    where no parse of the statement is at hand (18.16 has neither ``formatQuery`` nor
    ``EXPLAIN``); a newer server would read its user_files directory with ``file()``."""
    found = _UNSAFE_CALL.search(sql)
    if found:
        raise Refused(f"function {found.group(1)}() is not allowed here: it reads files")


def check_parsed(canonical: str, ast: str) -> None:
    """Refuse what readonly = 1 lets through, given ClickHouse's canonical text of the
    statement (``formatQuery``: one clause a line, literals escaped onto one line) and its
    ``EXPLAIN AST`` dump (one node a line, children indented by one more space)."""
    root = ast.lstrip().split(" ", 1)[0]
    if not root.startswith(READ_STATEMENTS):
        statement = canonical.strip().split("\n", 1)[0][:60]
        raise Refused(
            f"{statement!r} is not allowed here: this entry point is read-only "
            "(SELECT, WITH … SELECT, SHOW, DESCRIBE, EXISTS and EXPLAIN only)"
        )
    for line in canonical.splitlines():
        if line.startswith("INTO OUTFILE"):
            refuse_outfile(line)
        if line.startswith("FORMAT "):
            raise Refused(
                f"{line.strip()} is not allowed here: rows come back as data; "
                "pick the output format on your side (e.g. civicloop's --format)"
            )
    previous = ""
    for line in ast.splitlines():
        found = _FUNCTION.match(line)
        if found:
            name = found.group(2).lower()
            in_from = previous.strip().startswith("TableExpression")
            if in_from and name not in SAFE_TABLE_FUNCTIONS:
                raise Refused(
                    f"table function {found.group(2)}() is not allowed here: it reaches outside "
                    f"the database (allowed: {', '.join(sorted(SAFE_TABLE_FUNCTIONS))})"
                )
            if name in UNSAFE_FUNCTIONS:
                raise Refused(f"function {found.group(2)}() is not allowed here: it reads files")
        previous = line


def failure(exc: BaseException) -> Refused | QueryFailed:
    """The error to raise for a statement ClickHouse refused or could not run."""
    message = engine_message(exc)
    code = error_code(exc)
    if code == READONLY:
        return Refused(f"refused, this entry point is read-only: {message}")
    if code == SYNTAX_ERROR and "Multi-statements" in message:
        return Refused(f"one statement at a time: {message}")
    return QueryFailed(message)
