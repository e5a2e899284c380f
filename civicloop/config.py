"""Configuration from environment variables, with defaults that work on a fresh machine.

Every knob an operator may turn is declared once, as a field of :class:`Config` made by
:func:`setting`: its variable, its default as the environment would spell it, what it means,
how its text is read and checked, and how it is written back for a child process. The loader
(:func:`load`), the dataclass defaults, the docs (``VARIABLES``, ``civicloop config``) and
:func:`to_env` all derive from those declarations. To add a setting, add one field.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

N = TypeVar("N", int, float)


@dataclass(frozen=True)
class Setting:
    """One environment variable and how it becomes a :class:`Config` field."""

    env: str  # the variable, CIVICLOOP_…
    default: str  # as the environment would give it
    doc: str  # what it means, for `civicloop config` and the docs
    parse: Callable[[str], Any]  # text → value; ValueError saying what it must be
    show: Callable[[Any], str]  # value → text that parses back to it (``to_env``)
    under_home: bool  # a relative path, resolved under CIVICLOOP_HOME by ``load``


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def setting(
    env: str,
    default: str,
    doc: str,
    parse: Callable[[str], Any] = str.strip,
    *,
    show: Callable[[Any], str] = _text,
    under_home: bool = False,
    required: bool = False,
) -> Any:
    """A :class:`Config` field read from ``env``; its dataclass default is ``parse(default)``
    unless ``required`` (then every Config built by hand names it)."""
    declared = Setting(env, default, doc, parse, show, under_home)
    if required:
        return field(metadata={"setting": declared})
    return field(default=parse(default), metadata={"setting": declared})


# -- how values are read: each returns a parser, raising ValueError with what the value must be --


def _number(
    parse: Callable[[str], N], kind: str, ok: Callable[[N], bool], requirement: str
) -> Callable[[str], N]:
    def read(raw: str) -> N:
        try:
            value = parse(raw)
        except ValueError:
            raise ValueError(f"is not {kind}") from None
        if not ok(value):
            raise ValueError(f"must be {requirement}")
        return value

    return read


def _choice(*allowed: str) -> Callable[[str], str]:
    def read(raw: str) -> str:
        value = raw.strip().lower()
        if value not in allowed:
            raise ValueError(f"must be {' or '.join(allowed)}")
        return value

    return read


_seconds_or_off = _number(float, "a number", lambda v: v >= 0, "0 (off) or a positive number of seconds")
_positive_int = _number(int, "an integer", lambda v: v > 0, "a positive integer")
_port = _number(int, "an integer", lambda v: 0 < v < 65536, "a TCP port (1-65535)")
_processes = _number(int, "an integer", lambda v: v >= 0, "0 (one per core) or more")
_positive_seconds = _number(float, "a number", lambda v: v > 0, "a positive number of seconds")


def _port_range(raw: str) -> tuple[int, int] | None:
    raw = raw.strip()
    if not raw:
        return None
    low, _, high = raw.partition("-")
    try:
        first, last = int(low), int(high)
    except ValueError:
        raise ValueError("must be LOW-HIGH, two port numbers") from None
    if not 1024 <= first < last < 65536 or last - first < 100:
        raise ValueError("must be LOW-HIGH with 1024 <= LOW, LOW + 100 <= HIGH <= 65535")
    return first, last


def _show_port_range(value: tuple[int, int] | None) -> str:
    return f"{value[0]}-{value[1]}" if value else ""


def _optional_path(raw: str) -> Path | None:
    return Path(raw.strip()) if raw.strip() else None


def _windows(raw: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if not names or any(n not in ("hour", "day") for n in names):
        raise ValueError("must be hour, day or hour,day")
    return names


def _public_url(raw: str) -> str:
    raw = raw.strip()
    if not raw:
        return ""
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 -- reading it checks it
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ValueError("must be an http(s) URL without credentials, query or fragment")
    return raw.rstrip("/")


def _named(pattern: str, rule: str, optional: bool = False) -> Callable[[str], str]:
    """A name matching ``pattern`` (``optional``: or empty, the text stripped first)."""

    def read(raw: str) -> str:
        value = raw.strip() if optional else raw
        if (value or not optional) and not re.fullmatch(pattern, value):
            raise ValueError(rule)
        return value

    return read


_namespace = _named(
    r"[A-Za-z][A-Za-z0-9_.-]{0,62}",
    "is not usable: start with a letter, then letters, digits, '_', '.' or '-' (at most 63 characters).",
)
_worker_id = _named(
    r"[A-Za-z0-9_.-]{1,64}",
    "is not usable: letters, digits, '_', '.' or '-' (at most 64 characters), or empty for dynamic "
    "membership.",
    optional=True,
)
_cluster_name = _named(
    r"[A-Za-z_][A-Za-z0-9_]{0,62}",
    "is not a cluster name ClickHouse accepts: letters, digits and '_', not starting with a digit.",
    optional=True,
)


@dataclass(frozen=True)
class Config:
    """One deployment's settings; build with :func:`load`."""

    kafka_bootstrap: str = setting(
        "CIVICLOOP_KAFKA_BOOTSTRAP",
        "",
        "Kafka bootstrap address (host:port,...). Empty: the local broker started by "
        "`civicloop kafka up` / `civicloop up`.",
        required=True,
    )
    clickhouse_url: str = setting(
        "CIVICLOOP_CLICKHOUSE_URL",
        "chdb://var/chdb",
        "ClickHouse: chdb://PATH (embedded chDB on a directory; relative paths are under "
        "CIVICLOOP_HOME) or clickhouse://[user[:password]@]host:port/ (server, native protocol).",
        required=True,
    )
    namespace: str = setting(
        "CIVICLOOP_NAMESPACE",
        "civicloop",
        "Prefix of topic names and name of the ClickHouse database; lets several "
        "deployments or tests share one broker and server.",
        _namespace,
        required=True,
    )
    home: Path = setting(
        "CIVICLOOP_HOME",
        ".",
        "Working directory for local state: var/ (broker data, pid files, logs, chDB).",
        lambda raw: Path(raw).expanduser().resolve(),
        required=True,
    )
    cache: Path = setting(
        "CIVICLOOP_CACHE",
        "~/.cache/civicloop",
        "Download cache: the Kafka jars resolved by Maven.",
        lambda raw: Path(raw).expanduser(),
        required=True,
    )
    partitions: int = setting(
        "CIVICLOOP_PARTITIONS",
        "6",
        "Partitions of the case-events topic when civicloop creates it.",
        _positive_int,
        required=True,
    )
    worker_web_port: int = setting(
        "CIVICLOOP_WORKER_WEB_PORT",
        "6066",
        "HTTP port of the worker (health, lag, read-only SQL for chDB).",
        _positive_int,
        required=True,
    )
    local_ports: tuple[int, int] | None = setting(
        "CIVICLOOP_LOCAL_PORTS",
        "",
        "Loopback ports the local tooling picks from for the servers it starts (broker, "
        "ZooKeeper, ClickHouse, test sites), as LOW-HIGH; empty: from 10000 up to the kernel's "
        "ephemeral range. Two stacks or test processes on one machine each take their own range.",
        _port_range,
        show=_show_port_range,
    )
    clickhouse_cluster: str = setting(
        "CIVICLOOP_CLICKHOUSE_CLUSTER",
        "",
        "Name of a ClickHouse cluster (remote_servers) to shard and replicate the projections "
        "over, through the server CIVICLOOP_CLICKHOUSE_URL names (docs/CLUSTER.md). Empty: one "
        "server or chDB.",
        _cluster_name,  # that it names a server's cluster, the backend checks (projections/backend.py)
    )
    clickhouse_reader_url: str = setting(
        "CIVICLOOP_CLICKHOUSE_READER_URL",
        "",
        "A server only: clickhouse://user:password@host:port/ of a read-only ClickHouse user "
        "(readonly = 1, the namespace's database only) that readers use — `civicloop sql`, the "
        "metric commands, the API and the dashboard; the worker keeps writing as "
        "CIVICLOOP_CLICKHOUSE_URL's user. `civicloop clickhouse up` makes one "
        "(docs/OPERATIONS.md). Empty: readers use CIVICLOOP_CLICKHOUSE_URL.",
    )
    watchdog_interval: float = setting(
        "CIVICLOOP_WATCHDOG_INTERVAL",
        "60",
        "Seconds between SLA watchdog sweeps in the worker (automatic escalation of missed "
        "accept-by / dispose-by deadlines); 0 turns the watchdog off.",
        _seconds_or_off,
    )
    supervisor_backoff: float = setting(
        "CIVICLOOP_SUPERVISOR_BACKOFF",
        "1",
        "Seconds a supervisor (`civicloop up`) waits before it restarts a worker or notifier that "
        "died; doubled at each death in a row up to 30 s, back to this once the child ran 60 s.",
        _positive_seconds,
    )
    shutdown_bound: float = setting(
        "CIVICLOOP_SHUTDOWN_BOUND",
        "8",
        "Seconds a worker's graceful stop (SIGTERM, SIGINT) may take before it exits hard "
        "(exit code 70); what it had in flight is redelivered.",
        _positive_seconds,
    )
    worker_id: str = setting(
        "CIVICLOOP_WORKER_ID",
        "",
        "This worker's stable name in its consumer group (Kafka static membership): restarted "
        "under the same name it takes its partitions back without a group rebalance. Unique per "
        "running worker; `civicloop up` sets one. Empty: dynamic membership.",
        _worker_id,
    )
    keystore: Path = setting(
        "CIVICLOOP_KEYSTORE",
        "var/keys.sqlite",
        "Per-reporter contact keys (crypto-shredding); relative paths are under CIVICLOOP_HOME. "
        "Keep it out of Kafka and ClickHouse, and back it up separately.",
        Path,
        under_home=True,
    )
    signals_interval: float = setting(
        "CIVICLOOP_SIGNALS_INTERVAL",
        "60",
        "Seconds between signal sweeps in the worker (surges, recurring problems; "
        "docs/SIGNALS.md); 0 turns signal detection off.",
        _seconds_or_off,
    )
    signal_windows: tuple[str, ...] = setting(
        "CIVICLOOP_SIGNALS_WINDOWS",
        "hour,day",
        "Surge counting windows: hour, day or both (comma-separated).",
        _windows,
    )
    signal_utc_offset_h: float = setting(
        "CIVICLOOP_SIGNALS_UTC_OFFSET",
        "0",
        "The city's UTC offset in hours (e.g. 8 or -5): day windows are its local days.",
        _number(float, "a number", lambda v: -12 <= v <= 14, "hours from -12 to 14"),
    )
    signal_lateness_s: float = setting(
        "CIVICLOOP_SIGNALS_LATENESS",
        "600",
        "Seconds of report time a window stays open after it ends: a report counts in it unless "
        "its partition carried a report this far past the window's end before it (docs/SIGNALS.md).",
        _seconds_or_off,
    )
    surge_alpha: float = setting(
        "CIVICLOOP_SURGE_ALPHA",
        "0.001",
        "Surge alarm when the count's upper-tail probability is below this.",
        _number(float, "a number", lambda v: 0 < v < 1, "between 0 and 1"),
    )
    surge_min_count: int = setting(
        "CIVICLOOP_SURGE_MIN_COUNT",
        "5",
        "A surge needs at least this many reports in the window.",
        _positive_int,
    )
    surge_weeks: int = setting(
        "CIVICLOOP_SURGE_WEEKS",
        "4",
        "Weeks of same hour-of-week / day-of-week history in a surge baseline.",
        _positive_int,
    )
    recurring_cases: int = setting(
        "CIVICLOOP_RECURRING_CASES",
        "5",
        "Recurring problem: at least this many cases of one category in one grid cell…",
        _number(int, "an integer", lambda v: v >= 2, "an integer of at least 2"),
    )
    recurring_days: int = setting("CIVICLOOP_RECURRING_DAYS", "30", "…within this many days.", _positive_int)
    api_host: str = setting(
        "CIVICLOOP_API_HOST",
        "127.0.0.1",
        "Address `civicloop api` listens on (loopback by default; 0.0.0.0 only behind a proxy "
        "or in a container).",
        lambda raw: raw.strip() or "127.0.0.1",
    )
    api_port: int = setting(
        "CIVICLOOP_API_PORT",
        "8080",
        "Port of `civicloop api` (Open311 GeoReport v2, handling API, OpenAPI docs).",
        _port,
    )
    api_workers: int = setting(
        "CIVICLOOP_API_WORKERS",
        "0",
        "Processes of `civicloop api` serving its one port (`--workers` overrides). 0: one per usable core.",
        _processes,
    )
    api_public_url_setting: str = setting(
        "CIVICLOOP_API_PUBLIC_URL",
        "",
        "The API's address as its clients reach it (e.g. https://311.example.org behind a proxy): "
        "discovery's endpoint URL and every redirect use it, never a request's Host header. "
        "Empty: http://CIVICLOOP_API_HOST:CIVICLOOP_API_PORT.",
        _public_url,
    )
    api_body_timeout: float = setting(
        "CIVICLOOP_API_BODY_TIMEOUT",
        "10",
        "Seconds a client has to send a request's whole body; one that announces more than it "
        "sends, or trickles it, is answered 408 and cut off.",
        _number(float, "a number", lambda v: 0 < v <= 3600, "seconds, 0 < s <= 3600"),
    )
    api_keys_file: Path = setting(
        "CIVICLOOP_API_KEYS",
        "var/api/keys.sqlite",
        "API keys with their roles, stored hashed (`civicloop apikey`); relative paths are under "
        "CIVICLOOP_HOME.",
        Path,
        under_home=True,
    )
    services: Path | None = setting(
        "CIVICLOOP_SERVICES",
        "",
        "Open311 service catalogue (TOML: service_code -> category, department, attributes). "
        "Empty: the packaged example catalogue.",
        _optional_path,
        under_home=True,
    )
    departments: Path | None = setting(
        "CIVICLOOP_DEPARTMENTS",
        "",
        "The departments cases may be dispatched to (TOML: name, display name, contact). "
        "Empty: the packaged example, the simulated city's.",
        _optional_path,
        under_home=True,
    )
    open311_reads: str = setting(
        "CIVICLOOP_OPEN311_READS",
        "public",
        "Open311 reads of service requests and tokens: public (no key, as GeoReport v2 says; "
        "private services' descriptions and media withheld) or key (any valid API key).",
        _choice("public", "key"),
    )
    boundaries: Path | None = setting(
        "CIVICLOOP_BOUNDARIES",
        "",
        'District and grid-cell boundaries (GeoJSON FeatureCollection, docs/API.md "Geography"): '
        "they give every report with coordinates its district and grid. Relative paths are under "
        "CIVICLOOP_HOME. Empty: the packaged demo city (the simulator's).",
        _optional_path,
        under_home=True,
    )
    out_of_area: str = setting(
        "CIVICLOOP_OUT_OF_AREA",
        "refuse",
        "refuse: the API answers 400 to a report whose lat/long is in no district of "
        "CIVICLOOP_BOUNDARIES; accept: it takes the report, without district or grid.",
        _choice("refuse", "accept"),
    )
    fold_processes: int = setting(
        "CIVICLOOP_FOLD_PROCESSES",
        "0",
        "Processes that decode and fold case events for the worker and the replay; the worker's "
        "process writes what they fold (docs/DESIGN.md §8). 0: one per usable core; 1: fold in "
        "the writing process itself.",
        _processes,
    )
    replay_batch: int = setting(
        "CIVICLOOP_REPLAY_BATCH",
        "20000",
        "Events a replay (`civicloop replay`) reads, folds and writes per batch; its progress is "
        "committed after each. Larger batches replay faster and hold more in memory.",
        _positive_int,
    )
    compiled: str = setting(
        "CIVICLOOP_COMPILED",
        "auto",
        "The per-event path (fold, contract check, rows) as built by mypyc (make compiled): auto "
        "runs the build when it matches the sources, else the pure Python; 1 insists on the build; "
        "0 runs the pure Python (docs/DESIGN.md §8). Read once, when a process starts.",
        _choice("auto", "1", "0"),
    )
    notify_db_file: Path = setting(
        "CIVICLOOP_NOTIFY_DB",
        "var/notify/notify.sqlite",
        "The notifier's webhook subscriptions (with their signing secrets) and delivery state "
        "(`civicloop webhook`, docs/NOTIFY.md); relative paths are under CIVICLOOP_HOME.",
        Path,
        under_home=True,
    )
    notify_retry_for: float = setting(
        "CIVICLOOP_NOTIFY_RETRY_FOR",
        "3600",
        "Seconds the notifier keeps retrying a failing delivery (backoff doubling from 1 s to "
        "60 s) before it goes to the failures list (`civicloop webhook failures` / `retry`).",
        _number(float, "a number", lambda v: v >= 0, "0 or more seconds"),
    )
    notify_keep_days: float = setting(
        "CIVICLOOP_NOTIFY_KEEP_DAYS",
        "90",
        "Days the notifier remembers a delivery it finished (delivered, skipped, dropped) before "
        "it forgets it (checked hourly); 0 remembers forever. Within them a re-read of the case "
        "topic (the notifier's group reset to an earlier offset) sends nothing twice; what it "
        "forgot would be sent again (docs/NOTIFY.md).",
        _number(float, "a number", lambda v: v >= 0, "0 (forever) or a positive number of days"),
    )
    smtp_host: str = setting(
        "CIVICLOOP_SMTP_HOST",
        "",
        "SMTP server that carries messages to reporters who left an e-mail address (received, "
        "closed with a feedback link, reopened). Empty: no e-mail is sent.",
    )
    smtp_port: int = setting("CIVICLOOP_SMTP_PORT", "25", "Port of CIVICLOOP_SMTP_HOST.", _port)
    smtp_security: str = setting(
        "CIVICLOOP_SMTP_SECURITY",
        "none",
        "none, starttls or ssl (SMTP over TLS).",
        _choice("none", "starttls", "ssl"),
    )
    smtp_user: str = setting("CIVICLOOP_SMTP_USER", "", "SMTP login user; empty: no login.", str)
    smtp_password: str = setting("CIVICLOOP_SMTP_PASSWORD", "", "SMTP login password.", str)
    smtp_from: str = setting(
        "CIVICLOOP_SMTP_FROM", "civicloop@localhost", "From: address of reporter messages."
    )
    notify_language: str = setting(
        "CIVICLOOP_NOTIFY_LANGUAGE",
        "en",
        "Language of reporter messages when the report named none: en or zh (Simplified Chinese).",
        _choice("en", "zh"),
    )
    feedback_ttl: float = setting(
        "CIVICLOOP_FEEDBACK_TTL",
        "1209600",
        "Seconds a feedback link in a closed case's message stays valid (default 14 days).",
        _number(float, "a number", lambda v: v > 0, "a positive number of seconds"),
    )
    log_level: str = setting("CIVICLOOP_LOG_LEVEL", "info", "debug, info, warning or error.")
    log_format: str = setting(
        "CIVICLOOP_LOG_FORMAT", "console", "console (human) or json (one JSON object a line)."
    )

    @property
    def folders(self) -> int:
        """Processes that fold case events (1: the writing process folds them itself)."""
        return self.fold_processes or len(os.sched_getaffinity(0))

    @property
    def api_processes(self) -> int:
        """Processes of ``civicloop api`` behind its one port."""
        return self.api_workers or len(os.sched_getaffinity(0))

    @property
    def signals_topic(self) -> str:
        return f"{self.namespace}.signals"

    @property
    def events_topic(self) -> str:
        return f"{self.namespace}.case-events"

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.namespace}.dead-letter"

    @property
    def contract_topic(self) -> str:
        """Where each revision of the event contract took effect (projections/contract.py)."""
        return f"{self.namespace}.contract"

    @property
    def database(self) -> str:
        # Topic names allow dots and dashes; ClickHouse identifiers are safest as [a-z0-9_].
        return re.sub(r"[^0-9A-Za-z_]", "_", self.namespace)

    @property
    def consumer_group(self) -> str:
        return f"{self.namespace}-projector"

    @property
    def var(self) -> Path:
        return self.home / "var"

    @property
    def api_public_url(self) -> str:
        """The API's base URL as clients reach it, without a trailing slash."""
        if self.api_public_url_setting:
            return self.api_public_url_setting.rstrip("/")
        host = "127.0.0.1" if self.api_host in ("", "0.0.0.0") else self.api_host
        host = "[::1]" if host == "::" else f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.api_port}"

    @property
    def api_keys(self) -> Path:
        """The API key store (hashed keys and their roles): ``load`` gives an absolute path,
        a Config built by hand may leave the default, under ``home``."""
        return self.home / self.api_keys_file

    @property
    def notify_db(self) -> Path:
        """The notifier's subscriptions and delivery state (under ``home`` when relative)."""
        return self.home / self.notify_db_file

    @property
    def notifier_group(self) -> str:
        return f"{self.namespace}-notifier"

    @property
    def worker_token_file(self) -> Path:
        """The worker's local credential for its SQL and replay views (civicloop/localauth.py)."""
        return self.var / f"worker-{self.worker_web_port}.token"

    @property
    def local_broker_file(self) -> Path:
        """Where the local broker (``civicloop kafka up``) records its bootstrap address while
        it runs: written by ``tools/local``, read by ``streams`` (so neither imports the other)."""
        return self.var / "kafka" / "bootstrap"

    @property
    def local_broker_address_file(self) -> Path:
        """Where the local broker listens whenever it runs: its ports are chosen once and kept,
        so this file stays while the broker is down and a worker knows where to wait for it."""
        return self.var / "kafka" / "address"


