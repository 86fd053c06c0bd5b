"""Guest side of the MIDI phase (bare ALSA or jackd alone): a controller that comes after
the daemon started, and `also:` on two cards at once.

`snd-virmidi` is loaded now (the daemon has been running for minutes): its port must be
opened through the ALSA sequencer's announcements (`status`: midi.inputs); a note sent
into the virmidi card (`amidi`) is a pad press that switches to the profile `both`
(the interface and the USB amp at once). Then both cards must play, each at its own
level: on bare ALSA a real `aplay -D default` RUNNING on both cards' PCMs (the managed
file's `multi`), on jackd the DAW's ports linked to system's and the amp's bridge's.
Prints JSON with the guest's monotonic times; exit status 0 only when all of it held.
"""

from __future__ import annotations

import argparse
import importlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

_alsa = importlib.import_module("guest_alsa_watch")
_jack = importlib.import_module("guest_jack_watch")

TIMEOUT = 60.0


def status() -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "routing", "status", "--json"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    try:
        parsed: dict[str, Any] = json.loads(out.stdout)
    except ValueError:
        return {}
    return parsed


def virmidi_card() -> int | None:
    return next((i for i, line in _alsa.cards().items() if "VirMIDI" in line), None)


def until(what: str, t: dict[str, float], check: Any, timeout: float = TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            t[what] = time.monotonic()
            return True
        time.sleep(0.1)
    return False


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", choices=["alsa", "jack"], required=True)
    ap.add_argument("--profile", default="both")
    ap.add_argument("--interface-volume", type=float, required=True)
    ap.add_argument("--amp-cap", type=float, required=True)
    ap.add_argument("--ready", help="file to create once watching")
    a = ap.parse_args()
    t: dict[str, float] = {"watch_start": time.monotonic()}
    result: dict[str, Any] = {"phase": "midi"}
    if a.ready:
        Path(a.ready).touch()
    before = status()
    result["inputs_before"] = (before.get("midi") or {}).get("inputs")
    # the controller is plugged in: a kernel module, as a USB MIDI device would be
    subprocess.run(["modprobe", "snd-virmidi", "midi_devs=1"], check=True)
    t["module"] = time.monotonic()
    ok = until("card", t, lambda: virmidi_card() is not None, 30)
    ok = ok and until(
        "opened",
        t,
        lambda: any("VirMIDI" in p for p in (status().get("midi") or {}).get("inputs", [])),
    )
    result["midi"] = status().get("midi")
    if ok:
        card = virmidi_card()
        # a pad: note 60 on, then off, into the virmidi card → its sequencer port
        subprocess.run(["amidi", "-p", f"hw:{card},0", "-S", "90 3C 7F 80 3C 00"], check=True)
        t["pressed"] = time.monotonic()
        ok = until("switched", t, lambda: status().get("active") == a.profile)
    iface, amp = _alsa.dummy_card(), _alsa.usb_card()
    if ok and iface is not None and amp is not None:
        ok = (
            _check_alsa(a, t, result, iface, amp)
            if a.server == "alsa"
            else _check_jack(a, t, result, iface, amp)
        )
    for name, index in (("interface", iface), ("amp", amp)):
        if index is not None:
            control, level, _ = _alsa.control_and_level(index)
            result[name] = {"card_id": _alsa.card_id(index), "control": control, "level": level}
    result["times"] = t
    result["ok"] = bool(ok) and _levels_ok(a, result)
    print(json.dumps(result, indent=1))
    return 0 if result["ok"] else 1


def _levels_ok(a: argparse.Namespace, result: dict[str, Any]) -> bool:
    iface, amp = result.get("interface") or {}, result.get("amp") or {}
    return (
        iface.get("level") is not None
        and abs(iface["level"] - a.interface_volume) <= 1.5
        and amp.get("level") is not None
        and amp["level"] <= a.amp_cap + 0.6
    )


def _check_alsa(
    a: argparse.Namespace, t: dict[str, float], result: dict[str, Any], iface: int, amp: int
) -> bool:
    """A real ALSA client on the default plays on both cards at once."""
    aplay = subprocess.Popen(
        ["aplay", "-q", "-D", "default", "-f", "S16_LE", "-r", "48000", "-c", "2", "/dev/zero"],
        stderr=subprocess.PIPE,
    )
    ok = until("running", t, lambda: _alsa.running(iface) and _alsa.running(amp), 15)
    for name, index in (("interface_status", iface), ("amp_status", amp)):
        result[name] = Path(f"/proc/asound/card{index}/pcm0p/sub0/status").read_text()
    if aplay.poll() is None:
        aplay.send_signal(signal.SIGTERM)  # our own child, by its PID
    aplay.wait(10)
    result["aplay_stderr"] = (aplay.stderr.read() if aplay.stderr else b"").decode()[-500:]
    return ok


def _check_jack(
    a: argparse.Namespace, t: dict[str, float], result: dict[str, Any], iface: int, amp: int
) -> bool:
    """The DAW's ports reach jackd's card and the amp's bridge."""
    bridge = f"dawroute-{_alsa.card_id(amp)}"
    want = {
        (daw, f"{client}:playback_{n}")
        for n, daw in enumerate(_jack.DAW, 1)
        for client in ("system", bridge)
    }
    ok = until("linked", t, lambda: _jack.graph()[1] == want, 30)
    result["links"] = sorted(map(list, _jack.graph()[1]))
    return ok


if __name__ == "__main__":
    sys.exit(main())
