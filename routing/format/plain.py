"""Validated format values → the plain values of routing.profile and routing.settings.

The format's classes and the plain ones share class and field names, so one walk over
the fields converts any of them; a format class without a plain namesake fails at load
time (and in tests/test_plain_model.py), never passes on a value of the wrong kind."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from types import ModuleType
from typing import Any, TypeVar

T = TypeVar("T")


def convert(value: Any, into: ModuleType, root: type[T]) -> T:
    """`value` as `root`, a class of the plain module `into`."""
    out = _walk(value, into)
    if not isinstance(out, root):
        raise TypeError(f"{type(value).__name__} has no plain {root.__name__}")
    return out


def _walk(value: Any, into: ModuleType) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        cls = getattr(into, type(value).__name__)
        return cls(**{f.name: _walk(getattr(value, f.name), into) for f in fields(value)})
    if isinstance(value, tuple):
        return tuple(_walk(v, into) for v in value)
    if isinstance(value, dict):
        return {k: _walk(v, into) for k, v in value.items()}
    return value
