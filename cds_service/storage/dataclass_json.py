"""Frozen dataclasses to JSON and back, by their declared field types.

Generic on purpose: the stored note summaries follow `models.note_summary` as it changes. A
field added with a default reads from an older document; a document that lacks a field the
class requires, or holds a value of the wrong shape, raises `DocumentMismatch`, which the
store treats as "not stored" (the summary is then made again and written over it).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import types
import typing
from datetime import date, datetime
from typing import Any, TypeVar

T = TypeVar("T")
_NONE_TYPE = type(None)


class DocumentMismatch(ValueError):
    """A stored document does not fit the dataclass it is read as."""


def to_json(instance: Any) -> str:
    """The dataclass as compact JSON (dates as ISO 8601, enums by value, tuples as lists)."""
    return json.dumps(_plain(instance), separators=(",", ":"), ensure_ascii=False)


def from_json(cls: type[T], document: str) -> T:
    """The dataclass `cls` read back from `to_json`'s output; `DocumentMismatch` if it cannot."""
    try:
        data = json.loads(document)
    except ValueError as exc:
        raise DocumentMismatch("not JSON") from exc
    value: T = _typed(cls, data, cls.__name__)
    return value


def shape_of(cls: type) -> str:
    """A short digest of the dataclass's fields and their types, nested dataclasses included:
    it changes whenever a document's shape does."""
    described: dict[str, str] = {}
    pending: list[Any] = [cls]
    while pending:
        hint = pending.pop()
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            name = f"{hint.__module__}.{hint.__qualname__}"
            if name in described:
                continue
            hints = typing.get_type_hints(hint)
            fields = [f"{f.name}: {hints[f.name]}" for f in dataclasses.fields(hint)]
            described[name] = "; ".join(fields)
            pending.extend(hints[f.name] for f in dataclasses.fields(hint))
        else:
            pending.extend(typing.get_args(hint))
    text = "\n".join(f"{name}({fields})" for name, fields in sorted(described.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    # datetime before date: a datetime is a date too.
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list | frozenset | set):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"cannot store a {type(value).__name__} as JSON")


def _typed(hint: Any, data: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if data is None and _NONE_TYPE in options:
            return None
        for option in options:
            if option is _NONE_TYPE:
                continue
            try:
                return _typed(option, data, where)
            except DocumentMismatch:
                continue
        raise DocumentMismatch(f"{where}: fits none of {hint}")
    if origin is typing.Literal:
        if data in typing.get_args(hint):
            return data
        raise DocumentMismatch(f"{where}: not one of {typing.get_args(hint)}")
    if origin in (tuple, list, frozenset, set):
        if not isinstance(data, list):
            raise DocumentMismatch(f"{where}: expected a list")
        args = typing.get_args(hint)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(data):
                raise DocumentMismatch(f"{where}: expected {len(args)} items")
            return tuple(
                _typed(a, d, f"{where}[{i}]")
                for i, (a, d) in enumerate(zip(args, data, strict=True))
            )
        item = args[0] if args else Any
        items = [_typed(item, d, f"{where}[{i}]") for i, d in enumerate(data)]
        return origin(items)
    if origin is dict:
        if not isinstance(data, dict):
            raise DocumentMismatch(f"{where}: expected an object")
        key_type, value_type = typing.get_args(hint) or (str, Any)
        return {
            _typed(key_type, k, where): _typed(value_type, v, f"{where}.{k}")
            for k, v in data.items()
        }
    if hint is Any:
        return data
    if isinstance(hint, type):
        return _typed_class(hint, data, where)
    raise DocumentMismatch(f"{where}: cannot read a {hint}")


def _typed_class(cls: type, data: Any, where: str) -> Any:
    if dataclasses.is_dataclass(cls):
        if not isinstance(data, dict):
            raise DocumentMismatch(f"{where}: expected an object")
        hints = typing.get_type_hints(cls)
        values = {}
        for field in dataclasses.fields(cls):
            if not field.init:
                continue
            if field.name in data:
                values[field.name] = _typed(hints[field.name], data[field.name], field.name)
            elif (
                field.default is dataclasses.MISSING
                and field.default_factory is dataclasses.MISSING
            ):
                raise DocumentMismatch(f"{where}.{field.name}: missing")
        return cls(**values)
    try:
        if issubclass(cls, enum.Enum):
            return cls(data)
        # datetime before date, as in `_plain`.
        if issubclass(cls, datetime) and isinstance(data, str):
            return datetime.fromisoformat(data)
        if issubclass(cls, date) and isinstance(data, str):
            return date.fromisoformat(data)
    except ValueError as exc:
        raise DocumentMismatch(f"{where}: {type(exc).__name__}") from exc
    # bool is an int to Python, not to a document; an int is a fine float.
    if cls is float and isinstance(data, int | float) and not isinstance(data, bool):
        return float(data)
    if cls in (str, int, bool) and type(data) is cls:
        return data
    raise DocumentMismatch(f"{where}: expected {cls.__name__}")
