"""The layer rules hold: the pure core never imports I/O, backends never decide
(contracts in pyproject.toml's [tool.importlinter], checked by import-linter)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def test_the_pure_core_does_no_io_and_backends_do_not_decide() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("SKIPPED LOUDLY: import-linter not installed; run ./scripts/test")
    out = subprocess.run(
        [exe, "--no-cache"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout
