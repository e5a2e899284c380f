"""Which statements a reader may send: the rules every SQL entry point applies first, on every
backend, to the text as sent.

ClickHouse's ``readonly = 1`` stops writes, DDL and settings, but still runs ``KILL QUERY``
(which stops other sessions' queries, the worker's writes included), ``USE``, ``OPTIMIZE`` on
some versions, and the ``FORMAT`` / ``INTO OUTFILE`` clauses of a SELECT; and on the server
(ClickHouse 18.16) nothing else parses a statement for civicloop before it runs. So the text
is split into tokens by sqlglot's ClickHouse tokenizer — comments, string literals and quoted
identifiers are tokens of their own, never words, so ``/* ; */``, ``'KILL'`` or ```FORMAT```
fool nothing — and each rule below is checked on the words outside them. A refusal names its
rule (:data:`RULES`), so the caller knows what to change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from sqlglot.dialects.clickhouse import ClickHouse
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

#: the statements a reader may run, by their first word
READ_STATEMENTS = frozenset({"SELECT", "WITH", "DESCRIBE", "DESC", "SHOW"})
#: clauses a read may not carry: the output stays rows for the caller, and settings stay the
#: reader's (``FORMAT x`` but not the table function ``format(…)``)
CLAUSES = {
    "FORMAT": "the output format is the caller's to pick (e.g. civicloop's --format), not the statement's",
    "SETTINGS": "settings are not the statement's to change",
    "INTO": "results come back to you, never into files on the machine that runs ClickHouse (INTO OUTFILE)",
}
#: scalar and table functions that reach outside the database even under readonly = 1
#: (``file()`` reads any file the server can, the key store included)
UNSAFE_FUNCTIONS = frozenset({"FILE", "CATBOOSTEVALUATE"})
#: the rules, named in every refusal
RULES = {
    "tokens": "the text must split into ClickHouse SQL tokens (no unclosed string or comment)",
    "one-statement": "one statement at a time",
    "read-statements": "only SELECT, WITH … SELECT, DESCRIBE and SHOW may run here",
    "plain-read": "a read may not carry FORMAT, SETTINGS or INTO OUTFILE",
    "no-files": "no function that reads files",
    "table-functions": "no table function but the generators (numbers, values, …)",
    "readonly": "ClickHouse's readonly = 1: no writes, DDL or settings",
    "grants": "the reader user may read the projection database only",
}
#: tokens whose text is a value or a quoted name, never a keyword
_QUOTED = frozenset(
    getattr(TokenType, name)
    for name in (
        "STRING",
        "IDENTIFIER",
        "NUMBER",
        "HEX_STRING",
        "BIT_STRING",
        "BYTE_STRING",
        "NATIONAL_STRING",
        "RAW_STRING",
        "HEREDOC_STRING",
        "UNICODE_STRING",
    )
    if hasattr(TokenType, name)
)


class _Tokenizer(ClickHouse.Tokenizer):
    # sqlglot passes the rest of a SHOW (or RENAME, EXECUTE, …) on as one opaque string;
    # every word of the text must be a token of its own here.
    COMMANDS: ClassVar[set[TokenType]] = set()


_TOKENIZER = _Tokenizer


class Refused(ValueError):
    """The statement may not run through a read-only entry point; the message says why."""


def check(sql: str) -> None:
    """Raise :class:`Refused` naming the rule ``sql`` breaks, if any; return when it is one
    plain read. Text the tokenizer cannot split (an unclosed string or comment) is refused too:
    what the rules cannot read, they do not let through."""
    try:
        tokens = _TOKENIZER().tokenize(sql)
    except TokenError as exc:
        raise refusal("tokens", str(exc).splitlines()[0][:120]) from None
    if not tokens:
        return
    _one_statement(tokens)
    _read_statement(tokens)
    for index, token in enumerate(tokens):
        word = _word(token)
        called = index + 1 < len(tokens) and tokens[index + 1].token_type == TokenType.L_PAREN
        if word in CLAUSES and not called:
            _refuse("plain-read", f"{word}: {CLAUSES[word]}")
        if word in UNSAFE_FUNCTIONS and called:
            _refuse("no-files", f"function {token.text}() reads files")


def _one_statement(tokens: Sequence[Token]) -> None:
    ends = [i for i, token in enumerate(tokens) if token.token_type == TokenType.SEMICOLON]
    if ends and any(token.token_type != TokenType.SEMICOLON for token in tokens[ends[0] :]):
        _refuse("one-statement", "the text holds more than one statement")


def _read_statement(tokens: Sequence[Token]) -> None:
    words = [_word(t) for t in tokens if t.token_type != TokenType.L_PAREN]
    first = words[0] if words else ""
    if first not in READ_STATEMENTS:
        shown = first or tokens[0].text
        _refuse("read-statements", f"{shown[:40]!r} is not a read")
    if first == "WITH" and _statement_after_with(tokens) != "SELECT":
        _refuse("read-statements", "WITH must introduce a SELECT")


def _statement_after_with(tokens: Sequence[Token]) -> str:
    """The first statement word outside parentheses after a leading WITH (``WITH 1 AS x
    SELECT …`` → SELECT; ``WITH 1 AS x INSERT …`` → INSERT)."""
    depth = 0
    for token in tokens[1:]:
        if token.token_type == TokenType.L_PAREN:
            depth += 1
        elif token.token_type == TokenType.R_PAREN:
            depth -= 1
        elif depth == 0 and _word(token) in _STATEMENT_WORDS:
            return _word(token)
    return ""


_STATEMENT_WORDS = frozenset(
    {"SELECT", "INSERT", "ALTER", "CREATE", "DROP", "DELETE", "UPDATE", "OPTIMIZE", "KILL"}
)


def _word(token: Token) -> str:
    """The keyword or bare name a token is, upper-cased; "" for literals and quoted names."""
    if token.token_type in _QUOTED:
        return ""
    return token.text.upper()


def refusal(rule: str, detail: str) -> Refused:
    """The refusal for breaking ``rule`` (a key of :data:`RULES`), saying how."""
    return Refused(f"refused by the rule {rule!r} ({RULES[rule]}): {detail}")


def _refuse(rule: str, detail: str) -> None:
    raise refusal(rule, detail)
