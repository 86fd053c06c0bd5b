"""YAML text → plain data plus the line/column of every key and value.

PyYAML's `compose` keeps node marks; `safe_load` throws them away. We walk the
composed node tree ourselves so every later error can point at the exact place
in the user's file. Only safe scalar tags are constructed.

Limits (docs/config.md): a document may hold at most MAX_NODES values counting every
alias expansion (a 400-byte alias bomb otherwise expands to millions), nest at most
MAX_DEPTH levels, and an optional per-thread deadline (`time_limit`) ends a parse that
takes too long. Each limit becomes a located issue, never an exception or a hang.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from routing.errors import ConfigIssue

Path_ = tuple[str | int, ...]

MAX_NODES = 20_000  # values in one document, aliases expanded (a big profile file has ~200)
MAX_DEPTH = 64  # nesting levels (profiles use 4)

_limits = threading.local()


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Parsing in this thread stops with an issue once `seconds` have passed."""
    old = getattr(_limits, "deadline", None)
    _limits.deadline = time.monotonic() + seconds
    _limits.seconds = seconds
    try:
        yield
    finally:
        _limits.deadline = old


class _LimitHit(Exception):
    def __init__(self, mark: tuple[int, int], what: str, fix: str) -> None:
        super().__init__(what)
        self.mark, self.what, self.fix = mark, what, fix


def _check_deadline(node: yaml.Node | None) -> None:
    deadline = getattr(_limits, "deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        raise _LimitHit(
            _mark(node) if node is not None else (1, 1),
            f"reading stopped: it took longer than {_limits.seconds:g} s",
            "make the file smaller or simpler",
        )


def _too_many(mark: tuple[int, int]) -> _LimitHit:
    return _LimitHit(
        mark,
        f"too many values: more than {MAX_NODES} (each `*alias` counts everything it repeats)",
        "use fewer aliases, or split the file",
    )


class _LimitedLoader(yaml.SafeLoader):
    """SafeLoader that counts nodes and depth while composing, so a huge or deeply nested
    document stops early instead of being read in full first."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._nodes = 0
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        self._nodes += 1
        if self._nodes % 1000 == 0:
            _check_deadline(parent)
        if self._nodes > MAX_NODES or self._depth >= MAX_DEPTH:
            event = self.peek_event()  # type: ignore[no-untyped-call]
            here = (event.start_mark.line + 1, event.start_mark.column + 1)
            if self._nodes > MAX_NODES:
                raise _too_many(here)
            raise _LimitHit(
                here,
                f"nested more than {MAX_DEPTH} levels deep",
                "profiles need only a few levels; remove the extra nesting",
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)  # type: ignore[return-value]
        finally:
            self._depth -= 1


@dataclass
class Located:
    """Plain data from one YAML document and where each part came from.

    `syntax_error` means there is no data to validate; other issues (odd keys)
    leave the rest of the document usable, so validation still reports the rest.
    """

    file: str
    text: str
    data: Any = None
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)  # 1-based
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    issues: list[ConfigIssue] = field(default_factory=list)
    syntax_error: bool = False

    def where(self, path: Path_, *, key: bool = False) -> tuple[int, int]:
        """The closest known location for `path` (falls back to its parents)."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while probe:
            if probe in table:
                return self._clamp(table[probe])
            if probe in self.values:
                return self._clamp(self.values[probe])
            probe = probe[:-1]
        return self._clamp(self.values.get((), (1, 1)))

    @functools.cached_property
    def _lines(self) -> list[str]:
        return self.text.splitlines() or [""]  # once: a file with 3,000 issues asks 3,000 times

    def _clamp(self, loc: tuple[int, int]) -> tuple[int, int]:
        # A mark at end-of-file sits one line past the last; report inside the file.
        lines = self._lines
        line = min(max(loc[0], 1), len(lines))
        col = min(max(loc[1], 1), len(lines[line - 1]) + 1)
        return line, col

    def issue(
        self,
        path: Path_,
        message: str,
        fix: str = "",
        *,
        key: bool = False,
        severity: str = "error",
    ) -> ConfigIssue:
        line, col = self.where(path, key=key)
        return ConfigIssue(self.file, line, col, dotted(path), message, fix, severity)


def dotted(path: Path_) -> str:
    out = ""
    for part in path:
        if part in ("?", "#dup"):  # markers for a bad or repeated key: the parent names it
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


_SCALARS = yaml.SafeLoader("")


class _BadScalar(Exception):
    pass


def _scalar(node: yaml.ScalarNode) -> Any:
    try:
        value = _SCALARS.construct_object(node, deep=True)
    except Exception as exc:  # PyYAML raises AttributeError for `!!timestamp x`, …
        raise _BadScalar(f"cannot read value with tag {node.tag}") from exc
    finally:
        _SCALARS.constructed_objects.clear()
    # Dates and binary are not part of our format; keep what the user wrote.
    if not isinstance(value, str | int | float | bool | type(None)):
        return node.value
    return value


