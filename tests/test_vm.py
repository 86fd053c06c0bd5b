"""Real-kernel tier: qemu's emulated USB audio device hot-plugged into the distribution
kernel, with udev, ALSA, PipeWire + WirePlumber and the dawroute daemon in the guest."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parent / "vm" / "harness.py"


@pytest.mark.parametrize("server", ["pipewire", "pulseaudio"])
def test_usb_amp_plugged_into_a_real_kernel_gets_the_daw_and_unplug_falls_back(
    server: str,
) -> None:
    spec = importlib.util.spec_from_file_location("vm_harness", HARNESS)
    assert spec is not None and spec.loader is not None
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)
    why = harness.missing()
    if why:
        pytest.skip(
            "SKIPPED LOUDLY: real-kernel tier cannot run: missing "
            + ", ".join(why)
            + " — run ./scripts/test to install it"
        )
    cache = Path(os.environ.get("DAWROUTE_VM_CACHE", "/tmp/dawroute-vm"))
    out = subprocess.run(
        [sys.executable, str(HARNESS), "--cache", str(cache), "--server", server],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.stdout, out.stderr
    summary = json.loads(out.stdout)
    print(json.dumps(summary, indent=1))  # the timings, in the test output
    guest_log = cache / "out" / "guest.log"
    assert summary["result"] == "OK", (
        summary,
        guest_log.read_text()[-4000:] if guest_log.exists() else "no guest log",
    )
    for phase in ("ADD", "ADD2"):
        p = summary[phase]
        assert p["ok"] and p["daw_sink"].startswith("alsa_output.usb-QEMU")
        assert p["daw_sink_volume"] <= 50.6  # the amp profile's cap
        t = p["times"]
        assert p["enumerated"] <= t["card"] <= t["sink"] <= t["routed"]
        print(
            f"{phase}: enumerated→card {t['card'] - p['enumerated']:.2f} s, card→sink "
            f"{t['sink'] - t['card']:.2f} s, sink→DAW routed {t['routed'] - t['sink']:.2f} s"
        )
        assert "usb-amp: auto, priority 90" in summary[f"status_{phase}"]
    fallback = summary["DEL"]
    assert fallback["ok"] and "dummy" in fallback["daw_sink"]
    assert abs(fallback["daw_sink_volume"] - 70) <= 0.6  # the fallback's own level
    assert "interface: fallback" in summary["status_DEL"]
