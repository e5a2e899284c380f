"""The test data the suite compares against is the published data, byte for byte."""

from __future__ import annotations

import hashlib

from tests.data import BALTIMORE_SAMPLE, BALTIMORE_SHA256


def test_the_baltimore_sample_is_the_published_file() -> None:
    # given the copy inside the repository, when hashed, then it is the city's file unchanged
    assert hashlib.sha256(BALTIMORE_SAMPLE.read_bytes()).hexdigest() == BALTIMORE_SHA256
