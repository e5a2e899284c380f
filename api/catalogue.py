"""The Open311 service catalogue: service_code → category, department, questions (attributes).

A TOML file (``CIVICLOOP_SERVICES``; the packaged ``services.toml`` by default), checked on
load with pydantic so a mistake names the service and the field. Each service has its own
category (the catalogue is a bijection between service codes and categories), so a case's
category says which service it was reported under — also for cases that came in by phone.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from civicloop.schemas.registry import reader_schema

M = TypeVar("M", bound=BaseModel)

DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
LISTS = ("singlevaluelist", "multivaluelist")
_PRIORITIES = tuple(
    next(f["type"] for f in reader_schema("CaseReported")["fields"] if f["name"] == "priority")["symbols"]
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Value(_Strict):
    key: str = Field(min_length=1)
    name: str = Field(min_length=1)


class Attribute(_Strict):
    """One question of a service (Open311 service definition attribute)."""

    code: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    datatype: Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
    description: str
    required: bool = False
    variable: bool = True  # false: information shown to the user, no answer taken
    order: int = Field(ge=1)
    datatype_description: str | None = None
    values: tuple[Value, ...] = ()

    @model_validator(mode="after")
    def _values_fit_the_datatype(self) -> Attribute:
        if self.datatype in LISTS and not self.values:
            raise ValueError(f"attribute {self.code}: a {self.datatype} needs values")
        if self.datatype not in LISTS and self.values:
            raise ValueError(f"attribute {self.code}: only list datatypes take values")
        keys = [v.key for v in self.values]
        if len(set(keys)) != len(keys):
            raise ValueError(f"attribute {self.code}: value keys repeat: {keys}")
        return self


class Service(_Strict):
    """One service request type (Open311 service) and where it goes."""

    code: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(min_length=1)
    category: str = Field(min_length=1)
    department: str = Field(min_length=1)
    group: str = ""
    description: str = ""
    keywords: tuple[str, ...] = ()
    notice: str | None = None  # Open311 service_notice: what the city will do about it
    priority: str = "normal"  # priority given on intake
    # private: what reporters write (description) and send (media) is withheld from public
    # reads, e.g. for reports about people or about one's own home
    private: bool = False
    attributes: tuple[Attribute, ...] = Field(default=(), alias="attribute")

    @model_validator(mode="after")
    def _checked(self) -> Service:
        if self.priority not in _PRIORITIES:
            raise ValueError(f"priority {self.priority!r} is not one of {', '.join(_PRIORITIES)}")
        codes = [a.code for a in self.attributes]
        orders = [a.order for a in self.attributes]
        if len(set(codes)) != len(codes) or len(set(orders)) != len(orders):
            raise ValueError(f"attribute codes and orders must be unique: codes {codes}, orders {orders}")
        return self

    @property
    def metadata(self) -> bool:
        return bool(self.attributes)

    def attribute(self, code: str) -> Attribute | None:
        return next((a for a in self.attributes if a.code == code), None)


def once(values: list[str], what: str) -> None:
    """Raise a ValueError naming every value of ``values`` that appears more than once."""
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"each {what} may appear once; repeated: {', '.join(repeated)}")


class Catalogue(_Strict):
    jurisdiction_id: str | None = None
    contact: str = "Ask the city's 311 centre."
    key_service: str = "API keys are issued by the operators: civicloop apikey create --role intake"
    changeset: str = "1"
    services: tuple[Service, ...] = Field(alias="service")

    @model_validator(mode="after")
    def _one_service_per_code_and_category(self) -> Catalogue:
        for what, values in (
            ("service code", [s.code for s in self.services]),
            ("category", [s.category for s in self.services]),
        ):
            once(values, what)
        return self

    def service(self, code: str) -> Service | None:
        return next((s for s in self.services if s.code == code), None)

    def by_category(self, category: str) -> Service | None:
        return next((s for s in self.services if s.category == category), None)

    def routed_to(self, category: str) -> str | None:
        """The department ``category``'s service routes cases to (None: no service has it)."""
        service = self.by_category(category)
        return service.department if service else None


class CatalogueError(ValueError):
    """A catalogue file that cannot be used; the message names the file and the problem."""


def load(path: Path | None = None) -> Catalogue:
    """The catalogue at ``path``, or the packaged example when ``path`` is None."""
    return load_toml(Catalogue, path, "services.toml", "service catalogue", "CIVICLOOP_SERVICES")


def load_toml(model: type[M], path: Path | None, packaged: str, what: str, variable: str) -> M:
    """``model`` read from the TOML file at ``path`` (None: the packaged ``packaged``); a
    CatalogueError naming ``what``, the file and every problem when it cannot be used."""
    where = source(path, packaged)
    try:
        text = path.read_text() if path else resources.files("civicloop.api").joinpath(packaged).read_text()
        return model.model_validate(tomllib.loads(text))
    except OSError as exc:
        raise CatalogueError(f"{what} {where}: {exc} (check {variable})") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{what} {where} is not valid TOML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(f"{_where(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise CatalogueError(f"{what} {where}: {problems}") from None


def source(path: Path | None, packaged: str) -> str:
    """How messages name the file: its path, or the packaged one."""
    return str(path) if path else f"the packaged {packaged}"


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top)"
