"""Configuration from environment variables, with defaults that work on a fresh machine.

Every knob an operator may turn is listed here once; the README's configuration table is
generated from ``VARIABLES`` (see ``civicloop config``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

N = TypeVar("N", int, float)

VARIABLES: dict[str, tuple[str, str]] = {
    "CIVICLOOP_KAFKA_BOOTSTRAP": (
        "",
        "Kafka bootstrap address (host:port,...). Empty: the local broker started by "
        "`civicloop kafka up` / `civicloop up`.",
    ),
    "CIVICLOOP_CLICKHOUSE_URL": (
        "chdb://var/chdb",
        "ClickHouse: chdb://PATH (embedded chDB on a directory; relative paths are under "
        "CIVICLOOP_HOME) or clickhouse://[user[:password]@]host:port/ (server, native protocol).",
    ),
    "CIVICLOOP_CLICKHOUSE_CLUSTER": (
        "",
        "Name of a ClickHouse cluster (remote_servers) to shard and replicate the projections "
        "over, through the server CIVICLOOP_CLICKHOUSE_URL names (docs/CLUSTER.md). Empty: one "
        "server or chDB.",
    ),
    "CIVICLOOP_CLICKHOUSE_READER_URL": (
        "",
        "A server only: clickhouse://user:password@host:port/ of a read-only ClickHouse user "
        "(readonly = 1, the namespace's database only) that readers use — `civicloop sql`, the "
        "metric commands, the API and the dashboard; the worker keeps writing as "
        "CIVICLOOP_CLICKHOUSE_URL's user. `civicloop clickhouse up` makes one "
        "(docs/OPERATIONS.md). Empty: readers use CIVICLOOP_CLICKHOUSE_URL.",
    ),
    "CIVICLOOP_NAMESPACE": (
        "civicloop",
        "Prefix of topic names and name of the ClickHouse database; lets several "
        "deployments or tests share one broker and server.",
    ),
    "CIVICLOOP_HOME": (".", "Working directory for local state: var/ (broker data, pid files, logs, chDB)."),
    "CIVICLOOP_CACHE": ("~/.cache/civicloop", "Download cache: the Kafka jars resolved by Maven."),
    "CIVICLOOP_PARTITIONS": ("6", "Partitions of the case-events topic when civicloop creates it."),
    "CIVICLOOP_WORKER_WEB_PORT": ("6066", "HTTP port of the worker (health, lag, read-only SQL for chDB)."),
    "CIVICLOOP_WATCHDOG_INTERVAL": (
        "60",
        "Seconds between SLA watchdog sweeps in the worker (automatic escalation of missed "
        "accept-by / dispose-by deadlines); 0 turns the watchdog off.",
    ),
    "CIVICLOOP_WORKER_ID": (
        "",
        "This worker's stable name in its consumer group (Kafka static membership): restarted "
        "under the same name it takes its partitions back without a group rebalance. Unique per "
        "running worker; `civicloop up` sets one. Empty: dynamic membership.",
    ),
    "CIVICLOOP_KEYSTORE": (
        "var/keys.sqlite",
        "Per-reporter contact keys (crypto-shredding); relative paths are under CIVICLOOP_HOME. "
        "Keep it out of Kafka and ClickHouse, and back it up separately.",
    ),
    "CIVICLOOP_SIGNALS_INTERVAL": (
        "60",
        "Seconds between signal sweeps in the worker (surges, recurring problems; "
        "docs/SIGNALS.md); 0 turns signal detection off.",
    ),
    "CIVICLOOP_SIGNALS_WINDOWS": ("hour,day", "Surge counting windows: hour, day or both (comma-separated)."),
    "CIVICLOOP_SIGNALS_UTC_OFFSET": (
        "0",
        "The city's UTC offset in hours (e.g. 8 or -5): day windows are its local days.",
    ),
    "CIVICLOOP_SIGNALS_LATENESS": (
        "600",
        "Seconds of report time a window stays open after it ends: a report counts in it unless "
        "its partition carried a report this far past the window's end before it (docs/SIGNALS.md).",
    ),
    "CIVICLOOP_SURGE_ALPHA": ("0.001", "Surge alarm when the count's upper-tail probability is below this."),
    "CIVICLOOP_SURGE_MIN_COUNT": ("5", "A surge needs at least this many reports in the window."),
    "CIVICLOOP_SURGE_WEEKS": ("4", "Weeks of same hour-of-week / day-of-week history in a surge baseline."),
    "CIVICLOOP_RECURRING_CASES": (
        "5",
        "Recurring problem: at least this many cases of one category in one grid cell…",
    ),
    "CIVICLOOP_RECURRING_DAYS": ("30", "…within this many days."),
    "CIVICLOOP_API_HOST": (
        "127.0.0.1",
        "Address `civicloop api` listens on (loopback by default; 0.0.0.0 only behind a proxy "
        "or in a container).",
    ),
    "CIVICLOOP_API_PORT": (
        "8080",
        "Port of `civicloop api` (Open311 GeoReport v2, handling API, OpenAPI docs).",
    ),
    "CIVICLOOP_API_WORKERS": (
        "0",
        "Processes of `civicloop api` serving its one port (`--workers` overrides). 0: one per usable core.",
    ),
    "CIVICLOOP_API_PUBLIC_URL": (
        "",
        "The API's address as its clients reach it (e.g. https://311.example.org behind a proxy): "
        "discovery's endpoint URL and every redirect use it, never a request's Host header. "
        "Empty: http://CIVICLOOP_API_HOST:CIVICLOOP_API_PORT.",
    ),
    "CIVICLOOP_API_BODY_TIMEOUT": (
        "10",
        "Seconds a client has to send a request's whole body; one that announces more than it "
        "sends, or trickles it, is answered 408 and cut off.",
    ),
    "CIVICLOOP_API_KEYS": (
        "var/api/keys.sqlite",
        "API keys with their roles, stored hashed (`civicloop apikey`); relative paths are under "
        "CIVICLOOP_HOME.",
    ),
    "CIVICLOOP_SERVICES": (
        "",
        "Open311 service catalogue (TOML: service_code -> category, department, attributes). "
        "Empty: the packaged example catalogue.",
    ),
    "CIVICLOOP_DEPARTMENTS": (
        "",
        "The departments cases may be dispatched to (TOML: name, display name, contact). "
        "Empty: the packaged example, the simulated city's.",
    ),
    "CIVICLOOP_OPEN311_READS": (
        "public",
        "Open311 reads of service requests and tokens: public (no key, as GeoReport v2 says; "
        "private services' descriptions and media withheld) or key (any valid API key).",
    ),
    "CIVICLOOP_BOUNDARIES": (
        "",
        'District and grid-cell boundaries (GeoJSON FeatureCollection, docs/API.md "Geography"): '
        "they give every report with coordinates its district and grid. Relative paths are under "
        "CIVICLOOP_HOME. Empty: the packaged demo city (the simulator's).",
    ),
    "CIVICLOOP_OUT_OF_AREA": (
        "refuse",
        "refuse: the API answers 400 to a report whose lat/long is in no district of "
        "CIVICLOOP_BOUNDARIES; accept: it takes the report, without district or grid.",
    ),
    "CIVICLOOP_FOLD_PROCESSES": (
        "0",
        "Processes that decode and fold case events for the worker and the replay; the worker's "
        "process writes what they fold (docs/DESIGN.md §8). 0: one per usable core; 1: fold in "
        "the writing process itself.",
    ),
    "CIVICLOOP_NOTIFY_DB": (
        "var/notify/notify.sqlite",
        "The notifier's webhook subscriptions (with their signing secrets) and delivery state "
        "(`civicloop webhook`, docs/NOTIFY.md); relative paths are under CIVICLOOP_HOME.",
    ),
    "CIVICLOOP_NOTIFY_RETRY_FOR": (
        "3600",
        "Seconds the notifier keeps retrying a failing delivery (backoff doubling from 1 s to "
        "60 s) before it goes to the failures list (`civicloop webhook failures` / `retry`).",
    ),
    "CIVICLOOP_SMTP_HOST": (
        "",
        "SMTP server that carries messages to reporters who left an e-mail address (received, "
        "closed with a feedback link, reopened). Empty: no e-mail is sent.",
    ),
    "CIVICLOOP_SMTP_PORT": ("25", "Port of CIVICLOOP_SMTP_HOST."),
    "CIVICLOOP_SMTP_SECURITY": ("none", "none, starttls or ssl (SMTP over TLS)."),
    "CIVICLOOP_SMTP_USER": ("", "SMTP login user; empty: no login."),
    "CIVICLOOP_SMTP_PASSWORD": ("", "SMTP login password."),
    "CIVICLOOP_SMTP_FROM": ("civicloop@localhost", "From: address of reporter messages."),
    "CIVICLOOP_NOTIFY_LANGUAGE": (
        "en",
        "Language of reporter messages when the report named none: en or zh (Simplified Chinese).",
    ),
    "CIVICLOOP_FEEDBACK_TTL": (
        "1209600",
        "Seconds a feedback link in a closed case's message stays valid (default 14 days).",
    ),
    "CIVICLOOP_LOG_LEVEL": ("info", "debug, info, warning or error."),
    "CIVICLOOP_LOG_FORMAT": ("console", "console (human) or json (one JSON object a line)."),
}


def _env(name: str) -> str:
    return os.environ.get(name, VARIABLES[name][0])


@dataclass(frozen=True)
class Config:
    """One deployment's settings; build with :func:`load`."""

    kafka_bootstrap: str
    clickhouse_url: str
    namespace: str
    home: Path
    cache: Path
    partitions: int
    worker_web_port: int
    watchdog_interval: float = 60.0
    keystore: Path = Path("var/keys.sqlite")
    signals_interval: float = 60.0
    signal_windows: tuple[str, ...] = ("hour", "day")
    signal_utc_offset_h: float = 0.0
    signal_lateness_s: float = 600.0
    surge_alpha: float = 0.001
    surge_min_count: int = 5
    surge_weeks: int = 4
    recurring_cases: int = 5
    recurring_days: int = 30

    @property
    def signals_topic(self) -> str:
        return f"{self.namespace}.signals"

    clickhouse_cluster: str = ""
    clickhouse_reader_url: str = ""  # "": readers use clickhouse_url
    worker_id: str = ""
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    api_workers: int = 0  # 0: one per usable core (see ``api_processes``)
    api_keys_file: Path | None = None  # None: var/api/keys.sqlite under home
    api_public_url_setting: str = ""  # empty: derived from api_host and api_port
    api_body_timeout: float = 10.0
    services: Path | None = None  # None: the packaged example catalogue
    departments: Path | None = None  # None: the packaged example departments
    open311_reads: str = "public"  # public: Open311 GETs need no key; key: they need one
    fold_processes: int = 0  # 0: one per usable core (see ``folders``)
    boundaries: Path | None = None  # None: the packaged demo city (civicloop/geography.py)
    out_of_area: str = "refuse"  # or "accept"
    notify_db_file: Path | None = None  # None: var/notify/notify.sqlite under home
    notify_retry_for: float = 3600.0
    smtp_host: str = ""  # "": reporters get no e-mail
    smtp_port: int = 25
    smtp_security: str = "none"  # none | starttls | ssl
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = "civicloop@localhost"
    notify_language: str = "en"
    feedback_ttl: float = 1209600.0

    @property
    def folders(self) -> int:
        """Processes that fold case events (1: the writing process folds them itself)."""
        return self.fold_processes or len(os.sched_getaffinity(0))

    @property
    def api_processes(self) -> int:
        """Processes of ``civicloop api`` behind its one port."""
        return self.api_workers or len(os.sched_getaffinity(0))

    @property
    def events_topic(self) -> str:
        return f"{self.namespace}.case-events"

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.namespace}.dead-letter"

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
        """The API key store (hashed keys and their roles)."""
        return self.api_keys_file or self.var / "api" / "keys.sqlite"

    @property
    def notify_db(self) -> Path:
        """The notifier's subscriptions and delivery state."""
        return self.notify_db_file or self.var / "notify" / "notify.sqlite"

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


