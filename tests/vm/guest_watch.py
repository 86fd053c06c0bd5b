"""Guest side of a phase: time each step from the kernel's view to the DAW being routed.

Prints JSON: seconds on the guest's monotonic clock (the one dmesg uses) for the USB
device enumerating (dmesg), the ALSA card, the PipeWire sink, and the DAW stream on it.
Exit status 0 only when the final state is right (checked from the sound server).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from typing import Any

import pulsectl

TIMEOUT = 60.0


def usb_card() -> bool:
    with open("/proc/asound/cards") as f:
        return "USB-Audio" in f.read()


def usb_sink(p: pulsectl.Pulse) -> Any:
    return next((s for s in p.sink_list() if s.proplist.get("device.bus") == "usb"), None)


def daw_sink(p: pulsectl.Pulse) -> Any:
    sinks = {s.index: s for s in p.sink_list()}
    for i in p.sink_input_list():
        if i.proplist.get("application.name") == "REAPER":
            return sinks.get(i.sink)
    return None


def enumerated_at() -> float | None:
    out = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
    times = re.findall(r"\[\s*([\d.]+)\] usb \d+-\d+: new full-speed USB device", out)
    return float(times[-1]) if times else None


def volume(sink: Any) -> float:
    return round(max(sink.volume.values) * 100, 1)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("phase", choices=["plug", "unplug"])
    ap.add_argument("--cap", type=float, default=100.0)
    ap.add_argument("--fallback-volume", type=float, default=None)
    ap.add_argument("--ready", help="file to create once watching")
    a = ap.parse_args()
    want_card = a.phase == "plug"
    with pulsectl.Pulse("vm-watch") as p:
        start = time.monotonic()
        t: dict[str, float | None] = {"watch_start": start}
        if a.ready:
            open(a.ready, "w").close()
        while time.monotonic() - start < TIMEOUT:
            now = time.monotonic()
            if "card" not in t and usb_card() == want_card:
                t["card"] = now
            sink = usb_sink(p)
            if "sink" not in t and (sink is not None) == want_card:
                t["sink"] = now
            on = daw_sink(p)
            if a.phase == "plug" and sink is not None and on is not None and on.index == sink.index:
                t["routed"] = now
                break
            if (
                a.phase == "unplug"
                and "sink" in t
                and on is not None
                and on.proplist.get("device.bus") != "usb"
                and on.name.find("dummy") >= 0
            ):
                # the server moves the stream itself when the sink goes; dawroute then
                # sets the fallback's own level: wait for that too
                t.setdefault("routed", now)
                if a.fallback_volume is None or abs(volume(on) - a.fallback_volume) <= 0.6:
                    t["level"] = now
                    break
            time.sleep(0.01)
        on = daw_sink(p)
        result = {
            "phase": a.phase,
            "times": t,
            "enumerated": enumerated_at(),
            "daw_sink": on.name if on else None,
            "daw_sink_volume": volume(on) if on else None,
        }
    ok = "routed" in t and on is not None
    if ok and a.phase == "plug":
        ok = result["daw_sink_volume"] <= a.cap + 0.6
    if ok and a.fallback_volume is not None:
        ok = abs(result["daw_sink_volume"] - a.fallback_volume) <= 0.6
    result["ok"] = ok
    print(json.dumps(result, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
