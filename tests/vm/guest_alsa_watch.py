"""Guest side of a bare-ALSA phase (no sound server): time each step from the kernel's
view to a real ALSA client playing on the right card, checked with ALSA's own tools.

Prints JSON: seconds on the guest's monotonic clock for the USB card appearing or going
(/proc/asound/cards), dawroute's ALSA configuration pointing the default at the expected
card, that card's mixer at the level (read back with `amixer`), and `aplay -D default`
playing /dev/zero on it (/proc/asound/cardN/pcm0p/sub0/status: RUNNING).
Exit status 0 only when the final state is right.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from routing import alsaconf

TIMEOUT = 60.0


def cards() -> dict[int, str]:
    """Card index → its /proc/asound/cards line."""
    text = Path("/proc/asound/cards").read_text()
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"^\s*(\d+) \[(.*)$", text, re.M)}


def usb_card() -> int | None:
    return next((i for i, line in cards().items() if "USB-Audio" in line), None)


def dummy_card() -> int | None:
    return next((i for i, line in cards().items() if "Dummy" in line), None)


def card_id(index: int) -> str:
    return Path(f"/proc/asound/card{index}/id").read_text().strip()


def control_and_level(index: int) -> tuple[str | None, float | None, str]:
    """The control dawroute chooses for the card (from amixer's list of controls with a
    playback volume) and its level in percent from amixer's dB reading (cubic)."""
    controls = []
    listing = subprocess.run(
        ["amixer", "-c", str(index), "scontents"], capture_output=True, text=True
    ).stdout
    for block in re.split(r"^Simple mixer control ", listing, flags=re.M)[1:]:
        name = re.match(r"'(.*)',(\d+)", block)
        caps = re.search(r"Capabilities:(.*)", block)
        words = set(caps.group(1).split()) if caps else set()
        # pvolume, or one volume for playback and capture (snd-dummy's controls)
        if name and name.group(2) == "0" and words & {"pvolume", "volume"}:
            controls.append(name.group(1))
    control = alsaconf.choose_mixer(controls)
    if control is None:
        return None, None, listing
    shown = subprocess.run(
        ["amixer", "-c", str(index), "sget", control], capture_output=True, text=True
    ).stdout
    dbs = [float(x) for x in re.findall(r"\[(-?\d+(?:\.\d+)?)dB\]", shown)]
    return control, (alsaconf.db_to_percent(max(dbs)) if dbs else None), shown


def running(index: int) -> bool:
    status = Path(f"/proc/asound/card{index}/pcm0p/sub0/status")
    try:
        return status.read_text().startswith("state: RUNNING")
    except OSError:
        return False


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("phase", choices=["plug", "unplug"])
    ap.add_argument("--config", required=True, help="dawroute's managed ALSA configuration")
    ap.add_argument("--cap", type=float, default=100.0)
    ap.add_argument("--fallback-volume", type=float, default=None)
    ap.add_argument("--ready", help="file to create once watching")
    a = ap.parse_args()
    config = Path(a.config)
    start = time.monotonic()
    t: dict[str, float] = {"watch_start": start}
    if a.ready:
        Path(a.ready).touch()
    want: int | None = None
    result: dict[str, object] = {"phase": a.phase}
    while time.monotonic() - start < TIMEOUT:
        now = time.monotonic()
        usb = usb_card()
        if "card" not in t and (usb is not None) == (a.phase == "plug"):
            t["card"] = now
            want = usb if a.phase == "plug" else dummy_card()
        if want is not None and "default" not in t:
            target = alsaconf.target_of(config.read_text() if config.exists() else None)
            if target == f"hw:CARD={card_id(want)},DEV=0":
                t["default"] = now
        if "default" in t and want is not None:
            control, level, _shown = control_and_level(want)
            ok_level = level is not None and (
                level <= a.cap + 0.6
                if a.fallback_volume is None
                else abs(level - a.fallback_volume) <= 1.5
            )
            if ok_level:
                t["level"] = now
                result.update(control=control, level=level)
                break
        time.sleep(0.02)
    if want is not None and "level" in t:
        # a real ALSA client on the default, started now: it must play on that card
        aplay = subprocess.Popen(
            ["aplay", "-q", "-D", "default", "-f", "S16_LE", "-r", "48000", "-c", "2", "/dev/zero"],
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and aplay.poll() is None and not running(want):
            time.sleep(0.02)
        if running(want):
            t["running"] = time.monotonic()
        result["aplay_status"] = Path(f"/proc/asound/card{want}/pcm0p/sub0/status").read_text()
        if aplay.poll() is None:
            aplay.send_signal(signal.SIGTERM)  # our own child, by its PID
        aplay.wait(10)
        result["aplay_stderr"] = (aplay.stderr.read() if aplay.stderr else b"").decode()[-500:]
    if want is not None:
        result["card_id"] = card_id(want)
        result["amixer"] = control_and_level(want)[2][-1500:]
    result.update(
        times=t, default=alsaconf.target_of(config.read_text() if config.exists() else None)
    )
    result["ok"] = all(k in t for k in ("card", "default", "level", "running"))
    print(json.dumps(result, indent=1))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
