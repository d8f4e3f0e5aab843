"""Frozen dataclasses as JSON and back, by their type hints: what a job found is kept
on disk (pipeline/store.py) and read again by a later re-render."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")


def to_json(value: Any) -> Any:
    """Plain JSON data: dataclasses as objects, tuples as lists, paths as strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


def from_json(kind: type[T], data: Any) -> T:
    """`data` (from `to_json`) as a `kind` again."""
    return typing.cast(T, _build(kind, data))


@functools.cache
def _hints(kind: type) -> dict[str, Any]:
    return get_type_hints(kind)


def _build(kind: Any, data: Any) -> Any:
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(kind) if a is not type(None)]
        return None if data is None else _build(options[0], data)
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        hints = _hints(kind)
        fields = {f.name for f in dataclasses.fields(kind) if f.init}
        return kind(**{k: _build(hints[k], v) for k, v in data.items() if k in fields})
    if origin in (list, tuple):
        args = get_args(kind)
        item = args[0] if args else Any
        built = [_build(item, v) for v in data]
        return tuple(built) if origin is tuple else built
    if origin is dict:
        value_kind = get_args(kind)[1]
        return {k: _build(value_kind, v) for k, v in data.items()}
    if kind is Path:
        return Path(data)
    if kind is float and isinstance(data, int):
        return float(data)
    return data
