"""``civicloop bench api``: Open311 POSTs over HTTP against the bare SDK producer, same run.

A real ``civicloop api`` on a throwaway namespace (its own topics, key stores and port), with
one process and then with N processes behind the port (``--workers``, default one per core),
is loaded by Debian's ``wrk`` at a fixed concurrency for a fixed time, after a warm-up:
every request is a form-encoded Open311 POST with a contact, so each one is checked, sealed,
validated, produced and acknowledged by Kafka before it is answered. wrk reports requests/s
and latency percentiles. The ceiling is the SDK doing the same work in-process with no HTTP:
the same CaseReported built by ``new_event`` with its contact sealed, sent by EventProducer,
flushed (fastest of three rounds). Afterwards the topic must hold one event per successful POST.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from confluent_kafka import Consumer, TopicPartition

from civicloop.api import catalogue, intake
from civicloop.api.keys import ApiKeyStore
from civicloop.config import Config
from civicloop.privacy import KeyStore
from civicloop.streams.producer import EventProducer
from civicloop.tools.bench import broker
from civicloop.tools.bench.report import Figure, Ratio, Result
from civicloop.tools.local.api_server import api_process, api_url, start_api
from civicloop.tools.local.maven import ToolMissing

RATIOS = [Ratio("api_vs_sdk", "Open311 POST over HTTP / SDK produce", "open311_post", "sdk_produce")]
RATIO_WORKERS = Ratio(
    "api_workers_vs_sdk", "Open311 POST, N API processes / SDK produce", "open311_post_workers", "sdk_produce"
)
FORM = {
    "service_code": "POTHOLE",
    "lat": "31.2815",
    "long": "121.4312",  # in the demo city (the default boundaries)
    "attribute[SIZE]": "medium",
    "description": "A deep pothole in the right lane, near the bus stop.",
    "email": "bench.reporter@example.org",
    "phone": "+1 410 555 0100",
}
WARM_UP_S = 3
SDK_ROUNDS = 3
_LATENCY = re.compile(r"^\s*(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def run(
    config: Config,
    seconds: int = 15,
    concurrency: int = 32,
    threads: int = 2,
    sdk_events: int = 20_000,
    workers: int | None = None,
) -> Result:
    """The load at one API process, and — when ``workers`` (default: the configured count, one
    per core) is more than one — again at that many processes behind the port."""
    many = workers or config.api_processes
    wrk = shutil.which("wrk")
    if wrk is None:
        raise ToolMissing("wrk is missing: `make wrk` installs Debian's package (or apt-get install wrk)")
    with tempfile.TemporaryDirectory(prefix="civicloop-bench-api-") as tmp:
        home = Path(tmp)
        cfg = broker.throwaway(config, home)
        with broker.topics(cfg):
            store = ApiKeyStore(cfg.api_keys)
            _, token = store.create("intake", label="bench")
            store.close()
            script = home / "post.lua"
            script.write_text(_lua(urlencode({**FORM, "api_key": token})))
            url = f"{api_url(cfg)}/open311/v2/requests.json"
            reports: dict[int, tuple[str, str]] = {}
            for processes in sorted({1, many}):
                served = replace(cfg, api_workers=processes)
                start_api(served)
                try:
                    warm_up = _wrk(wrk, url, script, WARM_UP_S, concurrency, threads)
                    reports[processes] = (warm_up, _wrk(wrk, url, script, seconds, concurrency, threads))
                finally:
                    api_process(served).stop(timeout=30)
            runs = {processes: _parse(output) for processes, (_, output) in reports.items()}
            ok_total = sum(
                _int(r"(\d+) requests in", r) - _int(r"Non-2xx or 3xx responses: (\d+)", r)
                for pair in reports.values()
                for r in pair
            )
            posted = _events_in(cfg)
            sdk_seconds = _sdk(cfg, sdk_events, home)
    over_http = f"Open311 POST over HTTP (wrk, {concurrency} connections"
    figures = {
        "open311_post": Figure(f"{over_http}, 1 API process)", runs[1]["requests"], runs[1]["seconds"]),
        "sdk_produce": Figure(
            "SDK: new_event + seal contact + send + flush (ceiling)", sdk_events, sdk_seconds
        ),
    }
    ratios = list(RATIOS)
    if many > 1:
        figures["open311_post_workers"] = Figure(
            f"{over_http}, {many} API processes)", runs[many]["requests"], runs[many]["seconds"]
        )
        ratios.append(RATIO_WORKERS)
    notes: dict[str, Any] = {
        "concurrency": concurrency,
        "wrk_threads": threads,
        "duration_s": seconds,
        "api_processes": sorted(runs),
        "latency_ms": {f"{processes}_process": run["latency_ms"] for processes, run in runs.items()},
        "non_2xx": sum(run["non_2xx"] for run in runs.values()),
        "socket_errors": sum(run["socket_errors"] for run in runs.values()),
        "events_in_topic_vs_2xx_posts": f"{posted} vs {ok_total} (warm-ups included; cut-off in-flight "
        "requests may add up to one per connection per run)",
        "partitions": cfg.partitions,
        "sdk_rounds": SDK_ROUNDS,
        "reporters": "one (the same e-mail each time): a new reporter adds one SQLite commit (key store)",
    }
    # wrk stops with requests in flight: the server may still produce those (at most one per
    # connection per run) after wrk stopped counting. Anything else means a lost or extra event.
    slack = 2 * len(runs) * concurrency
    if notes["non_2xx"] or notes["socket_errors"] or not ok_total <= posted <= ok_total + slack:
        raise RuntimeError(f"the load run is not clean, figures would mislead: {notes}")
    return Result("civicloop bench api", figures, ratios, notes)


def _lua(body: str) -> str:
    # wrk counts every response; failures show in its summary's Non-2xx line
    return (
        'wrk.method = "POST"\n'
        f'wrk.body = "{body}"\n'
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
    )


def _wrk(wrk: str, url: str, script: Path, seconds: int, connections: int, threads: int) -> str:
    """Run wrk; return its report."""
    done = subprocess.run(
        [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=True,
    )
    return done.stdout


def _parse(report: str) -> dict[str, Any]:
    requests = _int(r"(\d+) requests in", report)
    seconds = float(re.search(r"requests in ([\d.]+)(ms|s|m)", report).group(1))  # type: ignore[union-attr]
    unit = re.search(r"requests in [\d.]+(ms|s|m)", report).group(1)  # type: ignore[union-attr]
    seconds *= {"ms": 0.001, "s": 1.0, "m": 60.0}[unit]
    latency = {f"p{p}": round(float(v) * _UNITS[u], 2) for p, v, u in _LATENCY.findall(report)}
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report)
    return {
        "requests": requests,
        "seconds": seconds,
        "latency_ms": latency,
        "non_2xx": _int(r"Non-2xx or 3xx responses: (\d+)", report),
        "socket_errors": sum(int(n) for n in errors.groups()) if errors else 0,
    }


def _int(pattern: str, text: str) -> int:
    found = re.search(pattern, text)
    return int(found.group(1)) if found else 0


def _events_in(cfg: Config) -> int:
    consumer = Consumer({"bootstrap.servers": cfg.kafka_bootstrap, "group.id": f"{cfg.namespace}-count"})
    try:
        topic = cfg.events_topic
        partitions = consumer.list_topics(topic, timeout=15).topics[topic].partitions
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=15)[1] for p in partitions
        )
    finally:
        consumer.close()


def _sdk(cfg: Config, count: int, home: Path, rounds: int = SDK_ROUNDS) -> float:
    """Seconds for the SDK to do what each POST does, ``count`` times, without HTTP: the
    fastest of ``rounds`` (a few seconds each, so one busy moment would skew one round)."""
    services = catalogue.load()
    submission = intake.parse(FORM.items(), services)
    keys = KeyStore(home / "var" / "sdk-keys.sqlite")
    topic = f"{cfg.namespace}.case-events"
    try:
        with EventProducer(cfg.kafka_bootstrap, topic) as producer:
            _sdk_send(producer, submission, keys, 500)  # warm-up: connection, idempotence handshake
            best = float("inf")
            for _ in range(rounds):
                started = time.perf_counter()
                _sdk_send(producer, submission, keys, count)
                best = min(best, time.perf_counter() - started)
            return best
    finally:
        keys.close()


def _sdk_send(producer: EventProducer, submission: intake.Submission, keys: KeyStore, count: int) -> None:
    for _ in range(count):
        who = intake.reporter(submission, keys)
        event = intake.reported(
            submission,
            who,
            case_id=f"sr-{uuid.uuid4().hex[:24]}",
            event_id=str(uuid.uuid4()),
            source="civicloop-bench",
            now=datetime.now(UTC),
        )
        producer.send(event)
    producer.flush(120)
