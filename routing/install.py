"""`dawroute init`: the example configuration, editor schemas and the user unit, from the
files the package ships (routing/data/, links to the repository's profiles/ and systemd/).

Nothing the user already has is overwritten: an existing profile, config.yaml or unit is
kept and reported as kept. The two schema files are the installed version's own and are
refreshed when they differ, so the editor hints follow an upgrade.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from routing import paths

HINT = re.compile(r"^# yaml-language-server: \$schema=\S+\n")
UNIT_NAME = "dawroute.service"
# the executable line of the shipped unit (`~/.local/bin/dawroute`), replaced on install
EXEC_LINE = re.compile(r"^ExecStart=.*$", re.MULTILINE)


def data() -> Traversable:
    """The package's data folder (profiles, unit, completions, man page)."""
    return resources.files("routing") / "data"


def example_profiles() -> list[Traversable]:
    folder = data() / "profiles"
    return sorted(
        (f for f in folder.iterdir() if f.name.endswith(".yaml") and f.name != "config.yaml"),
        key=lambda f: f.name,
    )


def with_hint(text: str, schema: str) -> str:
    """`text` whose first line is the yaml-language-server hint pointing at `schema`."""
    line = f"# yaml-language-server: $schema={schema}\n"
    return HINT.sub(line, text, count=1) if HINT.match(text) else line + text


@dataclass
class Report:
    wrote: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"wrote {p}" for p in self.wrote]
        out += [f"kept {p} (exists; not overwritten)" for p in self.kept]
        return out + self.notes


def _write_new(path: Path, text: str, report: Report) -> None:
    """Create `path` with `text` unless it exists (O_EXCL: never a race with the user)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        report.kept.append(path)
        return
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    report.wrote.append(path)


def _refresh(path: Path, text: str, report: Report) -> None:
    """Write a file that is ours (a schema) when it is missing or differs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except OSError:
        pass
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    report.wrote.append(path)


def write_schemas(config_dir: Path, report: Report) -> None:
    from routing.format.config import config_schema
    from routing.format.profiles import profile_schema

    schema_dir = config_dir / "schema"
    for name, schema in (
        ("profile.schema.json", profile_schema()),
        ("config.schema.json", config_schema()),
    ):
        _refresh(schema_dir / name, json.dumps(schema, indent=2) + "\n", report)


def init(config_dir: Path | None = None) -> Report:
    """Example profiles and config.yaml into the user's config directory, with editor
    hints pointing at schema files written next to them."""
    config_dir = config_dir or paths.config_dir()
    report = Report()
    write_schemas(config_dir, report)
    for f in example_profiles():
        text = with_hint(f.read_text(encoding="utf-8"), "../schema/profile.schema.json")
        _write_new(config_dir / "profiles" / f.name, text, report)
    config = (data() / "profiles" / "config.yaml").read_text(encoding="utf-8")
    config = config.replace("# Daemon settings. Copy to ~/.config/dawroute/config.yaml.\n", "")
    _write_new(config_dir / "config.yaml", with_hint(config, "schema/config.schema.json"), report)
    install_cap_guard(report)
    return report


def install_cap_guard(report: Report) -> None:
    """WirePlumber's side of the hearing-safety cap (docs/safety.md): a script that
    holds the session manager's own links to a capped device until it is within its
    cap. Only WirePlumber 0.5 runs it; older ones ignore the file."""
    if shutil.which("wireplumber") is None:
        return
    from routing.backends import capguard

    wrote = capguard.install()
    report.wrote += wrote
    if wrote:
        report.notes.append(
            "restart WirePlumber so the cap guard runs: systemctl --user restart wireplumber"
        )


# ---------------------------------------------------------------- the user unit


def executable() -> Path:
    """The `dawroute` being run, as an absolute path the unit can start: argv[0] when it
    is a file, else the one on PATH, else this interpreter's `-m routing`."""
    arg0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if arg0 is not None and arg0.name == "dawroute" and arg0.is_file():
        return arg0.resolve()
    found = shutil.which("dawroute")
    if found:
        return Path(found).resolve()
    return Path(sys.executable).resolve()


def exec_start() -> str:
    exe = executable()
    argv = [str(exe), "daemon"] if exe.name == "dawroute" else [str(exe), "-m", "routing", "daemon"]
    # systemd's own quoting: double quotes, with `%` (its specifier) doubled
    return " ".join(_unit_quote(a) for a in argv)


def _unit_quote(arg: str) -> str:
    arg = arg.replace("%", "%%")
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unit_text() -> str:
    shipped = (data() / "systemd" / UNIT_NAME).read_text(encoding="utf-8")
    return EXEC_LINE.sub(lambda _m: f"ExecStart={exec_start()}", shipped, count=1)


def unit_dir() -> Path:
    return paths.config_dir().parent / "systemd" / "user"


SYSTEMCTL_STEPS = (("daemon-reload",), ("enable", "--now", "dawroute"))


def install_service(report: Report) -> bool:
    """Write the unit (replacing an older one of ours: its ExecStart may point at a
    previous install) and enable it; without systemctl or a user bus, say what to run.
    True when systemd took it."""
    path = unit_dir() / UNIT_NAME
    text = unit_text()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        same = path.read_text(encoding="utf-8") == text
    except OSError:
        same = False
    if not same:
        path.write_text(text, encoding="utf-8")
        report.wrote.append(path)
    report.notes.append(f"the unit runs: {exec_start()}")
    commands = [["systemctl", "--user", *step] for step in SYSTEMCTL_STEPS]
    systemctl = shutil.which("systemctl")
    why = "systemctl is not installed"
    if systemctl is not None:
        for cmd in commands:
            out = subprocess.run([systemctl, *cmd[1:]], capture_output=True, text=True, timeout=60)
            if out.returncode != 0:
                last = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["failed"]
                why = f"`{shlex.join(cmd)}` failed: {last[0]}"
                break
        else:
            report.notes.append("enabled and started: systemctl --user status dawroute")
            return True
    report.notes.append(
        f"not enabled ({why}); in your desktop session run: "
        + " && ".join(shlex.join(c) for c in commands)
    )
    return False
