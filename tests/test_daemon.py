"""The daemon as users run it: a real subprocess on real PulseAudio and PipeWire servers."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from testbed import sandbox
from tests.conftest import wait_until
from tests.daemonrun import Running, routed_to, routed_to_ours, server_state, volume

AMP, IFACE, GUEST = sandbox.USB_AMP, sandbox.INTERFACE, sandbox.USB_AMP_2


def test_plugging_amp_switches_and_unplugging_falls_back_at_the_fallbacks_level(
    daemon: Running, server: sandbox.Stack
) -> None:
    wait_until(lambda: routed_to_ours(server, "speakers"), what="the fallback at start")
    handle = sandbox.plug(server, AMP)
    wait_until(lambda: routed_to(server, AMP.name), what="DAW on the amp")
    assert volume(server, AMP.name) == pytest.approx(45, abs=0.6)  # cap is 60 %
    st = daemon.status()
    assert st["active"] == "usb-amp" and st["manual"] is None
    assert st["reason"] == "usb-amp: auto, priority 90, 'Schiit Fulla Analog Stereo' present"
    assert st["outputs"][0]["max_volume"] == 60.0
    text = daemon.cli("status").stdout
    assert "Schiit Fulla Analog Stereo: 45 % (cap 60 %)" in text
    # while on headphones, someone turns the interface all the way up
    sandbox.with_pulse(
        server, lambda p: p.volume_set_all_chans(p.get_sink_by_name(IFACE.name), 1.0)
    )
    sandbox.unplug(server, handle)
    wait_until(lambda: routed_to_ours(server, "speakers"), what="fallback to the speakers")
    assert volume(server, IFACE.name) == pytest.approx(70, abs=0.6)  # the fallback's own level
    assert daemon.status()["active"] == "speakers"


def test_the_daemon_keeps_openssl_out_of_its_memory(daemon: Running, server: sandbox.Stack) -> None:
    """It speaks no TLS and needs no OpenSSL digest: OpenSSL's libssl and libcrypto were
    4.5 MB of its 43 MB resident memory (the aim is 40), mapped by asyncio's ssl and by
    the hmac pydantic imports."""
    handle = sandbox.plug(server, AMP)
    wait_until(lambda: routed_to(server, AMP.name), what="DAW on the amp")
    sandbox.unplug(server, handle)
    wait_until(lambda: routed_to_ours(server, "speakers"), what="fallback to the speakers")
    assert daemon.proc is not None
    maps = Path(f"/proc/{daemon.proc.pid}/maps").read_text()
    assert "libpulse" in maps  # the daemon's own process, not a launcher
    assert "libcrypto" not in maps and "libssl" not in maps


def test_manual_switch_holds_until_auto_and_ends_when_its_device_leaves(
    daemon: Running, server: sandbox.Stack
) -> None:
    amp = sandbox.plug(server, AMP)
    wait_until(lambda: routed_to(server, AMP.name), what="DAW on the amp")
    out = daemon.cli("switch", "phones-3-4")
    assert "phones-3-4: manual choice" in out.stdout
    # `switch` replies once the server took the changes; PipeWire finishes a move ms later
    wait_until(lambda: routed_to_ours(server, "phones-3-4"), what="switched")
    sandbox.plug(server, GUEST)  # tracking-duo (priority 95) becomes possible…
    # `list` shows a pass's snapshot only once that pass has decided and committed, so
    # the pass that saw the guest amp is over: had it taken over, it would show by now
    wait_until(lambda: present(daemon, "tracking-duo"), what="the daemon to see the guest amp")
    st = daemon.status()
    assert (st["active"], st["manual"]) == ("phones-3-4", "phones-3-4") and st["manual_since"]
    assert not [e for e in st["events"] if e.get("profile") == "tracking-duo"]
    assert routed_to_ours(server, "phones-3-4")  # …and does NOT take over from the manual choice
    daemon.cli("auto")
    wait_until(lambda: routed_to_ours(server, "tracking-duo"), what="automatic again")
    daemon.cli("switch", "mono-check")
    wait_until(lambda: routed_to_ours(server, "mono-check"), what="switched to mono")
    sandbox.unplug(server, amp)
    wait_until(lambda: routed_to_ours(server, "speakers"), what="fallback after manual device left")
    # WirePlumber 0.5 restores the previous default (our speakers sink) by itself, so the
    # server can show the fallback before the daemon's pass has ended the manual choice
    wait_until(lambda: daemon.status()["active"] == "speakers", what="the fallback's pass")
    st = daemon.status()  # one committed pass: the fallback, its reason, the manual choice gone
    assert st["manual"] is None and st["reason"].startswith("speakers")
    assert st["outputs"] and all(o["present"] for o in st["outputs"])


def present(daemon: Running, profile: str) -> bool:
    rows = json.loads(daemon.cli("list", "--json").stdout)["profiles"]
    return any(r["name"] == profile and r["present"] for r in rows)


def test_switch_errors_have_names_sentences_and_exit_codes(daemon: Running) -> None:
    out = daemon.cli("switch", "nope", check=False)
    assert out.returncode == 5 and out.stderr.strip() == "dawroute: no profile named 'nope'"
    out = daemon.cli("switch", "usb-amp", check=False)
    assert out.returncode == 6
    assert out.stderr.strip() == "dawroute: usb-amp: no connected device matches"


def test_sound_server_restart_is_survived_and_the_profile_reapplied(
    daemon: Running, server: sandbox.Stack
) -> None:
    sandbox.plug(server, AMP)
    wait_until(lambda: routed_to(server, AMP.name), what="DAW on the amp")
    pid = daemon.proc.pid if daemon.proc else None
    sandbox.stop_server(server)
    wait_until(lambda: not daemon.status()["server"]["available"], what="daemon noticing")
    assert "sound server unavailable since" in daemon.cli("status").stdout
    out = daemon.cli("switch", "speakers", check=False)
    assert out.returncode == 8 and "sound server unavailable since" in out.stderr
    sandbox.start_server(server)
    sandbox.plug(server, IFACE)
    sandbox.plug(server, AMP)
    sandbox.start_daw(server, sink=IFACE.name)
    wait_until(lambda: routed_to(server, AMP.name), timeout=10, what="re-applied after restart")
    assert daemon.proc is not None and daemon.proc.pid == pid and daemon.proc.poll() is None
    assert volume(server, AMP.name) <= 60.0 + 0.6


def test_a_burst_of_50_plugs_and_unplugs_converges(daemon: Running, server: sandbox.Stack) -> None:
    def burst(p) -> None:
        handle = None
        for _ in range(50):
            if handle is None:
                handle = p.module_load(*AMP.modules()[0])
            else:
                p.module_unload(handle)
                handle = None
        p.module_load(*AMP.modules()[0])  # ends plugged in

    sandbox.with_pulse(server, burst)

    def on_the_amp() -> bool:
        # in a burst PulseAudio may name the new sink "<name>.2" while the old one is
        # still being freed: exactly why selectors never use names with suffixes
        # On PipeWire, WirePlumber itself re-links the DAW to a re-appearing node it
        # remembers, at the node's fresh 100 %: the daemon must cap it right after.
        daw, default, sinks = server_state(server)
        amps = [n for n in sinks if n.startswith(AMP.name)]
        capped = all(sinks[n][0] <= 60.6 for n in amps)
        return len(amps) == 1 and daw == amps and default == amps[0] and capped

    wait_until(on_the_amp, timeout=10, what="convergence on the amp, capped")
    assert daemon.proc is not None and daemon.proc.poll() is None


def test_broken_edit_keeps_last_good_config_and_fixing_it_reloads(
    daemon: Running, server: sandbox.Stack
) -> None:
    amp_file = daemon.profiles / "usb-headphone-amp.yaml"
    good = amp_file.read_text()
    amp_file.write_text(good.replace("max_volume: 60%", "max_volume: 60%\n  volum: 3"))
    wait_until(lambda: daemon.status()["config"]["errors"], what="the reload to fail")
    errors = daemon.status()["config"]["errors"]
    assert errors == [
        f"{amp_file}:11:3: output.volum: unknown key 'volum' — did you mean `volume`?"
    ]
    assert "the last good configuration is still in use" in daemon.cli("status").stdout
    out = daemon.cli("reload", check=False)
    assert out.returncode == 3 and "unknown key 'volum'" in out.stderr
    sandbox.plug(server, AMP)  # the last good profiles still route
    wait_until(lambda: routed_to(server, AMP.name), what="DAW on the amp")
    amp_file.write_text(good.replace("volume: 45%", "volume: 40%"))
    wait_until(lambda: not daemon.status()["config"]["errors"], what="the fixed reload")
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGHUP)  # SIGHUP reloads too
    wait_until(lambda: "loaded 6 profile(s)" in [e["message"] for e in daemon.status()["events"]])


def test_state_survives_sigterm_and_startup_does_not_raise_volume(
    daemon: Running, server: sandbox.Stack
) -> None:
    sandbox.plug(server, AMP)
    wait_until(lambda: routed_to(server, AMP.name), what="DAW on the amp")
    daemon.cli("switch", "usb-amp")
    assert daemon.stop() == 0
    saved = json.loads(daemon.state_file.read_text())
    assert saved["active"] == "usb-amp" and saved["manual"] == "usb-amp"
    assert not daemon.socket.exists()
    sandbox.with_pulse(server, lambda p: p.volume_set_all_chans(p.get_sink_by_name(AMP.name), 0.2))
    daemon.start()
    st = daemon.status()
    assert (st["active"], st["manual"]) == ("usb-amp", "usb-amp")
    assert volume(server, AMP.name) == pytest.approx(20, abs=0.6)  # restored, not raised


def test_control_socket_is_private_and_survives_garbage(daemon: Running) -> None:
    assert daemon.socket.stat().st_mode & 0o777 == 0o600
    replies = []
    for payload in (
        b"this is not json\n",
        b"[1, 2]\n",
        b'{"id": 7, "method": "explode"}\n',
        b'{"id": 8, "method": "switch", "params": {}}\n',
        b"x" * 70000 + b"\n",
    ):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(daemon.socket))
            s.sendall(payload)
            replies.append(json.loads(s.makefile("rb").readline()))
    names = [r["error"]["name"] for r in replies]
    assert names == ["BadRequest"] * 5
    assert replies[2]["id"] == 7 and "unknown method 'explode'" in replies[2]["error"]["message"]
    assert daemon.status()["active"]  # and the daemon carries on


def _connect_as(uid: int, path: Path) -> str:
    """Fork, drop to `uid`, ask for status; returns what happened (no exec needed)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.chdir(path.parent)  # as root: so only the last directory's mode matters
            os.setgid(uid)
            os.setuid(uid)
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(path.name)
                with contextlib.suppress(BrokenPipeError):  # refused peers are cut off
                    s.sendall(b'{"id": 1, "method": "status"}\n')
                answer = s.makefile("rb").readline().decode() or "closed"
        except OSError as exc:
            answer = type(exc).__name__
        os.write(write_end, answer.encode()[:4000])
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end) as f:
        return f.read()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to act as another user")
