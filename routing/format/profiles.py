"""Profiles: loading files into frozen Profile values (the format is in `document`, its
value types in `values`, error translation in `validation`, checks across profiles in
`crosscheck`).

The format is declared once, as pydantic dataclasses: that gives validation,
defaults and the exported JSON Schema from the same source. Locations come from
`yamlsource` (PyYAML node marks), so every error reads
`file:line:col: key.path: what is wrong — how to fix`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import (
    TypeAdapter,
    ValidationError,
)

from routing import profile as plain_model
from routing.errors import ConfigInvalid, ConfigIssue
from routing.format import plain, yamlsource
from routing.format.crosscheck import cross_check
from routing.format.document import (
    LoadedProfile,
    Profile,
    ProfileFile,
    ProfileSet,
    Source,
    Unloaded,
)
from routing.format.validation import adapter, block_checks, validate_document

CONFIG_NAME = "config.yaml"
MAX_FILE_BYTES = 256 * 1024  # per file; the example profiles are under 1 KiB

# ---------------------------------------------------------------- loading


def profile_files(paths: Sequence[Path]) -> list[Path]:
    """Files named directly, plus *.yaml / *.yml inside named directories, sorted.

    A `config.yaml` inside a directory holds daemon settings, not profiles."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(
                sorted(
                    q
                    for q in p.iterdir()
                    if q.suffix in (".yaml", ".yml") and q.name != CONFIG_NAME
                )
            )
        else:
            out.append(p)
    return out


def profile_names(directory: Path) -> list[str]:
    """Profile names in the files of `directory` (one profile or `profiles: [...]` each);
    unreadable or invalid files are passed over — `dawroute check` is for those."""
    import yaml

    names: list[str] = []
    for path in profile_files([directory]) if directory.is_dir() else []:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, yaml.YAMLError):
            continue
        items = doc.get("profiles") if isinstance(doc, dict) and "profiles" in doc else [doc]
        for item in items if isinstance(items, list) else []:
            name = item.get("name") if isinstance(item, dict) else None
            if isinstance(name, str) and name not in names:
                names.append(name)
    return names


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def read_text(path: Path) -> tuple[str, ConfigIssue | None]:
    """A regular file's text, at most MAX_FILE_BYTES. Pipes, devices and sockets are
    refused without reading them (a FIFO would block until someone writes to it,
    /dev/zero never ends), so reading a file never hangs."""

    def problem(what: str, fix: str) -> tuple[str, ConfigIssue]:
        return "", ConfigIssue(str(path), 1, 1, "", what, fix)

    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return problem(
                f"{_kind(st.st_mode)}, not a regular file",
                "profiles and config.yaml must be ordinary files; move it out of the way",
            )
        # O_NONBLOCK: if it was swapped for a FIFO since the stat, open does not wait
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                return problem(
                    f"{_kind(st.st_mode)}, not a regular file",
                    "profiles and config.yaml must be ordinary files; move it out of the way",
                )
            data = f.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            return problem(
                f"file too large: {max(st.st_size, len(data))} bytes, the limit is "
                f"{MAX_FILE_BYTES} ({MAX_FILE_BYTES // 1024} KiB)",
                "profiles are a few KiB; split it or remove what is not needed",
            )
        # as text mode would: \r\n and \r become \n
        return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n"), None
    except FileNotFoundError:
        return problem("file not found", "check the path, or create it")
    except UnicodeDecodeError as exc:
        return problem(f"not UTF-8 text ({exc.reason})", "save the file as UTF-8")
    except OSError as exc:
        return problem(f"cannot read: {exc.strerror}", "check the file's permissions")


@dataclass(frozen=True, slots=True)
class ParsedFile:
    loaded: list[LoadedProfile]
    issues: list[ConfigIssue]
    unloaded: list[Unloaded]


def parse_profiles(text: str, file: str) -> tuple[list[LoadedProfile], list[ConfigIssue]]:
    """One file's profiles, or its issues. A file holds one profile or `profiles: [...]`."""
    parsed = parse_profile_file(text, file)
    return parsed.loaded, parsed.issues