def load() -> Config:
    """Read the environment; raise ValueError naming the variable when a value is unusable."""
    home = Path(_env("CIVICLOOP_HOME")).expanduser().resolve()
    return Config(
        kafka_bootstrap=_env("CIVICLOOP_KAFKA_BOOTSTRAP").strip(),
        clickhouse_url=_env("CIVICLOOP_CLICKHOUSE_URL").strip(),
        namespace=_checked_namespace(_env("CIVICLOOP_NAMESPACE")),
        home=home,
        cache=Path(_env("CIVICLOOP_CACHE")).expanduser(),
        partitions=_positive_int("CIVICLOOP_PARTITIONS"),
        worker_web_port=_positive_int("CIVICLOOP_WORKER_WEB_PORT"),
        watchdog_interval=_non_negative_float("CIVICLOOP_WATCHDOG_INTERVAL"),
        keystore=home / _env("CIVICLOOP_KEYSTORE"),
        signals_interval=_non_negative_float("CIVICLOOP_SIGNALS_INTERVAL"),
        signal_windows=_windows("CIVICLOOP_SIGNALS_WINDOWS"),
        signal_utc_offset_h=_number(
            "CIVICLOOP_SIGNALS_UTC_OFFSET",
            float,
            "a number",
            lambda v: -12 <= v <= 14,
            "hours from -12 to 14",
        ),
        signal_lateness_s=_non_negative_float("CIVICLOOP_SIGNALS_LATENESS"),
        surge_alpha=_number(
            "CIVICLOOP_SURGE_ALPHA", float, "a number", lambda v: 0 < v < 1, "between 0 and 1"
        ),
        surge_min_count=_positive_int("CIVICLOOP_SURGE_MIN_COUNT"),
        surge_weeks=_positive_int("CIVICLOOP_SURGE_WEEKS"),
        recurring_cases=_number(
            "CIVICLOOP_RECURRING_CASES", int, "an integer", lambda v: v >= 2, "an integer of at least 2"
        ),
        recurring_days=_positive_int("CIVICLOOP_RECURRING_DAYS"),
        clickhouse_cluster=_checked_cluster(_env("CIVICLOOP_CLICKHOUSE_CLUSTER").strip()),
        clickhouse_reader_url=_checked_reader_url(_env("CIVICLOOP_CLICKHOUSE_READER_URL").strip()),
        worker_id=_checked_worker_id(_env("CIVICLOOP_WORKER_ID").strip()),
        api_host=_env("CIVICLOOP_API_HOST").strip() or "127.0.0.1",
        api_port=_port("CIVICLOOP_API_PORT"),
        api_workers=_number(
            "CIVICLOOP_API_WORKERS", int, "an integer", lambda v: v >= 0, "0 (one per core) or more"
        ),
        api_keys_file=home / _env("CIVICLOOP_API_KEYS"),
        api_public_url_setting=_public_url("CIVICLOOP_API_PUBLIC_URL"),
        api_body_timeout=_number(
            "CIVICLOOP_API_BODY_TIMEOUT", float, "a number", lambda v: 0 < v <= 3600, "seconds, 0 < s <= 3600"
        ),
        services=home / services if (services := _env("CIVICLOOP_SERVICES").strip()) else None,
        departments=home / found if (found := _env("CIVICLOOP_DEPARTMENTS").strip()) else None,
        open311_reads=_choice("CIVICLOOP_OPEN311_READS", ("public", "key")),
        fold_processes=_number(
            "CIVICLOOP_FOLD_PROCESSES", int, "an integer", lambda v: v >= 0, "0 (one per core) or more"
        ),
        boundaries=boundaries_file(),
        out_of_area=_choice("CIVICLOOP_OUT_OF_AREA", ("refuse", "accept")),
        notify_db_file=home / _env("CIVICLOOP_NOTIFY_DB"),
        notify_retry_for=_number(
            "CIVICLOOP_NOTIFY_RETRY_FOR", float, "a number", lambda v: v >= 0, "0 or more seconds"
        ),
        smtp_host=_env("CIVICLOOP_SMTP_HOST").strip(),
        smtp_port=_port("CIVICLOOP_SMTP_PORT"),
        smtp_security=_choice("CIVICLOOP_SMTP_SECURITY", ("none", "starttls", "ssl")),
        smtp_user=_env("CIVICLOOP_SMTP_USER"),
        smtp_password=_env("CIVICLOOP_SMTP_PASSWORD"),
        smtp_from=_env("CIVICLOOP_SMTP_FROM").strip(),
        notify_language=_choice("CIVICLOOP_NOTIFY_LANGUAGE", ("en", "zh")),
        feedback_ttl=_number(
            "CIVICLOOP_FEEDBACK_TTL", float, "a number", lambda v: v > 0, "a positive number of seconds"
        ),
    )