def load(text: str, file: str) -> Located:
    """Parse one YAML document; syntax problems become issues, never exceptions."""
    out = Located(file=file, text=text)
    try:
        loader = _LimitedLoader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except _LimitHit as hit:
        out.issues.append(_limit_issue(out, hit))
        return out
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = (exc.problem or exc.context or "invalid YAML").strip()
        out.issues.append(_syntax(out, line, col, what))
        return out
    except yaml.YAMLError as exc:  # ReaderError: bad characters, no mark object
        pos = getattr(exc, "position", 0)
        line = text.count("\n", 0, pos) + 1
        col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        out.issues.append(_syntax(out, line, col, str(getattr(exc, "reason", exc))))
        return out
    except RecursionError:
        out.issues.append(_syntax(out, 1, 1, "nesting too deep"))
        return out
    if node is not None:
        try:
            out.data = _build(node, (), out, frozenset(), [0])
        except _LimitHit as hit:
            out.data = None
            out.issues.append(_limit_issue(out, hit))
    return out


def _limit_issue(out: Located, hit: _LimitHit) -> ConfigIssue:
    out.syntax_error = True  # no usable data: nothing to validate
    line, col = out._clamp(hit.mark)
    return ConfigIssue(out.file, line, col, "", hit.what, hit.fix)


def _syntax(out: Located, line: int, col: int, what: str) -> ConfigIssue:
    out.syntax_error = True
    line, col = out._clamp((line, col))
    return ConfigIssue(
        out.file,
        line,
        col,
        "",
        f"YAML syntax error: {what}",
        "check indentation, quotes and colons on this line",
    )


def _build(
    node: yaml.Node, path: Path_, out: Located, seen: frozenset[int], count: list[int]
) -> Any:
    count[0] += 1
    if count[0] > MAX_NODES:  # report it at the top-level key whose aliases blow up
        raise _too_many(out.keys.get(path[:1], _mark(node)))
    if count[0] % 1000 == 0:
        _check_deadline(node)
    out.values.setdefault(path, _mark(node))
    if id(node) in seen:
        out.issues.append(out.issue(path, "recursive YAML alias", "remove the alias loop"))
        return None
    if isinstance(node, yaml.ScalarNode):
        try:
            return _scalar(node)
        except _BadScalar as exc:
            out.issues.append(out.issue(path, str(exc), "remove the `!tag` before the value"))
            return None
    inner = seen | {id(node)}
    if isinstance(node, yaml.SequenceNode):
        return [_build(child, (*path, i), out, inner, count) for i, child in enumerate(node.value)]
    assert isinstance(node, yaml.MappingNode)
    result: dict[str, Any] = {}
    for key_node, value_node in _merged(node):
        try:
            key = _scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
        except _BadScalar:
            key = None
        if not isinstance(key, str):
            out.values.setdefault(path, _mark(node))
            out.keys[(*path, "?")] = _mark(key_node)
            if isinstance(key, bool):
                what = f"key '{key_node.value}' is read as {str(key).lower()} by YAML"
                fix = f'quote it: `"{key_node.value}":`'
            else:
                what, fix = "keys must be plain text", "write the key as a word, e.g. `name:`"
            out.issues.append(out.issue((*path, "?"), what, fix, key=True))
            continue
        child = (*path, key)
        if key in result:
            out.keys[(*child, "#dup")] = _mark(key_node)
            out.issues.append(
                out.issue(
                    (*child, "#dup"), f"duplicate key '{key}'", "keep only one of them", key=True
                )
            )
            continue
        out.keys[child] = _mark(key_node)
        result[key] = _build(value_node, child, out, inner, count)
    return result


def _merged(node: yaml.MappingNode) -> Iterator[tuple[yaml.Node, yaml.Node]]:
    """Key/value pairs with YAML merge keys (`<<: *base`) expanded; own keys win."""
    own = [(k, v) for k, v in node.value if k.tag != "tag:yaml.org,2002:merge"]
    own_keys = {k.value for k, _ in own if isinstance(k, yaml.ScalarNode)}
    yield from own
    for k, v in node.value:
        if k.tag != "tag:yaml.org,2002:merge":
            continue
        bases = v.value if isinstance(v, yaml.SequenceNode) else [v]
        for base in bases:
            if isinstance(base, yaml.MappingNode):
                for bk, bv in base.value:
                    merge = bk.tag == "tag:yaml.org,2002:merge"
                    if isinstance(bk, yaml.ScalarNode) and not merge and bk.value not in own_keys:
                        own_keys.add(bk.value)
                        yield bk, bv
