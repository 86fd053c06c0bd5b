"""`dawroute off` and `on_stop: restore` on real servers (PulseAudio and both PipeWire
generations): dawroute's sinks gone, the user's default back, no decisions until `auto`."""

from __future__ import annotations

import json
import time
from pathlib import Path

from routing.model import Clock, Device, Direction, Link, Snapshot, Stream
from routing.off import undo_ops
from testbed import sandbox
from tests.conftest import wait_until
from tests.daemonrun import Running, install_examples, routed_to, routed_to_ours, server_state

AMP, IFACE = sandbox.USB_AMP, sandbox.INTERFACE


def _ours(stack: sandbox.Stack) -> list[str]:
    return [n for n in server_state(stack)[2] if n.startswith("dawroute.")]


def test_off_undoes_the_routing_and_holds_until_auto(
    server: sandbox.Stack, client_env: dict[str, str]
) -> None:
    install_examples(Path(client_env["XDG_CONFIG_HOME"]) / "dawroute" / "profiles")
    sandbox.plug(server, IFACE)
    sandbox.start_daw(server, sink=IFACE.name)
    wait_until(lambda: server_state(server)[0] == [IFACE.name], what="the DAW")
    before = server_state(server)[1]
    assert not before.startswith("dawroute.")
    daemon = Running(server, client_env)
    daemon.start()
    try:
        wait_until(lambda: routed_to_ours(server, "speakers"), what="the fallback at start")
        out = daemon.cli("off")
        assert "off: dawroute's routing undone" in out.stdout
        assert "remove our sink dawroute.speakers." in out.stdout
        # our sinks are gone, the default is the user's again, the DAW plays there
        wait_until(lambda: not _ours(server), what="our sinks removed")
        wait_until(lambda: server_state(server)[1] == before, what="the default restored")
        wait_until(lambda: server_state(server)[0] == [before], what="the DAW on it")
        st = daemon.status()
        assert st["off"] is True and st["active"] is None and st["off_since"]
        assert daemon.cli("status").stdout.startswith("active:   off, since ")
        assert json.loads(daemon.state_file.read_text())["off"] is True

        # no decisions while off: the amp arriving is not routed nor levelled
        amp_level = 90.0
        handle = sandbox.plug(server, AMP)
        sandbox.with_pulse(
            server, lambda p: p.volume_set_all_chans(p.get_sink_by_name(AMP.name), amp_level / 100)
        )
        time.sleep(0.5)
        assert not _ours(server)
        assert round(server_state(server)[2][AMP.name][0]) == amp_level
        assert daemon.status()["active"] is None

        # remembered across a restart
        assert daemon.stop() == 0
        _start_without_waiting(daemon)
        wait_until(lambda: daemon.status()["off"] is True, what="still off after a restart")
        time.sleep(0.3)
        assert not _ours(server) and daemon.status()["active"] is None

        # `auto` turns it back on: the amp at its profile's level (45 %, cap 60 %)
        daemon.cli("auto")
        wait_until(lambda: routed_to(server, AMP.name), what="routed again")
        st = daemon.status()
        assert st["off"] is False and st["active"] == "usb-amp"
        assert round(server_state(server)[2][AMP.name][0]) == 45

        # on_stop: restore undoes the routing when the daemon stops, without staying off
        sandbox.unplug(server, handle)
        wait_until(lambda: routed_to_ours(server, "speakers"), what="back on the speakers")
        config = Path(client_env["XDG_CONFIG_HOME"]) / "dawroute" / "config.yaml"
        config.write_text("on_stop: restore\n")
        daemon.cli("reload")
        assert daemon.stop() == 0
        assert not _ours(server), daemon.log_text()
        assert server_state(server)[1] == before
        state = json.loads(daemon.state_file.read_text())
        assert state["off"] is False and state["active"] is None
    finally:
        if daemon.proc is not None:
            daemon.stop()


def _start_without_waiting(daemon: Running) -> None:
    """Running.start waits for an active profile, which an off daemon never has."""
    import subprocess

    with open(daemon.log, "ab") as log:
        daemon.proc = subprocess.Popen(
            [*daemon.command, "daemon"], env=daemon.env, stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=sandbox.die_with_parent,  # noqa: PLW1509 - prctl() only
        )  # fmt: skip
    wait_until(daemon.socket.exists, timeout=10, what="the control socket")
    wait_until(lambda: daemon.status()["server"]["available"], timeout=10, what="the server")


def _sink(name: str, ours: bool = False, module: int | None = None) -> Device:
    return Device(name, name, Direction.SINK, ours=ours, module=module)


def test_undo_ops_order_and_what_is_left_alone() -> None:
    snap = Snapshot(
        devices=(_sink("iface"), _sink("amp"), _sink("dawroute.x.1", ours=True, module=7)),
        streams=(
            Stream(1, "REAPER", "reaper", 10, "dawroute.x.1"),
            Stream(2, "Firefox", "firefox", 11, "amp"),
        ),
        default_sink="dawroute.x.1",
        links=frozenset({Link("DAW:out_1", "system:playback_3"), Link("a:b", "c:d")}),
        clock=Clock(48000, 64),
        ports=(),
    )
    ops, notes = undo_ops(snap, "iface", (("DAW:out_1", "system:playback_3"),))
    assert [op.describe() for op in ops] == [
        "set default sink to iface",
        "move 'REAPER' stream 1 → iface",
        "unlink DAW:out_1 → system:playback_3",
        "release the forced clock rate and quantum",
        "remove our sink dawroute.x.1",
    ]
    assert notes == []
    # the user's default is gone: nothing to restore; said so; our sink still removed
    ops, notes = undo_ops(snap, "gone", ())
    assert notes == ["the default sink before dawroute, gone, is not connected"]
    assert [type(op).__name__ for op in ops] == ["SetClock", "UnloadVirtual"]


def test_with_no_profile_active_status_still_says_where_the_daw_plays(
    pulseaudio: sandbox.Stack, tmp_path: Path
) -> None:
    """Off (or no profile's device present), REAPER keeps playing somewhere: `status`
    says where, rather than "no DAW stream playing"."""
    from tests.conftest import hermetic_env

    env = hermetic_env(pulseaudio.env, tmp_path)
    install_examples(Path(env["XDG_CONFIG_HOME"]) / "dawroute" / "profiles")
    sandbox.plug(pulseaudio, IFACE)
    sandbox.start_daw(pulseaudio, sink=IFACE.name)
    wait_until(lambda: server_state(pulseaudio)[0] == [IFACE.name], what="the DAW")
    daemon = Running(pulseaudio, env)
    daemon.start()
    try:
        daemon.cli("off")
        wait_until(lambda: not _ours(pulseaudio), what="our sinks removed")
        report = daemon.status()
        assert [s["app"] for s in report["streams"]] == ["REAPER"], report["streams"]
        assert report["streams"][0]["on_target"] is None  # no profile: nowhere to move it
        text = daemon.cli("status").stdout
        assert "DAW:      'REAPER' stream" in text and "not yet moved" not in text, text
        assert "no DAW stream playing" not in text
    finally:
        assert daemon.stop() == 0
