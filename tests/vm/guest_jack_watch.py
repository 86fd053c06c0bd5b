"""Guest side of a jackd-alone phase: time each step from the kernel's view to the DAW's
JACK ports playing on the right card, checked with JACK's and ALSA's own tools.

plug: the USB card appears → dawroute's bridge (a `dawroute-*` JACK client) registers its
ports, the card's mixer already at or below the cap at that moment (amixer) → FakeDAW's
outputs are linked to the bridge's playback ports and to nothing else (jack_lsp -c).
unplug: the card goes → FakeDAW's outputs are linked to system:playback_1/2 only, the
interface's mixer at the fallback's level, and the bridge is gone.
With --ardour the real Ardour's master outputs (`preset: ardour`) must be linked the same
way, to the same ports (both sets in place at once).
Prints JSON; exit status 0 only when the final state is right.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import time
from pathlib import Path

# the bare-ALSA watcher beside this script (the script's directory is on sys.path)
_alsa = importlib.import_module("guest_alsa_watch")
card_id, control_and_level = _alsa.card_id, _alsa.control_and_level
dummy_card, usb_card = _alsa.dummy_card, _alsa.usb_card

TIMEOUT = 60.0
FAKE = ("FakeDAW:out_1", "FakeDAW:out_2")
ARDOUR = ("ardour:Master/audio_out 1", "ardour:Master/audio_out 2")  # `preset: ardour`
DAWS = [FAKE]  # each DAW's left and right outputs (--ardour adds Ardour's master bus)
DAW = FAKE


def graph() -> tuple[set[str], set[tuple[str, str]]]:
    """(ports, links from the DAWs' ports) as jackd lists them."""
    daw_ports = {port for daw in DAWS for port in daw}
    out = subprocess.run(["jack_lsp", "-c"], capture_output=True, text=True, timeout=10).stdout
    ports: set[str] = set()
    links: set[tuple[str, str]] = set()
    current = None
    for line in out.splitlines():
        if not line.startswith((" ", "\t")):
            current = line.strip()
            ports.add(current)
        elif current in daw_ports:
            links.add((current, line.strip()))
    return ports, links


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("phase", choices=["plug", "unplug"])
    ap.add_argument("--cap", type=float, default=100.0)
    ap.add_argument("--fallback-volume", type=float, default=None)
    ap.add_argument("--ready", help="file to create once watching")
    ap.add_argument("--ardour", action="store_true", help="Ardour's master outputs too")
    a = ap.parse_args()
    if a.ardour:
        DAWS.append(ARDOUR)
    start = time.monotonic()
    t: dict[str, float] = {"watch_start": start}
    if a.ready:
        Path(a.ready).touch()
    result: dict[str, object] = {"phase": a.phase}
    want: int | None = None
    while time.monotonic() - start < TIMEOUT:
        now = time.monotonic()
        usb = usb_card()
        if "card" not in t and (usb is not None) == (a.phase == "plug"):
            t["card"] = now
            want = usb if a.phase == "plug" else dummy_card()
        if want is None:
            time.sleep(0.02)
            continue
        ports, links = graph()
        bridges = sorted({p.split(":", 1)[0] for p in ports if p.startswith("dawroute-")})
        if a.phase == "plug":
            if bridges and "bridge" not in t:
                t["bridge"] = now
                result["bridge"] = bridges[0]
                # the safety order: the card is at the cap before anything can reach it
                result["level_when_bridged"] = control_and_level(want)[1]
            targets = {f"{b}:playback_{i}" for b in bridges for i in (1, 2)}
            wanted = {
                (daw[i - 1], f"{b}:playback_{i}") for b in bridges for daw in DAWS for i in (1, 2)
            }
            if bridges and links == wanted and targets <= ports:
                t["linked"] = now
        else:
            wanted = {(daw[i - 1], f"system:playback_{i}") for daw in DAWS for i in (1, 2)}
            if links == wanted and "linked" not in t:
                t["linked"] = now
            if "linked" in t and not bridges:
                t["bridge_gone"] = now
        if "linked" in t and (a.phase == "plug" or "bridge_gone" in t):
            control, level, _shown = control_and_level(want)
            ok = level is not None and (
                level <= a.cap + 0.6
                if a.fallback_volume is None
                else abs(level - a.fallback_volume) <= 1.5
            )
            if ok:
                t["level"] = now
                result.update(control=control, level=level)
                break
        time.sleep(0.02)
    ports, links = graph()
    result.update(times=t, links=sorted(links), card_id=card_id(want) if want is not None else None)
    result["bridge_ports"] = sorted(p for p in ports if p.startswith("dawroute-"))
    need = (
        ("card", "bridge", "linked", "level")
        if a.phase == "plug"
        else ("card", "linked", "bridge_gone", "level")
    )
    result["ok"] = all(k in t for k in need)
    print(json.dumps(result, indent=1))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
