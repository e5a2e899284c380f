"""Apache Avro's Java library (the reference implementation) as an independent reader.

The jars are resolved once by Maven from Maven Central into the cache, like the Kafka jars
(``tests/support/avro_java/pom.xml``); ``read`` runs ``ReadSingleObject.java`` with Java's
single-file launcher on messages written by civicloop and returns what Avro's own
``BinaryMessageDecoder`` decoded, as JSON.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent / "avro_java"
POM = HERE / "pom.xml"
VERSION = re.search(r"<avro.version>([^<]+)<", POM.read_text()).group(1)  # type: ignore[union-attr]


def jars(cache: Path) -> Path:
    target = cache / f"avro-java-{VERSION}"
    if (target / ".complete").exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    command = [
        "mvn",
        "-q",
        "-B",
        "-f",
        str(POM),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={target}",
        "-DincludeScope=runtime",
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"Maven could not resolve Apache Avro {VERSION}:\n{result.stdout[-3000:]}")
    (target / ".complete").write_text(VERSION)
    return target


def read(cache: Path, schema: dict[str, Any], messages: list[bytes], workdir: Path) -> list[dict[str, Any]]:
    """Each message decoded by Apache Avro's Java ``BinaryMessageDecoder`` for ``schema``."""
    schema_file = workdir / "schema.avsc"
    schema_file.write_text(json.dumps(schema))
    files = []
    for n, message in enumerate(messages):
        path = workdir / f"message-{n}.bin"
        path.write_bytes(message)
        files.append(str(path))
    classpath = f"{jars(cache)}/*"
    result = subprocess.run(
        ["java", "-cp", classpath, str(HERE / "ReadSingleObject.java"), str(schema_file), *files],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise AssertionError(f"Apache Avro (Java) could not read the messages:\n{result.stderr[-3000:]}")
    return [json.loads(line) for line in result.stdout.splitlines()]
