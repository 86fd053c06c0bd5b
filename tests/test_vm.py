"""Real-kernel tier: qemu's emulated USB audio device hot-plugged into the distribution
kernel, with udev, ALSA, PipeWire + WirePlumber (or PulseAudio, or no sound server at
all: bare ALSA) and the dawroute daemon in the guest."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from testbed import ardour

HARNESS = Path(__file__).resolve().parent / "vm" / "harness.py"

# a boot and three to five plugs under software emulation: the harness scales its own
# deadline by the measured boot time; this is only pytest's backstop
pytestmark = pytest.mark.timeout(900)


def _run_vm(server: str) -> dict:
    spec = importlib.util.spec_from_file_location("vm_harness", HARNESS)
    assert spec is not None and spec.loader is not None
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)
    why = harness.missing()
    if why:
        message = (
            "real-kernel tier cannot run: missing "
            + ", ".join(why)
            + " — run ./scripts/test to install it"
        )
        if os.environ.get("CI"):
            pytest.fail(message)  # CI must run the tier, never pass without it
        pytest.skip(f"SKIPPED LOUDLY: {message}")
    cache = Path(os.environ.get("DAWROUTE_VM_CACHE", "/tmp/dawroute-vm"))
    out = subprocess.run(
        [sys.executable, str(HARNESS), "--cache", str(cache), "--server", server]
        # five plugs, not three; a MIDI phase and the real Ardour in the guest
        + ["--timeout", "250"] * (server in ("pipewire-1.4", "alsa", "jack")),
        capture_output=True,
        text=True,
        timeout=900,  # a backstop: the harness scales its own timeout by the measured boot
    )
    assert out.stdout, out.stderr
    summary = json.loads(out.stdout)
    print(json.dumps(summary, indent=1))  # the timings, in the test output
    guest_log, console = cache / "out" / "guest.log", cache / "out" / "console.log"
    assert summary["result"] == "OK", _failure(summary, guest_log, console)
    return summary


def _failure(summary: dict, guest_log: Path, console: Path) -> str:
    """What a failed scenario showed, the diagnosis last: a CI report keeps a failure
    message's head and tail, and the middle of a long one is cut (a failed Ardour phase's
    threads and hook lines were lost that way)."""
    tail = (
        guest_log.read_text(errors="replace")[-3000:]
        if guest_log.exists()
        else "no guest log; the console: "
        + (console.read_text(errors="replace")[-3000:] if console.exists() else "none")
    )
    failed = {k: v for k, v in summary.items() if isinstance(v, dict) and v.get("ok") is False}
    ardour_failure = (summary.get("ardour") or {}).get("failure")
    return "\n".join(
        [
            f"result {summary['result']}; markers: " + " | ".join(summary["markers"]),
            "guest log tail:\n" + tail,
            "failed phases: " + json.dumps(failed, indent=1),
            "Ardour when its phase failed:\n" + (ardour_failure or "(no Ardour phase failed)"),
            "markers again: " + " | ".join(m for m in summary["markers"] if "FAIL" in m),
        ]
    )


@pytest.mark.parametrize("server", ["pipewire", "pipewire-1.4", "pulseaudio"])
def test_usb_amp_plugged_into_a_real_kernel_gets_the_daw_and_unplug_falls_back(
    server: str,
) -> None:
    """pipewire-1.4: PipeWire 1.4 + WirePlumber 0.5 with dawroute's cap guard running, and
    the amp re-plugged once more on the same port (a sink the guard knows): a real card
    still reaches the DAW at its cap, through its route."""
    if server == "pipewire-1.4":
        _need_generation("1.4")
    summary = _run_vm(server)
    replugs = ("ADD", "ADD2", "ADD3") if server == "pipewire-1.4" else ("ADD", "ADD2")
    for phase in replugs:
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
    for phase in ("DEL", "DEL2") if server == "pipewire-1.4" else ("DEL",):
        fallback = summary[phase]
        assert fallback["ok"] and "dummy" in fallback["daw_sink"]
        assert abs(fallback["daw_sink_volume"] - 70) <= 0.6  # the fallback's own level
        assert "interface: fallback" in summary[f"status_{phase}"]
    # the guest turned the interface's card off before the daemon started: its
    # card_profile brought it back, and status shows it
    assert "card:     " in summary["status_DEL"]
    card = "profile output:stereo-fallback+input:stereo-fallback"
    assert card in summary["status_DEL"], summary["status_DEL"]
    # and the port of the interface's input: its line input, not the mic
    port = [line for line in summary["status_DEL"].splitlines() if line.startswith("port:")]
    assert port and port[0].endswith(": analog-input-linein"), summary["status_DEL"]


def _need_generation(version: str) -> None:
    sys.path.insert(0, str(HARNESS.parent.parent.parent))
    from testbed import sandbox

    if not any(g.version.startswith(version) for g in sandbox.pipewire_generations()):
        why = f"PipeWire {version} not prepared (scripts/fetch-pipewire; ./scripts/test runs it)"
        if os.environ.get("CI"):
            pytest.fail(f"{why}: CI must test every PipeWire generation")
        pytest.skip(f"SKIPPED LOUDLY: {why}")


def test_bare_alsa_points_the_alsa_default_at_the_usb_amp_and_back() -> None:
    """No sound server in the guest: `backend: auto` falls to bare ALSA; the plugged
    amp becomes the ALSA default with its mixer at the cap (amixer), a real `aplay -D
    default` plays on it; unplugged, the default is the interface at its own level. Then
    a MIDI pad plugged in later (snd-virmidi) switches to `also:` on both cards."""
    summary = _run_vm("alsa")
    for phase in ("ADD", "ADD2"):
        p = summary[phase]
        assert p["ok"] and p["default"] == f"hw:CARD={p['card_id']},DEV=0", p
        assert p["level"] <= 50.6, p  # the amp profile's cap, read back with amixer
        assert "state: RUNNING" in p["aplay_status"], p
        t = p["times"]
        assert t["card"] <= t["default"] <= t["level"] <= t["running"]
        print(
            f"{phase}: card→ALSA default {t['default'] - t['card']:.2f} s, "
            f"→aplay running {t['running'] - t['default']:.2f} s, mixer {p['control']} "
            f"{p['level']:.1f} %"
        )
        assert "usb-amp: auto, priority 90" in summary[f"status_{phase}"]
        assert "backend:  alsa" in summary[f"status_{phase}"]
    # the aplay started before the plug still plays on the interface: status says so
    assert "'aplay' (pid" in summary["status_ADD"] and "reopen" in summary["status_ADD"]
    fallback = summary["DEL"]
    assert fallback["ok"] and fallback["default"] == "hw:CARD=Dummy,DEV=0", fallback
    assert abs(fallback["level"] - 70) <= 1.5  # the fallback's own level (amixer, dB)
    assert "state: RUNNING" in fallback["aplay_status"]
    assert "interface: fallback" in summary["status_DEL"]
    # a pad plugged in later switches to `both`: aplay on the default plays on both cards
    midi = _midi_phase(summary)
    assert "state: RUNNING" in midi["interface_status"] and "state: RUNNING" in midi["amp_status"]
    print(f"MIDI: →both cards running {midi['times']['running'] - midi['times']['switched']:.2f} s")
    if _with_ardour(summary):
        _ardour_follows_on_alsa(summary)


def _ardour_follows_on_alsa(summary: dict) -> None:
    """The real Ardour on its ALSA backend with dawroute's editor hook (its GUI timer stood
    in for by the guest's driver): started on the interface's card while the amp's profile
    is active, then the amp pulled and plugged again — each time Ardour's own engine
    reports running on the profile's card, and the kernel shows that card's PCM RUNNING."""
    for phase, card, said in (
        ("ARDOUR_START", "QEMU USB Audio", "output now on 'QEMU USB Audio'"),
        ("ARDOUR_DEL", "Dummy", "output now on 'Dummy'"),
        ("ARDOUR_ADD", "QEMU USB Audio", "output now on 'QEMU USB Audio'"),
    ):
        p = summary[phase]
        assert p["ok"], p
        assert p["card"] == card and p["engine"] == [True, card], p
        assert p["pcm_status"] == "RUNNING", p
        assert p["hook_said"][-1] == f"dawroute: {said}", p
        if card != "Dummy":  # Ardour let the interface go: no playback open on it
            assert p["interface_playing"] == [], p
        t = p["times"]
        print(
            f"{phase}: card→Ardour's engine on it {t['device'] - t['card']:.2f} s, "
            f"→PCM running {t['running'] - t['device']:.2f} s"
        )


def _with_ardour(summary: dict) -> bool:
    """Whether the guest ran the real Ardour (the host's ardourN-lua, seen through the
    shared /usr): CI must; elsewhere its absence is said loudly, the rest still tested."""
    if ardour.binary() is None:
        why = "Ardour not installed (Debian package ardour: ardour7-lua); run ./scripts/test"
        if os.environ.get("CI"):
            pytest.fail(f"{why}: CI must test the real DAW in the guest")
        print(f"SKIPPED LOUDLY: the guest's Ardour phases: {why}")
        return False
    assert "ardour" in summary, summary["markers"]  # ARDOUR_READY: it started in the guest
    ardour_run = summary["ardour"]
    memory = ", ".join(ardour_run["memory"] or [])
    print(f"Ardour in the guest: up in {ardour_run['started_in_s']:.1f} s, {memory}")
    return True


def _midi_phase(summary: dict) -> dict:
    """`snd-virmidi` loaded minutes after the daemon started: its port is opened (the
    sequencer's announcements), a note switches to `both`, each card at its own level."""
    midi = summary["MIDI"]
    assert midi["ok"], midi
    assert midi["inputs_before"] == [], midi  # nothing matched at start
    assert any("VirMIDI" in port for port in midi["midi"]["inputs"]), midi
    assert abs(midi["interface"]["level"] - 60) <= 1.5, midi  # `both`'s own level there
    assert midi["amp"]["level"] <= 50.6, midi  # and the amp's own cap
    t = midi["times"]
    print(
        f"MIDI: module→port opened {t['opened'] - t['module']:.2f} s, "
        f"press→switched {t['switched'] - t['pressed']:.2f} s"
    )
    return midi


def test_jackd_alone_bridges_the_plugged_amp_into_the_graph_and_back() -> None:
    """jackd runs on the interface (snd-dummy), no pulse server: `backend: auto` finds
    jackd. The plugged amp joins the running graph through dawroute's bridge (zita-j2a),
    its mixer already at the cap when the bridge's ports appear, and the DAW's JACK ports
    move to it; unplugged, the DAW is back on system:playback_1/2 and the bridge is gone.
    Then a MIDI pad plugged in later (snd-virmidi, read on the ALSA sequencer) switches
    to `also:`: the DAW on jackd's card and the amp's bridge at once."""
    summary = _run_vm("jack")
    # the real Ardour too (headless, on jackd, `preset: ardour`): its master outputs
    # follow in the same passes, to the same ports
    daws = [("FakeDAW:out_1", "FakeDAW:out_2")]
    if _with_ardour(summary):
        daws.append(("ardour:Master/audio_out 1", "ardour:Master/audio_out 2"))

    def linked(to: str) -> list[list[str]]:
        return sorted([daw[n - 1], f"{to}:playback_{n}"] for daw in daws for n in (1, 2))

    for phase in ("ADD", "ADD2"):
        p = summary[phase]
        assert p["ok"], p
        bridge = p["bridge"]
        assert bridge == f"dawroute-{p['card_id']}", p
        assert p["links"] == linked(bridge), p
        assert p["level_when_bridged"] is not None and p["level_when_bridged"] <= 50.6, p
        assert p["level"] <= 50.6, p
        t = p["times"]
        assert t["card"] <= t["bridge"] <= t["linked"], p
        print(
            f"{phase}: card→bridge {t['bridge'] - t['card']:.2f} s, "
            f"→DAW linked {t['linked'] - t['bridge']:.2f} s, mixer {p['control']} "
            f"{p['level']:.1f} %"
        )
        assert "usb-amp: auto, priority 90" in summary[f"status_{phase}"]
        assert "backend:  jack" in summary[f"status_{phase}"]
    back = summary["DEL"]
    assert back["ok"], back
    assert back["links"] == linked("system"), back
    assert back["bridge_ports"] == []
    assert abs(back["level"] - 70) <= 1.5  # the interface's own level (amixer, dB)
    assert "interface: fallback" in summary["status_DEL"]
    # a pad plugged in later switches to `both`: the DAW on system's ports and the bridge's
    midi = _midi_phase(summary)
    bridge = f"dawroute-{midi['amp']['card_id']}"
    assert midi["links"] == sorted(
        [daw, f"{client}:playback_{n}"]
        for n, daw in enumerate(("FakeDAW:out_1", "FakeDAW:out_2"), 1)
        for client in (bridge, "system")
    ), midi
