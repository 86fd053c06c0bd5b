"""`dawroute midi learn --add`: a trigger inserted into config.yaml, keeping the user's
comments and layout where the file has a block list under `midi.triggers`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from routing.format import yamlsource


def add_trigger(config_path: Path, snippet: str) -> None:
    """Insert a trigger into config.yaml, keeping the user's comments and layout where the
    file has a block list under `midi.triggers` (the common case)."""
    text = config_path.read_text(encoding="utf-8") if config_path.exists() else ""
    doc = yamlsource.load(text, str(config_path))
    data = doc.data if isinstance(doc.data, dict) else {}
    midi_cfg = data.get("midi") if isinstance(data.get("midi"), dict) else None
    lines = text.splitlines(keepends=True)
    if midi_cfg is None and "midi" not in data:
        block = "midi:\n  triggers:\n" + _indent(snippet, 4)
        new = text + ("" if not text or text.endswith("\n") else "\n") + block
    elif (
        midi_cfg is not None
        and isinstance(midi_cfg.get("triggers"), list)
        and ("midi", "triggers", 0) in doc.values
    ):
        line, _col = doc.values[("midi", "triggers", 0)]
        if not lines[line - 1].lstrip().startswith("-"):
            new = _rewrite(data, snippet)
        else:
            dash = len(lines[line - 1]) - len(lines[line - 1].lstrip())
            lines.insert(line - 1, _indent(snippet, dash))
            new = "".join(lines)
    else:
        new = _rewrite(data, snippet)
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(new, encoding="utf-8")


def _rewrite(data: dict[str, Any], snippet: str) -> str:
    midi_cfg = dict(data.get("midi") or {})
    midi_cfg["triggers"] = [*(midi_cfg.get("triggers") or []), *yaml.safe_load(snippet)]
    return yaml.safe_dump({**data, "midi": midi_cfg}, sort_keys=False)


def _indent(snippet: str, spaces: int) -> str:
    return "".join(" " * spaces + line + "\n" for line in snippet.splitlines())
