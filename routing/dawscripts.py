"""`dawroute init --daw ardour|reaper`: the DAW-side action scripts shipped in routing/daw/,
copied into the DAW's own script folder. A file the user already has there is kept, never
overwritten (the same rule as `init`).

- Ardour reads `~/.config/ardourN/scripts/` (N its major version: Ardour's user config
  folder, `$XDG_CONFIG_HOME` honoured). Every such folder that exists gets the scripts;
  with none, the Ardour on PATH (`ardourN`, `ardourN-lua`) names it; else Ardour 8's.
- REAPER's resource folder on Linux is `~/.config/REAPER`; ReaScripts go in `Scripts/`.
"""

from __future__ import annotations

import re
import shutil
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from routing import paths
from routing.install import Report, _write_new

DAWS = ("ardour", "reaper")
ARDOUR_DEFAULT = 8
_ARDOUR_DIR = re.compile(r"^ardour(\d+)$")

HOW_TO_BIND = {
    "ardour": (
        "in Ardour: Edit > Lua Scripts > Script Manager > Action Scripts, pick a slot and a "
        "'dawroute: …' script; they send OSC, so turn it on in dawroute's config.yaml: "
        'osc: {listen: "127.0.0.1:9000"}'
    ),
    "reaper": (
        "in REAPER: Actions > Show action list > New action > Load ReaScript, pick the "
        "dawroute_*.lua files; set the profile names at the top of dawroute_switch.lua and "
        "dawroute_toggle.lua"
    ),
}


def shipped(daw: str) -> list[Traversable]:
    """The scripts the package ships for `daw`, by name."""
    folder = resources.files("routing") / "daw" / daw
    return sorted((f for f in folder.iterdir() if f.name.endswith(".lua")), key=lambda f: f.name)


def _config_home() -> Path:
    return paths.config_dir().parent


def ardour_versions(config_home: Path, path: str | None = None) -> list[int]:
    """The Ardour versions to install for: the user's config folders, else the Ardour on
    PATH, else the default (newest first)."""
    found = sorted(
        {
            int(m.group(1))
            for d in (config_home.iterdir() if config_home.is_dir() else ())
            if d.is_dir() and (m := _ARDOUR_DIR.match(d.name))
        },
        reverse=True,
    )
    if found:
        return found
    for version in range(12, 4, -1):
        if any(shutil.which(f"ardour{version}{s}", path=path) for s in ("", "-lua")):
            return [version]
    return [ARDOUR_DEFAULT]


def script_dirs(daw: str, config_home: Path | None = None, path: str | None = None) -> list[Path]:
    """Where `daw` reads its scripts from."""
    home = config_home or _config_home()
    if daw == "ardour":
        return [home / f"ardour{v}" / "scripts" for v in ardour_versions(home, path)]
    if daw == "reaper":
        return [home / "REAPER" / "Scripts"]
    raise ValueError(f"unknown DAW {daw!r}: known {', '.join(DAWS)}")


def install(daws: list[str], config_home: Path | None = None, path: str | None = None) -> Report:
    """Copy each DAW's shipped scripts into its script folder(s); existing files are kept."""
    report = Report()
    for daw in dict.fromkeys(daws):
        for folder in script_dirs(daw, config_home, path):
            for script in shipped(daw):
                _write_new(folder / script.name, script.read_text(encoding="utf-8"), report)
        report.notes.append(HOW_TO_BIND[daw])
    return report