def parse_profile_file(text: str, file: str) -> ParsedFile:
    """One file's valid profiles, every issue in it, and what its invalid profiles claim.
    In a `profiles:` list each profile stands alone: one with a mistake does not keep the
    others out of the checks across files."""
    doc = yamlsource.load(text, file)
    if doc.syntax_error:
        return ParsedFile([], doc.issues, [Unloaded()])
    data = doc.data
    if data is None:
        empty = doc.issue(
            (), "the file is empty", "add a profile, see docs/profiles.md", severity="warning"
        )
        return ParsedFile([], [empty], [])
    if not isinstance(data, dict):
        wrong = doc.issue(
            (),
            "expected a profile (a mapping with `name:` and `output:`)",
            "see profiles/*.yaml for examples",
        )
        return ParsedFile([], [wrong], [Unloaded()])
    found: list[tuple[Profile, yamlsource.Path_]] = []
    unloaded: list[Unloaded] = []
    extra: list[ConfigIssue] = []
    if "profiles" in data:
        parsed = validate_document(doc, adapter(ProfileFile), ProfileFile)
        raw = data["profiles"]
        if parsed is not None:
            found = [(p, ("profiles", i)) for i, p in enumerate(parsed.profiles)]
        elif isinstance(raw, list):
            for i, item in enumerate(raw):
                one = _valid_or_none(adapter(Profile), item)
                if one is None:
                    unloaded.append(Unloaded.claimed_by(item))
                else:
                    found.append((one, ("profiles", i)))
        else:
            unloaded.append(Unloaded())
        if isinstance(raw, list):
            for i in range(len(raw)):
                extra += block_checks(doc, ("profiles", i))
    else:
        parsed = validate_document(doc, adapter(Profile), Profile)
        if parsed is None:
            unloaded.append(Unloaded.claimed_by(data))
        else:
            found = [(parsed, ())]
        extra += block_checks(doc, ())
    loaded = []
    for prof, path in found:
        line, col = doc.where((*path, "name"))
        converted = plain.convert(prof, plain_model, plain_model.Profile)
        loaded.append(LoadedProfile(converted, Source(file, line, col, doc, path)))
    issues = list(dict.fromkeys([*doc.issues, *extra]))  # the block checks repeat pydantic's
    return ParsedFile(loaded, sorted(issues, key=lambda i: (i.line, i.column)), unloaded)


def _valid_or_none(validator: TypeAdapter[Any], data: Any) -> Any:
    try:
        return validator.validate_python(data)
    except ValidationError:
        return None


def load_profiles(paths: Sequence[Path]) -> tuple[ProfileSet, list[ConfigIssue]]:
    """All profiles from files/dirs, and every issue found (errors and warnings)."""
    loaded: list[LoadedProfile] = []
    issues: list[ConfigIssue] = []
    unloaded: list[Unloaded] = []
    for path in profile_files(paths):
        text, problem = read_text(path)
        if problem:
            issues.append(problem)
            unloaded.append(Unloaded())
            continue
        parsed = parse_profile_file(text, str(path))
        loaded.extend(parsed.loaded)
        issues.extend(parsed.issues)
        unloaded.extend(parsed.unloaded)
    issues.extend(cross_check(loaded, unloaded))
    warnings = tuple(i for i in issues if i.severity == "warning")
    return ProfileSet(tuple(loaded), warnings, tuple(unloaded)), issues


def load_profiles_or_raise(paths: Sequence[Path]) -> ProfileSet:
    profile_set, issues = load_profiles(paths)
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise ConfigInvalid(errors)
    return profile_set


def profile_schema() -> dict[str, Any]:
    """JSON Schema for a profile file (one profile, or `profiles: [...]`)."""
    single = adapter(Profile).json_schema()
    many = adapter(ProfileFile).json_schema()
    defs = {**single.pop("$defs", {}), **many.pop("$defs", {})}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "dawroute profile file",
        "anyOf": [single, many],
        "$defs": defs,
    }