def test_other_users_are_refused(daemon: Running) -> None:
    nobody = 65534
    # 1) the socket file is 0600: another user cannot even connect
    assert _connect_as(nobody, daemon.socket) == "PermissionError"
    # 2) even if the file were opened up, the peer uid check refuses them
    daemon.socket.chmod(0o666)
    daemon.socket.parent.chmod(0o777)
    raw = _connect_as(nobody, daemon.socket)
    assert raw.startswith("{"), raw
    reply = json.loads(raw)
    assert reply["error"]["name"] == "PermissionDenied"
    daemon.socket.chmod(0o600)


def test_cli_without_daemon_says_how_to_start_it(client_env: dict[str, str]) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "routing", "status"],
        env=client_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 4
    assert out.stderr.strip() == (
        "dawroute: daemon not running — start it with "
        "`systemctl --user start dawroute` (or `dawroute daemon`)"
    )


def test_status_says_whether_the_server_holds_links_to_capped_devices(
    daemon: Running, server: sandbox.Stack
) -> None:
    """PipeWire: whether WirePlumber runs the cap guard (the test bed installs it where
    WirePlumber 0.5 can run it, as `dawroute init` does); PulseAudio has none to ask."""
    if server.kind == "pulseaudio":
        assert "cap_guard" not in daemon.status()["server"]
        assert "guard:" not in daemon.cli("status").stdout
        return
    expected = server.generation is not None and server.generation.wireplumber_05
    wait_until(lambda: "cap_guard" in daemon.status()["server"], what="the guard asked")
    assert daemon.status()["server"]["cap_guard"] is expected
    line = "guard:    WirePlumber holds links" if expected else "guard:    not running"
    assert line in daemon.cli("status").stdout


