"""Fixtures shared by the unit tests that use chDB."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.chdb_support import Chdb


@pytest.fixture(scope="module")
def chdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chdb]:
    engine = Chdb(tmp_path_factory.mktemp("chdb"))
    yield engine
    engine.close()
