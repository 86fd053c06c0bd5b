"""The server-side cap guard on WirePlumber 0.5: install it, keep its caps current.

WirePlumber links the DAW to a re-appearing device before any client hears of the device
(docs/safety.md); a cap set by a client always comes too late for that first link. The
guard is a WirePlumber script (routing/data/wireplumber/dawroute-cap-guard.lua) that
holds such a link until the device is within its cap. dawroute installs it with
`dawroute init` (it runs once WirePlumber restarts) and keeps its caps current two
ways: in the component's arguments (read when WirePlumber starts, so a restarted
WirePlumber guards at once) and, live, in the "dawroute" metadata the script creates.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from routing.backends.pipewire import MetadataError, pw_metadata
from routing.guard import GuardCaps
from routing.paths import xdg

log = logging.getLogger(__name__)

SCRIPT = "dawroute-cap-guard.lua"
CONF = "60-dawroute-cap-guard.conf"
METADATA = "dawroute"
KEY = "dawroute.caps"


Env = Mapping[str, str]


def script_path(env: Env | None = None) -> Path:
    """Where the installed copy lives (a copy: a reinstalled package moves its files)."""
    return xdg("XDG_DATA_HOME", ".local/share", env) / "dawroute" / "wireplumber" / SCRIPT


def conf_path(env: Env | None = None) -> Path:
    wp = xdg("XDG_CONFIG_HOME", ".config", env) / "wireplumber"
    return wp / "wireplumber.conf.d" / CONF


def linear(caps: GuardCaps) -> dict[str, dict[str, float]]:
    """Percent (the cubic scale pulse clients and dawroute use) → PipeWire's linear
    channel volumes, which the script compares with the node's Props."""
    return {dev: {ch: (cap / 100.0) ** 3 for ch, cap in per.items()} for dev, per in caps.items()}


def conf_text(caps: GuardCaps, env: Env | None = None) -> str:
    """The component, its caps as arguments, and the profile entry that loads it. JSON is
    valid SPA-JSON, so the caps are written as JSON."""
    return (
        "# Written by dawroute (docs/safety.md): do not edit, it is rewritten as profiles\n"
        "# and devices change. Remove it and restart WirePlumber to switch the guard off.\n"
        "wireplumber.components = [\n"
        f"  {{ name = {json.dumps(str(script_path(env)))}, type = script/lua\n"
        f"    arguments = {{ caps = {json.dumps(linear(caps), sort_keys=True)} }}\n"
        "    provides = custom.dawroute-cap-guard }\n"
        "]\n"
        "wireplumber.profiles = { main = { custom.dawroute-cap-guard = required } }\n"
    )


def _write(path: Path, text: str) -> bool:
    """Write our own file when it is missing or differs; True when written."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return True


def install(caps: GuardCaps | None = None, env: Env | None = None) -> list[Path]:
    """Install (or update) the script and its component; returns the files written.
    Caps already installed are kept unless new ones are given."""
    script = (resources.files("routing") / "data" / "wireplumber" / SCRIPT).read_text("utf-8")
    wrote = [script_path(env)] if _write(script_path(env), script) else []
    caps = installed_caps(env) if caps is None else caps
    if _write(conf_path(env), conf_text(caps, env)):
        wrote.append(conf_path(env))
    return wrote


def installed(env: Env | None = None) -> bool:
    return conf_path(env).is_file() and script_path(env).is_file()


def installed_caps(env: Env | None = None) -> dict[str, dict[str, float]]:
    """The caps in the installed component (percent), {} when none: what the guard knew
    when dawroute last ran, the start of its memory."""
    try:
        text = conf_path(env).read_text(encoding="utf-8")
    except OSError:
        return {}
    start = text.find("caps = ")
    if start < 0:
        return {}
    try:
        lin, _ = json.JSONDecoder().raw_decode(text, start + len("caps = "))
        return {
            dev: {ch: round(float(v) ** (1 / 3) * 100.0, 4) for ch, v in per.items()}
            for dev, per in lin.items()
        }
    except (ValueError, AttributeError, TypeError):
        log.warning("%s: unreadable caps; the guard starts without memory", conf_path(env))
        return {}


async def publish(caps: GuardCaps, env: Env | None = None) -> bool:
    """Send the caps to a running guard and keep the installed component in step.
    False when no guard is running (not installed, or WirePlumber not restarted yet)."""
    if installed(env):
        _write(conf_path(env), conf_text(caps, env))
    text = json.dumps(linear(caps), sort_keys=True)
    try:
        out = await pw_metadata(METADATA, KEY, text, "Spa:String:JSON", env=env)
    except MetadataError as exc:
        log.debug("cap guard: %s", exc)
        return False
    # pw-metadata names the metadata it found; without a guard it prints nothing
    return f'"{METADATA}" metadata' in out
