"""Evolution guard: every newer version must read data written by every older one.

``check_tree`` is what ``civicloop schemas check`` runs: it returns problems as lines of text
(empty list = safe to release) and prints nothing. Schemas here are the self-contained ones
from ``loader`` (shared types already inlined); the rules themselves are in ``resolution``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastavro.schema import parse_schema

from .loader import AVRO_DIR, SchemaTreeError, load_tree
from .resolution import check_read

_NAMED = ("record", "enum", "fixed")


def _expand(schema: dict[str, Any]) -> Any:
    # Expanded form: every reference replaced by its declaration, so the walk needs no name table.
    return parse_schema(schema, named_schemas={}, expand=True)


def check_backward_transitive(versions: list[dict[str, Any]]) -> list[str]:
    """Problems with reading data of every version by every later one (``versions`` in order)."""
    expanded = [_expand(v) for v in versions]
    problems = []
    for new in range(1, len(expanded)):
        for old in range(new):
            name = str(expanded[new]["name"]).rsplit(".", 1)[-1]
            for problem in check_read(expanded[new], expanded[old], name):
                problems.append(f"v{new + 1} cannot read v{old + 1}: {problem}")
    return problems


def undocumented(node: Any, at: str = "") -> list[str]:
    """Named types and fields without a ``doc`` (house rule: the .avsc files are the docs)."""
    if isinstance(node, list):
        return [p for item in node for p in undocumented(item, at)]
    if not isinstance(node, dict):
        return []
    problems = []
    if node.get("type") in _NAMED and not node.get("doc"):
        problems.append(f"{at or node['name']}: {node['type']} {node['name']} has no doc")
    for field in node.get("fields", []):
        where = f"{at}.{field['name']}" if at else field["name"]
        if not field.get("doc"):
            problems.append(f"{where}: field has no doc")
        problems += undocumented(field["type"], where)
    return problems + undocumented(node.get("items", node.get("values")), at)


def check_tree(path: Path = AVRO_DIR) -> list[str]:
    """Problems in the ``.avsc`` tree under ``path``; empty when every event evolves safely.

    Prints nothing and raises nothing for a broken tree: load errors come back as problems,
    so a CLI can print the list and exit non-zero when it is not empty.
    """
    try:
        tree = load_tree(path)
    except (SchemaTreeError, OSError) as exc:
        return [str(exc)]
    problems = []
    for event_type, versions in tree.items():
        try:
            found = check_backward_transitive([versions[n] for n in sorted(versions)])
            found += [f"v{n}: {p}" for n in sorted(versions) for p in undocumented(versions[n])]
        except Exception as exc:  # fastavro rejects the schema itself (unknown type, bad default)
            found = [f"does not parse: {exc}"]
        problems += [f"{event_type}: {p}" for p in found]
    return problems
