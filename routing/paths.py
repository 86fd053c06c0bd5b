"""XDG locations shared by the daemon and the CLI."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def xdg(var: str, fallback: str, env: Mapping[str, str] | None = None) -> Path:
    """An XDG base directory from `env` (the process's own by default), else its default
    under HOME."""
    env = os.environ if env is None else env
    value = env.get(var)
    if value and os.path.isabs(value):
        return Path(value)
    return Path(env.get("HOME") or Path.home()) / fallback


def config_dir() -> Path:
    return xdg("XDG_CONFIG_HOME", ".config") / "dawroute"


def profiles_dir() -> Path:
    return config_dir() / "profiles"


def config_file() -> Path:
    return config_dir() / "config.yaml"


def alsa_config_file() -> Path:
    """dawroute's managed ALSA configuration (bare ALSA): ~/.asoundrc includes it."""
    return config_dir() / "asoundrc"


def state_dir() -> Path:
    return xdg("XDG_STATE_HOME", ".local/state") / "dawroute"


def _xdg_runtime() -> Path | None:
    value = os.environ.get("XDG_RUNTIME_DIR")
    return Path(value) if value and os.path.isabs(value) else None


def runtime_dir() -> Path:
    """$XDG_RUNTIME_DIR/dawroute, else $TMPDIR (or /tmp)/dawroute-UID/dawroute."""
    base = _xdg_runtime()
    if base is None:
        tmp = os.environ.get("TMPDIR") or "/tmp"
        base = Path(tmp if os.path.isabs(tmp) else "/tmp") / f"dawroute-{os.getuid()}"
    return base / "dawroute"


def private_dirs() -> list[Path]:
    """Directories the daemon creates 0700 and refuses to use when another user owns
    them or their mode lets others in: under /tmp someone else may have made them first.
    None when DAWROUTE_SOCKET names the socket: that location is the user's choice."""
    if os.environ.get("DAWROUTE_SOCKET"):
        return []
    run = runtime_dir()
    return [run] if _xdg_runtime() is not None else [run.parent, run]


def control_socket() -> Path:
    override = os.environ.get("DAWROUTE_SOCKET")
    return Path(override) if override else runtime_dir() / "control.sock"
