"""Validation errors as users read them: pydantic's errors turned into
`file:line:col: key.path: what is wrong — how to fix`, with locations from yamlsource."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable
from dataclasses import fields, is_dataclass
from typing import Any, get_args, get_origin, get_type_hints

from pydantic import (
    TypeAdapter,
    ValidationError,
)

from routing.errors import ConfigIssue
from routing.format import yamlsource
from routing.format.document import _level_problems, no_selector, profile_or_selector
from routing.format.invalid import Invalid
from routing.format.values import _parse_volume
from routing.profile import SELECTOR_KEYS


@functools.cache
def adapter(model: type) -> TypeAdapter[Any]:
    """The validator for one of the format's dataclasses, built on first use (not at import:
    the CLI imports this module for `check` only)."""
    return TypeAdapter(model)


def validate_document(doc: yamlsource.Located, adapter: TypeAdapter[Any], root: type) -> Any:
    """Validate located data with a pydantic adapter; issues go into `doc.issues`."""
    try:
        return adapter.validate_python(doc.data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            doc.issues.append(_issue_from(doc, err, root))
        return None


def _data_path(doc: yamlsource.Located, loc: Iterable[Any]) -> yamlsource.Path_:
    """pydantic's loc mixes data keys with validator names; keep the data keys."""
    path: list[str | int] = []
    for part in loc:
        probe = (*path, part)
        if probe in doc.values or probe in doc.keys:
            path.append(part)
    return tuple(path)


def _issue_from(doc: yamlsource.Located, err: Any, root: type) -> ConfigIssue:
    loc = tuple(err["loc"])
    kind = err["type"]
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        parent = _data_path(doc, loc[:-1])
        key = str(loc[-1])
        valid = _fields_at(root, parent)
        guess = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
        fix = f"did you mean `{guess[0]}`?" if guess else f"valid keys here: {', '.join(valid)}"
        return doc.issue((*parent, key), f"unknown key '{key}'", fix, key=True)
    path = _data_path(doc, loc)
    if kind == "missing":
        field_name = str(loc[-1])
        return doc.issue(
            path, f"required key '{field_name}' is missing", f"add `{field_name}:` here", key=True
        )
    error = err.get("ctx", {}).get("error") if kind == "value_error" else None
    if isinstance(error, Invalid):
        # a check over a whole mapping names the key it is about
        return doc.issue((*path, error.key) if error.key else path, error.message, error.fix)
    message, fix = _explain(err)
    return doc.issue(path, message, fix)


def _value_issue(doc: yamlsource.Located, path: yamlsource.Path_, inv: Invalid) -> ConfigIssue:
    """A model-level check at `path`, on its key when it names one (as pydantic would)."""
    return doc.issue((*path, inv.key) if inv.key else path, inv.message, inv.fix)


def _lenient_volume(value: Any) -> float | None:
    """A volume as the format reads it; None when absent or wrong (reported on its own)."""
    try:
        return None if value is None else _parse_volume(value)
    except ValueError:
        return None


def block_checks(doc: yamlsource.Located, profile: yamlsource.Path_) -> list[ConfigIssue]:
    """The checks across one output's (or input's) keys, run on the raw data of the profile
    at `profile`. pydantic skips a model's own checks once one of its fields is wrong, so
    these would otherwise wait for the next `check`: one mistake must not hide another."""
    raw = doc.data
    for part in profile:
        raw = raw[part]
    if not isinstance(raw, dict):
        return []
    blocks: list[tuple[yamlsource.Path_, Any, bool]] = [
        ((*profile, "output"), raw.get("output"), True),
        ((*profile, "input"), raw.get("input"), True),
    ]
    also = raw["output"].get("also") if isinstance(raw.get("output"), dict) else None
    if isinstance(also, list):
        blocks += [((*profile, "output", "also", i), a, True) for i, a in enumerate(also)]
    issues = []
    for path, block, has_levels in blocks:
        if not isinstance(block, dict):
            continue
        selects = any(block.get(k) is not None for k in SELECTOR_KEYS)
        if block.get("profile") is not None and path[-2:-1] == ("also",):
            if selects:
                issues.append(_value_issue(doc, path, profile_or_selector()))
            continue
        if not selects:
            issues.append(_value_issue(doc, path, no_selector()))
        if has_levels:
            volume = _lenient_volume(block.get("volume"))
            cap = _lenient_volume(block.get("max_volume"))
            for inv in _level_problems(volume, cap, block.get("boost") is True):
                issues.append(_value_issue(doc, path, inv))
    return issues


def _explain(err: Any) -> tuple[str, str]:
    kind = err["type"]
    got = err.get("input")
    shown = f"'{got}'" if isinstance(got, str) else repr(got)
    if len(shown) > 60:  # a 20,000-item list would otherwise be repeated in the message
        shown = shown[:57] + "…"
    if kind == "value_error":  # a ValueError that is not ours (Invalid is read above)
        return str(err["ctx"]["error"]), ""
    table = {
        "int_type": ("expected a whole number", "write digits without quotes, e.g. `50`"),
        "int_parsing": ("expected a whole number", "write digits without quotes, e.g. `50`"),
        "int_from_float": ("expected a whole number", "drop the decimals"),
        "bool_type": ("expected true or false", "write `true` or `false`"),
        "bool_parsing": ("expected true or false", "write `true` or `false`"),
        "string_type": ("expected text", "put the value in quotes"),
        "dict_type": ("expected a mapping of keys", "indent `key: value` lines under this key"),
        "tuple_type": ("expected a list", "write `[a, b]` or one `- item` per line"),
        "dataclass_type": ("expected a mapping of keys", "indent `key: value` lines here"),
        "model_type": ("expected a mapping of keys", "indent `key: value` lines here"),
        "literal_error": (
            f"{shown} is not allowed",
            "use one of: " + str(err.get("ctx", {}).get("expected", "")),
        ),
        "greater_than_equal": (
            f"{shown} is too small",
            f"use at least {err.get('ctx', {}).get('ge')}",
        ),
        "less_than_equal": (f"{shown} is too large", f"use at most {err.get('ctx', {}).get('le')}"),
    }
    what, fix = table.get(kind, (err["msg"], ""))
    if kind.endswith(("_type", "_parsing")):
        what = f"{what}, got {shown}"
    return what, fix


def _fields_at(root: type, path: yamlsource.Path_) -> list[str]:
    """Valid keys of the dataclass reached by following `path` from `root`."""
    current: Any = root
    for part in path:
        current = _unwrap(current)
        if isinstance(part, int):
            continue  # a list element: _unwrap already stepped into the item type
        if is_dataclass(current) and isinstance(current, type):
            hint = get_type_hints(current, include_extras=True).get(part)
            if hint is None:
                return []
            current = hint
    current = _unwrap(current)
    return [f.name for f in fields(current)] if is_dataclass(current) else []


def _unwrap(tp: Any) -> Any:
    """Optional[X] / tuple[X, ...] / Annotated[X, …] → X (the first dataclass inside)."""
    for _ in range(6):
        if is_dataclass(tp) or tp is None:
            return tp
        args = [a for a in get_args(tp) if a is not type(None) and a is not Ellipsis]
        if get_origin(tp) is dict and len(args) == 2:
            args = [args[1]]
        found = next((a for a in args if is_dataclass(a)), None)
        tp = found if found is not None else (args[0] if args else None)
    return tp