def test_status_cli_does_not_import_the_daemon_stack() -> None:
    """Nor the model: its frozen dataclasses were a third of `dawroute status` (25-35 ms)."""
    code = (
        "import sys\nfrom routing.cli import main\ntry: main(['status'])\nexcept SystemExit: "
        "pass\nimport routing.status  # what renders a reply\n"
        "heavy = [m for m in ('pulsectl', 'pydantic', 'yaml', 'rtmidi', 'asyncio', "
        "'routing.daemon', 'routing.backends.pulse', 'routing.model', 'dataclasses') "
        "if m in sys.modules]\nprint(heavy)"
    )
    env = {**os.environ, "DAWROUTE_SOCKET": "/nonexistent/sock"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_watch_streams_decisions(daemon: Running, server: sandbox.Stack) -> None:
    watcher = subprocess.Popen(
        [sys.executable, "-m", "routing", "watch", "--json"],
        env=daemon.env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert watcher.stdout is not None
        hello = json.loads(watcher.stdout.readline())  # subscribed: what follows is news
        assert hello["kind"] == "watching" and "speakers" in hello["message"]
        sandbox.plug(server, AMP)
        event = json.loads(watcher.stdout.readline())
        assert event["kind"] == "decision" and event["profile"] == "usb-amp"
        assert any(line.startswith("move 'REAPER'") for line in event["done"])
    finally:
        watcher.terminate()
        watcher.wait(5)


def test_systemd_unit_passes_verify(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("SKIPPED LOUDLY: systemd-analyze not installed")
    repo_unit = Path(__file__).resolve().parent.parent / "systemd" / "dawroute.service"
    # as scripts/install-service links it: ~/.local/bin/dawroute -> the venv's dawroute
    unit = tmp_path / "dawroute.service"
    dawroute_bin = Path(sys.executable).parent / "dawroute"
    unit.write_text(repo_unit.read_text().replace("%h/.local/bin/dawroute", str(dawroute_bin)))
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(run), "HOME": str(tmp_path)}
    out = subprocess.run(
        ["systemd-analyze", "verify", "--user", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip() == "", out.stderr


def test_run_commands_sandbox_demo_shows_plug_switch_unplug_fallback(tmp_path: Path) -> None:
    if sandbox.missing_tools("pipewire"):
        pytest.skip("SKIPPED LOUDLY: PipeWire not installed; run ./scripts/test")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    env["PULSE_COOKIE"] = str(tmp_path / "cookie")
    out = subprocess.run(
        [sys.executable, "-m", "testbed.demo"], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    statuses = out.stdout.split("$ dawroute status")[1:]
    actives = [s.split("active:")[1].split("(")[0].strip() for s in statuses]
    assert actives == ["speakers", "usb-amp", "speakers"]


def test_the_wire_shape_is_the_contracts_key_for_key(daemon: Running) -> None:
    from routing.client import ControlClient, run
    from routing.contract import Changed, Listing, ProfileRow, Status

    def keys(td: type) -> tuple[frozenset[str], frozenset[str]]:
        required: frozenset[str] = td.__required_keys__  # type: ignore[attr-defined]
        return required, required | td.__optional_keys__  # type: ignore[attr-defined]

    def fits(obj: object, td: type) -> bool:
        required, allowed = keys(td)
        return isinstance(obj, dict) and required <= set(obj) <= allowed

    client = ControlClient(daemon.socket, timeout=10)
    assert fits(run(client.status()), Status)
    listing = run(client.list())
    assert fits(listing, Listing) and all(fits(r, ProfileRow) for r in listing["profiles"])
    assert fits(run(client.switch("speakers")), Changed)
