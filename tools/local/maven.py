"""Java run-time class paths resolved by Maven from Maven Central into civicloop's cache.

A ``pom.xml`` beside the tool that needs it lists the artifacts; ``resolve`` copies them and
their run-time dependencies into ``CIVICLOOP_CACHE/<name>-<version>/`` once, and every later
start reuses that directory (a ``.complete`` marker says the copy finished).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from civicloop import log

_log = log.get(__name__)


class ToolMissing(RuntimeError):
    """A program the local tooling needs (java, mvn) is not installed."""


def version(pom: Path, prop: str) -> str:
    """The value of ``<prop>`` in ``pom``'s properties (e.g. ``zookeeper.version``)."""
    found = re.search(rf"<{re.escape(prop)}>([^<]+)<", pom.read_text())
    if found is None:
        raise ValueError(f"{pom} has no <{prop}> property")
    return found.group(1)


def require(program: str, what: str, instead: str) -> None:
    """Raise ToolMissing naming ``program``, how to install it (``what``) and the way around."""
    if shutil.which(program) is None:
        raise ToolMissing(f"`{program}` was not found on PATH: install {what}, or {instead}.")


def resolve(pom: Path, target: Path, instead: str) -> Path:
    """The directory of ``pom``'s run-time jars, resolving them with Maven on first use;
    ``instead`` tells the user how to do without (in the error when java or mvn is missing)."""
    marker = target / ".complete"
    if marker.exists():
        return target
    require("mvn", "Maven 3 (Debian: apt-get install maven)", instead)
    require("java", "a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless)", instead)
    _log.info("jars_resolving", pom=str(pom), into=str(target))
    target.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={target}",
            "-DincludeScope=runtime",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"Maven could not resolve the jars of {pom}:\n{result.stdout[-3000:]}")
    marker.write_text(pom.read_text())
    return target
