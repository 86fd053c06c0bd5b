"""Error types, the names they carry over the control socket, and the CLI's exit codes.

Every error a user can see is a `DawrouteError` subclass with a stable `name`
(sent over the socket), an exit code (documented in docs/cli.md) and a message
that says what happened and, where there is one, how to fix it.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from routing.refusal import Refusal

# C0 and C1 controls except tab and newline, DEL, and bidi overrides: text from a peer or
# a file must not move the cursor, retitle the terminal or reorder what is shown.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """`text` with control characters shown as escapes (`\x1b`), safe to print."""
    return _CONTROL.sub(
        lambda m: (
            f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}"
        ),
        text,
    )


def clean_all(value: Any) -> Any:
    """`clean` applied to every string (and key) inside decoded JSON."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, list):
        return [clean_all(v) for v in value]
    if isinstance(value, dict):
        return {clean(str(k)): clean_all(v) for k, v in value.items()}
    return value


class DawrouteError(Exception):
    name = "Error"
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigInvalid(DawrouteError):
    name = "ConfigInvalid"
    exit_code = 3

    def __init__(self, issues: list[ConfigIssue] | str) -> None:
        # a str when rebuilt from its name and message on the CLI side of the socket
        text = issues if isinstance(issues, str) else "\n".join(issue_lines(issues))
        super().__init__(text)
        self.issues = [] if isinstance(issues, str) else issues


class DaemonNotRunning(DawrouteError):
    name = "DaemonNotRunning"
    exit_code = 4


class ProfileNotFound(DawrouteError):
    name = "ProfileNotFound"
    exit_code = 5


class ProfileNotMatched(DawrouteError):
    name = "ProfileNotMatched"
    exit_code = 6


class ProfileNotApplied(DawrouteError):
    name = "ProfileNotApplied"
    exit_code = 7


class ServerUnavailable(DawrouteError):
    name = "ServerUnavailable"
    exit_code = 8


class AmbiguousDevice(DawrouteError):
    name = "AmbiguousDevice"
    exit_code = 6


class BadRequest(DawrouteError):
    name = "BadRequest"
    exit_code = 9


class PermissionDenied(DawrouteError):
    name = "PermissionDenied"
    exit_code = 10


class DaemonNotResponding(DawrouteError):
    name = "DaemonNotResponding"
    exit_code = 11


class AlreadyRunning(DawrouteError):
    name = "AlreadyRunning"
    exit_code = 12


ERRORS_BY_NAME: dict[str, type[DawrouteError]] = {
    cls.name: cls
    for cls in (
        DawrouteError,
        ConfigInvalid,
        DaemonNotRunning,
        ProfileNotFound,
        ProfileNotMatched,
        ProfileNotApplied,
        ServerUnavailable,
        AmbiguousDevice,
        BadRequest,
        PermissionDenied,
        DaemonNotResponding,
        AlreadyRunning,
    )
}


# The one place a refusal of the pure core becomes an error the user sees
REFUSED: dict[Refusal, type[DawrouteError]] = {
    Refusal.NO_SUCH_PROFILE: ProfileNotFound,
    Refusal.NOT_MATCHED: ProfileNotMatched,
    Refusal.AMBIGUOUS: AmbiguousDevice,
}


def refused(refusal: Refusal, message: str) -> DawrouteError:
    return REFUSED[refusal](message)


MAX_SHOWN = 20  # issues sent over the socket and kept in status; `dawroute check` shows all
MAX_ISSUE_CHARS = 500


def issue_lines(
    issues: list[ConfigIssue] | tuple[ConfigIssue, ...], limit: int = MAX_SHOWN
) -> list[str]:
    """The first `limit` issues as text, each cut to MAX_ISSUE_CHARS, and a line counting
    the rest: what the daemon stores and sends instead of a 3,000-line list."""
    lines = [_cut(i.format()) for i in issues[:limit]]
    if len(issues) > limit:
        lines.append(f"… and {len(issues) - limit} more — run `dawroute check` to see them all")
    return lines


def _cut(text: str) -> str:
    return text if len(text) <= MAX_ISSUE_CHARS else text[: MAX_ISSUE_CHARS - 1] + "…"


class ConfigIssue(NamedTuple):
    """One problem in a YAML file, located at a line and column (1-based).

    A NamedTuple rather than a dataclass: the CLI imports this module on every call and
    `dataclasses` (with `inspect`) costs ~6 ms of a `dawroute status` (python -X importtime).
    """

    file: str
    line: int
    column: int
    key: str  # dotted key path, e.g. "profiles[0].output.volume"; "" for the document
    message: str
    fix: str = ""
    severity: str = "error"  # or "warning"

    def format(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}: "
        key = f"{self.key}: " if self.key else ""
        fix = f" — {self.fix}" if self.fix else ""
        sev = "warning: " if self.severity == "warning" else ""
        return f"{where}{sev}{key}{self.message}{fix}"

    def as_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "key": self.key,
            "message": self.message,
            "fix": self.fix,
            "severity": self.severity,
        }
