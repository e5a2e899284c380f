"""The service catalogue: the packaged one loads; a broken one names the problem."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from civicloop.api import catalogue
from civicloop.projections.fold.policy import default_policy

GOOD = """
[[service]]
code = "A"
name = "A thing"
category = "cat.a"
department = "dept"
"""


def test_the_packaged_catalogue_routes_every_service_and_has_a_deadline_for_it() -> None:
    services = catalogue.load().services
    assert len(services) >= 5
    for service in services:
        assert service.department and service.category
        default_policy().rule(service.category, service.priority)  # raises when no policy applies
    datatypes = {a.datatype for s in services for a in s.attributes}
    assert datatypes == {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (GOOD.replace('"A"', '"B"'), "each category may appear once; repeated: cat.a"),
        (GOOD.replace("cat.a", "cat.b"), "each service code may appear once; repeated: A"),
        (
            '\n[[service.attribute]]\ncode = "Q"\ndatatype = "singlevaluelist"\n'
            'order = 1\ndescription = "?"\n',
            "a singlevaluelist needs values",
        ),
        (
            '\n[[service.attribute]]\ncode = "Q"\ndatatype = "colour"\norder = 1\ndescription = "?"\n',
            "datatype",
        ),
        ('priority = "whenever"\n', "priority 'whenever' is not one of"),
    ],
)
def test_a_broken_catalogue_names_the_problem(tmp_path: Path, extra: str, message: str) -> None:
    path = tmp_path / "services.toml"
    path.write_text(GOOD + extra)  # a second service, an attribute, or a key of the first service
    with pytest.raises(catalogue.CatalogueError, match=re.escape(message)) as raised:
        catalogue.load(path)
    assert str(path) in str(raised.value)


def test_a_missing_catalogue_says_which_variable_to_check(tmp_path: Path) -> None:
    with pytest.raises(catalogue.CatalogueError, match="CIVICLOOP_SERVICES"):
        catalogue.load(tmp_path / "nope.toml")
