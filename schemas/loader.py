"""Read the ``.avsc`` tree into self-contained schemas, one per event type per version.

Layout: ``avro/_types/<Name>.avsc`` holds shared named types (declared once each);
``avro/<EventType>/v<N>.avsc`` holds one version of one event. Shared types are inlined into
every event schema here, so each version is self-contained: its Parsing Canonical Form (and so
its fingerprint) covers the shared types it uses, and a change to a shared type shows up as a
change to every event that uses it. A version file may declare a named type inline; that
declaration shadows the shared one for that file only (how a shared enum is evolved).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

AVRO_DIR = Path(__file__).parent / "avro"
NAMESPACE = "civicloop.events"  # case events: the case topic's contract
SIGNALS_NAMESPACE = "civicloop.signals"  # signals: the signals topic's contract (docs/SIGNALS.md)
TYPES_DIR = "_types"
_VERSION_FILE = re.compile(r"v([1-9][0-9]*)\.avsc")
_NAMED = ("record", "enum", "fixed")


class SchemaTreeError(ValueError):
    """The ``.avsc`` tree cannot be loaded; the message names the file and the problem."""


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SchemaTreeError(f"{path}: not readable JSON ({exc})") from exc


def fullname(schema: dict[str, Any]) -> str:
    name = str(schema["name"])
    return name if "." in name else f"{schema.get('namespace', NAMESPACE)}.{name}"


def load_types(root: Path) -> dict[str, Any]:
    """Full name -> raw declaration of every shared named type."""
    types: dict[str, Any] = {}
    for path in sorted((root / TYPES_DIR).glob("*.avsc")):
        declared = read_json(path)
        if not isinstance(declared, dict) or declared.get("type") not in _NAMED:
            raise SchemaTreeError(f"{path}: a shared type must be a record, enum or fixed")
        types[fullname(declared)] = declared
    return types


def _declared_names(node: Any, found: set[str]) -> set[str]:
    if isinstance(node, list):
        for item in node:
            _declared_names(item, found)
    elif isinstance(node, dict):
        if node.get("type") in _NAMED and "name" in node:
            found.add(fullname(node))
        for value in node.values():
            _declared_names(value, found)
    return found


def inline_types(node: Any, types: dict[str, Any], defined: set[str]) -> Any:
    """Replace the first reference to each shared type by its declaration (Avro forbids
    declaring a name twice, so later references stay plain names)."""
    if isinstance(node, str):
        name = node if "." in node else f"{NAMESPACE}.{node}"
        if name in types and name not in defined:
            defined.add(name)
            return inline_types(types[name], types, defined)
        return node
    if isinstance(node, list):
        return [inline_types(item, types, defined) for item in node]
    if isinstance(node, dict):
        if node.get("type") in _NAMED and "name" in node:
            defined.add(fullname(node))
        # "name", "doc", "symbols" and defaults are data, never type references.
        keys = ("type", "items", "values", "fields")
        return {k: inline_types(v, types, defined) if k in keys else v for k, v in node.items()}
    return node


def load_event_file(path: Path, types: dict[str, Any]) -> dict[str, Any]:
    raw = read_json(path)
    if not isinstance(raw, dict) or raw.get("type") != "record":
        raise SchemaTreeError(f"{path}: an event schema must be a record")
    if raw.get("name") != path.parent.name:
        raise SchemaTreeError(f"{path}: record name {raw.get('name')!r} must match the folder")
    shadowed = _declared_names(raw, set())
    visible = {name: decl for name, decl in types.items() if name not in shadowed}
    schema: dict[str, Any] = inline_types(raw, visible, set())
    return schema


def load_tree(root: Path = AVRO_DIR) -> dict[str, dict[int, dict[str, Any]]]:
    """Event type -> version -> self-contained schema, for every event folder under ``root``."""
    types = load_types(root)
    tree: dict[str, dict[int, dict[str, Any]]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name != TYPES_DIR):
        versions: dict[int, dict[str, Any]] = {}
        for path in sorted(folder.iterdir()):
            match = _VERSION_FILE.fullmatch(path.name)
            if match is None:
                raise SchemaTreeError(f"{path}: expected files named v<N>.avsc")
            versions[int(match.group(1))] = load_event_file(path, types)
        if sorted(versions) != list(range(1, len(versions) + 1)):
            raise SchemaTreeError(f"{folder}: versions {sorted(versions)} must be 1..N, no gaps")
        tree[folder.name] = versions
    return tree