def boundaries_file() -> Path | None:
    """The boundaries file ``CIVICLOOP_BOUNDARIES`` names (under CIVICLOOP_HOME when relative),
    or None for the packaged demo city."""
    named = _env("CIVICLOOP_BOUNDARIES").strip()
    return Path(_env("CIVICLOOP_HOME")).expanduser().resolve() / named if named else None


def _choice(name: str, allowed: tuple[str, ...]) -> str:
    raw = _env(name)
    value = raw.strip().lower()
    if value not in allowed:
        raise ValueError(f"{name}={raw!r} must be {' or '.join(allowed)}")
    return value


def _public_url(name: str) -> str:
    raw = _env(name).strip()
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
        raise ValueError(f"{name}={raw!r} must be an http(s) URL without credentials, query or fragment")
    return raw.rstrip("/")


def _windows(name: str) -> tuple[str, ...]:
    raw = _env(name)
    names = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if not names or any(n not in ("hour", "day") for n in names):
        raise ValueError(f"{name}={raw!r} must be hour, day or hour,day")
    return names


def _checked_namespace(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]{0,62}", value):
        raise ValueError(
            f"CIVICLOOP_NAMESPACE={value!r} is not usable: start with a letter, then letters, "
            "digits, '_', '.' or '-' (at most 63 characters)."
        )
    return value