#: every setting, in declaration order: (the Config field, its declaration)
SETTINGS: tuple[tuple[str, Setting], ...] = tuple((f.name, f.metadata["setting"]) for f in fields(Config))
#: variable → (default, meaning): what `civicloop config` and the docs list
VARIABLES: dict[str, tuple[str, str]] = {s.env: (s.default, s.doc) for _, s in SETTINGS}


def env(name: str) -> str:
    """The text of setting ``name`` in this process's environment, or its default."""
    return os.environ.get(name, VARIABLES[name][0])


def load() -> Config:
    """Read the environment; raise ValueError naming the variable when a value is unusable."""
    values = {name: _read(declared) for name, declared in SETTINGS}
    home: Path = values["home"]
    for name, declared in SETTINGS:
        if declared.under_home and values[name] is not None:
            values[name] = home / values[name]
    return Config(**values)


def value(name: str) -> Any:
    """The value of the one setting of Config field ``name`` (what ``load`` would give it)."""
    return _read(dict(SETTINGS)[name])


def _read(declared: Setting) -> Any:
    raw = env(declared.env)
    try:
        return declared.parse(raw)
    except ValueError as exc:
        reason = str(exc)
        message = reason if reason.startswith(declared.env) else f"{declared.env}={raw!r} {reason}"
        raise ValueError(message) from None


def boundaries_file() -> Path | None:
    """The boundaries file ``CIVICLOOP_BOUNDARIES`` names (under CIVICLOOP_HOME when relative),
    or None for the packaged demo city."""
    named = _optional_path(env("CIVICLOOP_BOUNDARIES"))
    return Path(env("CIVICLOOP_HOME")).expanduser().resolve() / named if named else None


def to_env(config: Config) -> dict[str, str]:
    """The environment variables that make :func:`load` return ``config`` (for child processes)."""
    return {declared.env: declared.show(getattr(config, name)) for name, declared in SETTINGS}
