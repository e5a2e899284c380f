"""SQL that civicloop did not write, run under ClickHouse's own read-only enforcement.

``civicloop sql``, the worker's ``/civicloop/sql`` view and every reader that goes through the
worker pass on text from an analyst or a caller. Checking its first word is no defence
(``WITH … INSERT``, ``SELECT 1; DROP …``, ``file('/etc/passwd')``); so the text meets three
fences (docs/TRUST.md §4):

- **the statement rules** (``statement.py``), on every backend, from the tokens of the text as
  sent: one statement; SELECT, WITH … SELECT, DESCRIBE or SHOW only (so no ``KILL``, ``USE``,
  ``SET``, ``SYSTEM``, ``OPTIMIZE``, writes or DDL); no ``FORMAT``, ``SETTINGS`` or
  ``INTO OUTFILE`` clause; no function that reads files. A refusal names the rule.
- **readonly = 1**: the server gets it as a setting of the query (and a server's reader user,
  ``CIVICLOOP_CLICKHOUSE_READER_URL``, has it in its profile, where no statement can lift it);
  chDB runs the text in a second session of the same directory on which ``SET readonly = 1`` was
  issued — a setting that session can never change back. ClickHouse then refuses INSERT,
  CREATE, DROP, ALTER, SET / SETTINGS, and (18.16) every table function.
- **ClickHouse's own parse** on chDB: the text goes to ClickHouse's parser as a string
  (``formatQuery``) and only that one canonical statement is run (a text that passed is
  remembered with it, ``ChdbStore._parsed``); its ``EXPLAIN AST`` is checked
  for the statement kind again, for table functions other than the generators in
  ``SAFE_TABLE_FUNCTIONS`` (chDB's ``Python()`` reads the worker's memory), and for calls of
  ``UNSAFE_FUNCTIONS`` (``file()`` reads any file even in readonly mode — the key store included).
"""

from __future__ import annotations

import re

from civicloop.projections.store.base import engine_message, error_code
from civicloop.projections.store.statement import UNSAFE_FUNCTIONS, Refused, check, refusal

__all__ = ["QueryFailed", "Refused", "check", "check_parsed", "failure"]

#: ClickHouse's error code READONLY: what it raises when readonly = 1 refuses a statement
READONLY = 164
SYNTAX_ERROR = 62
#: ACCESS_DENIED: a reader user asked for a database its grants do not name
ACCESS_DENIED = 291
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
#: the statements a reader may run, as the root node of ClickHouse's AST names them (the
#: statement rules' list, checked again on ClickHouse's own parse)
READ_STATEMENTS = ("SelectWithUnionQuery", "SelectIntersectExceptQuery", "Show", "Describe")
_FUNCTION = re.compile(r"^(\s*)Function (\S+)")


class QueryFailed(ValueError):
    """ClickHouse could not run the statement (a syntax error, an unknown table, …)."""


def check_parsed(canonical: str, ast: str) -> None:
    """Refuse what readonly = 1 lets through, given ClickHouse's canonical text of the
    statement (``formatQuery``: one clause a line, literals escaped onto one line) and its
    ``EXPLAIN AST`` dump (one node a line, children indented by one more space)."""
    root = ast.lstrip().split(" ", 1)[0]
    if not root.startswith(READ_STATEMENTS):
        statement = canonical.strip().split("\n", 1)[0][:60]
        raise refusal("read-statements", f"{statement!r} is not a read")
    for line in canonical.splitlines():
        if line.startswith(("INTO OUTFILE", "FORMAT ", "SETTINGS ")):
            raise refusal("plain-read", line.strip()[:60])
    previous = ""
    for line in ast.splitlines():
        found = _FUNCTION.match(line)
        if found:
            name = found.group(2).lower()
            in_from = previous.strip().startswith("TableExpression")
            if in_from and name not in SAFE_TABLE_FUNCTIONS:
                raise refusal(
                    "table-functions",
                    f"{found.group(2)}() reaches outside the database "
                    f"(allowed: {', '.join(sorted(SAFE_TABLE_FUNCTIONS))})",
                )
            if name.upper() in UNSAFE_FUNCTIONS:
                raise refusal("no-files", f"function {found.group(2)}() reads files")
        previous = line


def failure(exc: BaseException) -> Refused | QueryFailed:
    """The error to raise for a statement ClickHouse refused or could not run."""
    message = engine_message(exc)
    code = error_code(exc)
    if code == READONLY:
        return refusal("readonly", message)
    if code == ACCESS_DENIED:
        return refusal("grants", message)
    if code == SYNTAX_ERROR and "Multi-statements" in message:
        return refusal("one-statement", message)
    return QueryFailed(message)