def _checked_cluster(value: str) -> str:
    if value and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", value):
        raise ValueError(
            f"CIVICLOOP_CLICKHOUSE_CLUSTER={value!r} is not a cluster name ClickHouse accepts: "
            "letters, digits and '_', not starting with a digit."
        )
    if value and not _env("CIVICLOOP_CLICKHOUSE_URL").strip().startswith("clickhouse://"):
        raise ValueError(
            f"CIVICLOOP_CLICKHOUSE_CLUSTER={value!r} needs a server: set CIVICLOOP_CLICKHOUSE_URL "
            "to clickhouse://host:port/ of one of the cluster's nodes (chDB is a single node)."
        )
    return value


def _checked_reader_url(value: str) -> str:
    if value and not (
        value.startswith("clickhouse://")
        and _env("CIVICLOOP_CLICKHOUSE_URL").strip().startswith("clickhouse://")
    ):
        raise ValueError(
            "CIVICLOOP_CLICKHOUSE_READER_URL must be clickhouse://user:password@host:port/ of a server's "
            "read-only user, with CIVICLOOP_CLICKHOUSE_URL a server too (chDB readers go through the "
            "worker, which runs them read-only already)."
        )
    return value


def _checked_worker_id(value: str) -> str:
    if value and not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", value):
        raise ValueError(
            f"CIVICLOOP_WORKER_ID={value!r} is not usable: letters, digits, '_', '.' or '-' "
            "(at most 64 characters), or empty for dynamic membership."
        )
    return value


