"""The departments catalogue: the packaged one lists every department the simulated city and
the packaged services use; a broken one, or one that misses a routed department, names it."""

from __future__ import annotations

from pathlib import Path

import pytest

from civicloop.api import catalogue, departments
from civicloop.tools.simulate.config import CATEGORIES


def test_the_packaged_departments_cover_the_simulated_city_and_the_services() -> None:
    known = departments.load(None, catalogue.load())
    simulated = {c.lead for c in CATEGORIES} | {d for c in CATEGORIES for d in c.others}
    assert simulated <= set(known.names)
    assert {s.department for s in catalogue.load().services} <= set(known.names)
    assert all(d.display_name and d.contact for d in known.departments)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[department]]\nname = "parks"\ndisplay_name = "Parks"\n',
            "lacks market_regulation, power_utility, sanitation",
        ),
        ('[[department]]\nname = "a b"\ndisplay_name = "A"\n', "department.0.name"),
        ('[[department]]\nname = "parks"\n', "display_name"),
        ('[[department]]\nname = "p"\ndisplay_name = "P"\n' * 2, "repeated: p"),
        ("department = [", "not valid TOML"),
    ],
)
def test_a_broken_catalogue_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "departments.toml"
    path.write_text(text)
    with pytest.raises(catalogue.CatalogueError, match=message) as raised:
        departments.load(path, catalogue.load())
    assert str(path) in str(raised.value)


def test_a_missing_file_says_which_variable_to_check(tmp_path: Path) -> None:
    with pytest.raises(catalogue.CatalogueError, match="CIVICLOOP_DEPARTMENTS"):
        departments.load(tmp_path / "none.toml", catalogue.load())
