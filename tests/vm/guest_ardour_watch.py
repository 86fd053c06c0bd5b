"""Guest side of an Ardour-on-bare-ALSA phase: the real Ardour (headless, its ALSA backend,
dawroute's editor hook dawroute_follow_alsa.lua inside it) must re-open its output on the
active profile's card. Checked with what Ardour's engine reports (the "ENGINE <running>
<device>" lines guest_ardour.lua prints) and with the kernel's view of that card's PCM.

start: the amp's profile is active already, Ardour started on the interface's card → on
the amp. unplug: the amp goes → on the interface. plug: the amp comes → on it again.
Each: Ardour's engine running on the ALSA device named after the card, the card's
playback PCM RUNNING (/proc/asound/cardN/pcm0p/sub0/status), and on a move to the amp no
playback PCM of the interface's card left running (Ardour let it go).
Prints JSON; exit status 0 only when the final state is right.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path

# the bare-ALSA watcher beside this script (the script's directory is on sys.path)
_alsa = importlib.import_module("guest_alsa_watch")

TIMEOUT = 60.0


def card_name(index: int) -> str:
    """The card's name as ALSA gives it (/proc/asound/cards: "N [id]: driver - name"),
    which is the name Ardour's ALSA backend gives the card's device."""
    return str(_alsa.cards()[index].split(" - ", 1)[1].strip())


def engine(log: Path) -> tuple[bool, str] | None:
    """Ardour's last report: (running, output device)."""
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.startswith("ENGINE ")]
    if not lines:
        return None
    running, device = lines[-1].removeprefix("ENGINE ").split(" (at ", 1)[0].split(" ", 1)
    return running == "true", device


def playing(index: int) -> list[str]:
    """The card's playback substreams that are RUNNING."""
    return [
        str(s.parent.name)
        for s in Path(f"/proc/asound/card{index}").glob("pcm*p/sub*/status")
        if s.read_text().startswith("state: RUNNING")
    ]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("phase", choices=["start", "plug", "unplug"])
    ap.add_argument("--log", type=Path, required=True, help="Ardour's output")
    ap.add_argument("--ready", help="file to create once watching")
    a = ap.parse_args()
    start = time.monotonic()
    t: dict[str, float] = {"watch_start": start}
    if a.ready:
        Path(a.ready).touch()
    result: dict[str, object] = {"phase": a.phase}
    want: int | None = None
    while time.monotonic() - start < TIMEOUT:
        now = time.monotonic()
        usb = _alsa.usb_card()
        if "card" not in t and (usb is not None) == (a.phase != "unplug"):
            t["card"] = now
            want = usb if a.phase != "unplug" else _alsa.dummy_card()
            result["card"] = card_name(want) if want is not None else None
        if want is None:
            time.sleep(0.05)
            continue
        seen = engine(a.log)
        if "device" not in t and seen and seen[0] and str(result["card"]) in seen[1]:
            t["device"] = now
        if "device" in t and "running" not in t and _alsa.running(want):
            t["running"] = now
        if "running" in t:
            dummy = _alsa.dummy_card()
            if a.phase == "unplug" or (dummy is not None and not playing(dummy)):
                t["released"] = now
                break
        time.sleep(0.05)
    result["engine"] = engine(a.log)
    if want is not None:
        result["pcm_status"] = _alsa.running(want) and "RUNNING"
    dummy = _alsa.dummy_card()
    result["interface_playing"] = playing(dummy) if dummy is not None else None
    result["hook_said"] = [
        ln for ln in a.log.read_text(errors="replace").splitlines() if ln.startswith("dawroute:")
    ][-3:]
    result["times"] = t
    result["ok"] = all(k in t for k in ("card", "device", "running", "released"))
    print(json.dumps(result, indent=1))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
