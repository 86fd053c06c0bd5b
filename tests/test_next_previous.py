"""A musician with the example profiles, the interface and the USB amp plugged in, steps
through the profiles with `dawroute next` / `previous` and reads them with `list`."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed import sandbox
from tests.conftest import hermetic_env
from tests.daemonrun import Running, install_examples

pytestmark = pytest.mark.server

# the examples present with the interface and the amp, highest priority first; the files
# are read in name order (phones-3-4, tracking, mono-check, speakers, usb-amp)
BY_PRIORITY = ["usb-amp", "phones-3-4", "mono-check", "tracking", "speakers"]


def test_next_and_previous_step_by_priority_and_list_shows_descriptions(
    pulseaudio: sandbox.Stack, tmp_path: Path
) -> None:
    env = hermetic_env(pulseaudio.env, tmp_path)
    install_examples(Path(env["XDG_CONFIG_HOME"]) / "dawroute" / "profiles")
    sandbox.plug(pulseaudio, sandbox.INTERFACE)
    sandbox.plug(pulseaudio, sandbox.USB_AMP)
    daemon = Running(pulseaudio, env)
    daemon.start()
    try:
        assert daemon.status()["active"] == "usb-amp"

        listing = daemon.cli("list").stdout
        assert "    Schiit Fulla headphone amp/DAC\n" in listing, listing
        assert "    Scarlett 4i4 outputs 1-2 to the monitors\n" in listing, listing

        forward = []
        for _ in BY_PRIORITY:
            daemon.cli("next")
            forward.append(daemon.status()["active"])
        assert forward == [*BY_PRIORITY[1:], BY_PRIORITY[0]]

        backward = []
        for _ in BY_PRIORITY:
            daemon.cli("previous")
            backward.append(daemon.status()["active"])
        assert backward == [*reversed(BY_PRIORITY[1:]), BY_PRIORITY[0]]
    finally:
        assert daemon.stop() == 0
