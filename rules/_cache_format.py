"""The cache's on-disk format: tagged JSON that can only ever build data.

A repository may commit (or an attacker may plant) ``.jaxlint_cache/``: loading it must never
run code. JSON has no code path, and the tags below only rebuild containers JSON lacks
(tuples, sets, dicts with non-string keys) and a fixed allow-list of jaxlint's own frozen
value classes, built field by field from plain data. Anything else is a :class:`CacheFormatError`
and the caller drops the table and rebuilds it.
"""

from __future__ import annotations

import dataclasses
import json
from importlib import import_module
from typing import Any

_TAG = "\u0000jaxlint"
# Tag -> (module, class): the only classes a cache file can name. Imported on first use, so
# a warm run that only reads results never imports the call-graph summariser.
_CLASSES: dict[str, tuple[str, str]] = {
    "Edit": ("jaxlint.rules._findings", "Edit"),
    "Fix": ("jaxlint.rules._findings", "Fix"),
    "Finding": ("jaxlint.rules._findings", "Finding"),
    "Root": ("jaxlint.rules._callgraph", "Root"),
    "ModuleSummary": ("jaxlint.rules._callgraph", "ModuleSummary"),
}
_BY_CLASS: dict[type, str] = {}


class CacheFormatError(ValueError):
    """The file is not a cache this version of jaxlint wrote."""


def _class_for(tag: str) -> type:
    try:
        module, name = _CLASSES[tag]
    except KeyError:
        raise CacheFormatError(f"unknown class tag {tag!r}") from None
    return getattr(import_module(module), name)


def _tag_of(cls: type) -> str:
    if not _BY_CLASS:
        for tag in _CLASSES:
            _BY_CLASS[_class_for(tag)] = tag
    try:
        return _BY_CLASS[cls]
    except KeyError:
        raise TypeError(f"{cls.__qualname__} is not a cacheable class") from None


def to_plain(value: Any) -> Any:
    """A JSON-ready structure for ``value`` (plain data and the allow-listed classes only)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [to_plain(item) for item in value]
    if isinstance(value, tuple):
        return {_TAG: "tuple", "v": [to_plain(item) for item in value]}
    if isinstance(value, (set, frozenset)):
        kind = "frozenset" if isinstance(value, frozenset) else "set"
        return {_TAG: kind, "v": sorted((to_plain(item) for item in value), key=repr)}
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value) and _TAG not in value:
            return {key: to_plain(item) for key, item in value.items()}
        return {_TAG: "dict", "v": [[to_plain(key), to_plain(item)] for key, item in value.items()]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {_TAG: _tag_of(type(value)), "v": fields}
    raise TypeError(f"cannot cache a {type(value).__qualname__}")


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, dict, set)):
        raise CacheFormatError("unhashable key in cache file")
    return value


def _rebuild(obj: dict) -> Any:
    tag = obj.get(_TAG)
    if tag is None:
        return obj
    if not isinstance(tag, str) or set(obj) != {_TAG, "v"}:
        raise CacheFormatError("malformed tagged value")
    payload = obj["v"]
    if tag == "tuple" and isinstance(payload, list):
        return tuple(payload)
    if tag in ("set", "frozenset") and isinstance(payload, list):
        items = [_hashable(item) for item in payload]
        return frozenset(items) if tag == "frozenset" else set(items)
    if tag == "dict" and isinstance(payload, list):
        if not all(isinstance(pair, list) and len(pair) == 2 for pair in payload):
            raise CacheFormatError("malformed dict entry")
        return {_hashable(key): item for key, item in payload}
    if isinstance(payload, dict):
        cls = _class_for(tag)
        names = {f.name for f in dataclasses.fields(cls)}
        if not set(payload) <= names:
            raise CacheFormatError(f"unexpected fields for {tag}")
        try:
            return cls(**payload)
        except TypeError as error:
            raise CacheFormatError(f"bad {tag}: {error}") from None
    raise CacheFormatError(f"malformed {tag!r} value")


def dumps(value: Any) -> str:
    return json.dumps(to_plain(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def loads(text: str | bytes) -> Any:
    """Parse a cache file; :class:`CacheFormatError` for anything but what :func:`dumps` writes."""
    try:
        return json.loads(text, object_hook=_rebuild)
    except CacheFormatError:
        raise
    except (ValueError, RecursionError) as error:  # JSONDecodeError, bad UTF-8, absurd nesting
        raise CacheFormatError(str(error)) from None