def _non_negative_float(name: str) -> float:
    return _number(name, float, "a number", lambda v: v >= 0, "0 (off) or a positive number of seconds")


def _positive_int(name: str) -> int:
    return _number(name, int, "an integer", lambda v: v > 0, "a positive integer")


def _port(name: str) -> int:
    return _number(name, int, "an integer", lambda v: 0 < v < 65536, "a TCP port (1-65535)")


def _number(name: str, parse: Callable[[str], N], kind: str, ok: Callable[[N], bool], requirement: str) -> N:
    """``name``'s value parsed, or a ValueError naming the variable, the value and the rule."""
    raw = _env(name)
    try:
        value = parse(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not {kind}") from None
    if not ok(value):
        raise ValueError(f"{name}={raw!r} must be {requirement}")
    return value


def to_env(config: Config) -> dict[str, str]:
    """The environment variables that make :func:`load` return ``config`` (for child processes)."""
    return {
        "CIVICLOOP_KAFKA_BOOTSTRAP": config.kafka_bootstrap,
        "CIVICLOOP_CLICKHOUSE_URL": config.clickhouse_url,
        "CIVICLOOP_CLICKHOUSE_CLUSTER": config.clickhouse_cluster,
        "CIVICLOOP_CLICKHOUSE_READER_URL": config.clickhouse_reader_url,
        "CIVICLOOP_NAMESPACE": config.namespace,
        "CIVICLOOP_HOME": str(config.home),
        "CIVICLOOP_CACHE": str(config.cache),
        "CIVICLOOP_PARTITIONS": str(config.partitions),
        "CIVICLOOP_WORKER_WEB_PORT": str(config.worker_web_port),
        "CIVICLOOP_WATCHDOG_INTERVAL": str(config.watchdog_interval),
        "CIVICLOOP_KEYSTORE": str(config.keystore),
        "CIVICLOOP_SIGNALS_INTERVAL": str(config.signals_interval),
        "CIVICLOOP_SIGNALS_WINDOWS": ",".join(config.signal_windows),
        "CIVICLOOP_SIGNALS_UTC_OFFSET": str(config.signal_utc_offset_h),
        "CIVICLOOP_SIGNALS_LATENESS": str(config.signal_lateness_s),
        "CIVICLOOP_SURGE_ALPHA": str(config.surge_alpha),
        "CIVICLOOP_SURGE_MIN_COUNT": str(config.surge_min_count),
        "CIVICLOOP_SURGE_WEEKS": str(config.surge_weeks),
        "CIVICLOOP_RECURRING_CASES": str(config.recurring_cases),
        "CIVICLOOP_RECURRING_DAYS": str(config.recurring_days),
        "CIVICLOOP_WORKER_ID": config.worker_id,
        "CIVICLOOP_API_HOST": config.api_host,
        "CIVICLOOP_API_PORT": str(config.api_port),
        "CIVICLOOP_API_WORKERS": str(config.api_workers),
        "CIVICLOOP_API_KEYS": str(config.api_keys),
        "CIVICLOOP_API_PUBLIC_URL": config.api_public_url_setting,
        "CIVICLOOP_API_BODY_TIMEOUT": str(config.api_body_timeout),
        "CIVICLOOP_SERVICES": str(config.services or ""),
        "CIVICLOOP_DEPARTMENTS": str(config.departments or ""),
        "CIVICLOOP_OPEN311_READS": config.open311_reads,
        "CIVICLOOP_FOLD_PROCESSES": str(config.fold_processes),
        "CIVICLOOP_BOUNDARIES": str(config.boundaries or ""),
        "CIVICLOOP_OUT_OF_AREA": config.out_of_area,
        "CIVICLOOP_NOTIFY_DB": str(config.notify_db),
        "CIVICLOOP_NOTIFY_RETRY_FOR": str(config.notify_retry_for),
        "CIVICLOOP_SMTP_HOST": config.smtp_host,
        "CIVICLOOP_SMTP_PORT": str(config.smtp_port),
        "CIVICLOOP_SMTP_SECURITY": config.smtp_security,
        "CIVICLOOP_SMTP_USER": config.smtp_user,
        "CIVICLOOP_SMTP_PASSWORD": config.smtp_password,
        "CIVICLOOP_SMTP_FROM": config.smtp_from,
        "CIVICLOOP_NOTIFY_LANGUAGE": config.notify_language,
        "CIVICLOOP_FEEDBACK_TTL": str(config.feedback_ttl),
    }
