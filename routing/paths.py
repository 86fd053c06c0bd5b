"""XDG locations shared by the daemon and the CLI."""

from __future__ import annotations

import os
from pathlib import Path


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / fallback


def config_dir() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config") / "dawroute"


def profiles_dir() -> Path:
    return config_dir() / "profiles"


def config_file() -> Path:
    return config_dir() / "config.yaml"


def state_dir() -> Path:
    return _xdg("XDG_STATE_HOME", ".local/state") / "dawroute"


def runtime_dir() -> Path:
    value = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(value) if value and os.path.isabs(value) else Path(f"/tmp/dawroute-{os.getuid()}")
    return base / "dawroute"


def control_socket() -> Path:
    override = os.environ.get("DAWROUTE_SOCKET")
    return Path(override) if override else runtime_dir() / "control.sock"
