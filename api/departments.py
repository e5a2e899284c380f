"""The departments a case may be dispatched to: a TOML catalogue beside the service catalogue.

``CIVICLOOP_DEPARTMENTS`` points to a deployment's own file; the packaged ``departments.toml``
is the simulated city's. Checked on load (pydantic), and against the service catalogue: every
department a service routes to must be listed, so a mistake shows at start-up, naming the file,
the department and the field — not as a refused dispatch later.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from civicloop.api.catalogue import Catalogue, CatalogueError, load_toml, once, source


class Department(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")
    display_name: str = Field(min_length=1)
    contact: str = ""


class Departments(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    departments: tuple[Department, ...] = Field(alias="department", min_length=1)

    @model_validator(mode="after")
    def _each_name_once(self) -> Departments:
        once([d.name for d in self.departments], "department name")
        return self

    def get(self, name: str) -> Department | None:
        return next((d for d in self.departments if d.name == name), None)

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.departments]


def load(path: Path | None, services: Catalogue) -> Departments:
    """The departments at ``path`` (None: the packaged example), checked against ``services``."""
    found = load_toml(Departments, path, "departments.toml", "departments", "CIVICLOOP_DEPARTMENTS")
    where = source(path, "departments.toml")
    missing = sorted({s.department for s in services.services if found.get(s.department) is None})
    if missing:
        raise CatalogueError(
            f"departments {where} lacks {', '.join(missing)}, which the service catalogue routes to "
            "(add them, or set CIVICLOOP_DEPARTMENTS to a file that has them)"
        )
    return found
