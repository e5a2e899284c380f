"""structlog set-up: key-value events to stderr, console or JSON."""

from __future__ import annotations

import logging
import sys

import structlog

from civicloop import config


def configure(level: str | None = None, fmt: str | None = None) -> None:
    """Configure structlog and the stdlib root logger once per process."""
    level_name = (level or config.env("CIVICLOOP_LOG_LEVEL")).upper()
    numeric = getattr(logging, level_name, logging.INFO)
    renderer: structlog.types.Processor
    if (fmt or config.env("CIVICLOOP_LOG_FORMAT")) == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr)


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is now (test runners swap and close it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def get(name: str) -> structlog.typing.FilteringBoundLogger:
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger
