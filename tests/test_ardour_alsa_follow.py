"""The Ardour hook for bare ALSA (routing/daw/ardour/dawroute_follow_alsa.lua): when
dawroute's active profile changes, Ardour's ALSA output is re-opened on the profile's card.

This machine has no sound card, so Ardour's ALSA engine cannot run here: the hook runs
with Lua 5.4 against a stand-in for Ardour's engine (the calls it makes are recorded), a
real state file and a `dawroute` that answers `status --json`; and inside the real
headless Ardour on its ALSA backend, where it finds no device and says so (the Lua API
names it uses are Ardour's). With real cards the real-kernel tier runs it (tests/test_vm.py,
bare ALSA: Ardour re-opened on the amp's card on plug and on the interface's on unplug)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from testbed import ardour

SCRIPT = Path(__file__).resolve().parent.parent / "routing" / "daw" / "ardour" / "dawroute_follow_alsa.lua"  # fmt: skip

HOST = r"""
local devices = { "HDA Intel PCH", "Scarlett 4i4 USB", "Schiit Fulla" }
local current, broken = "HDA Intel PCH", os.getenv("BROKEN") or ""
local function list(names)
  return { iter = function () local i = 0
    return function () i = i + 1; if names[i] then return { name = names[i] } end end end }
end
local running = true
local backend = {
  isnil = function () return false end,
  enumerate_output_devices = function () return list(devices) end,
  enumerate_devices = function () return list({}) end,
  output_device_name = function () return current end,
  set_output_device_name = function (_, d) print("SET " .. d); current = d; return 0 end,
}
-- as Ardour's: set_backend re-creates the backend, stopping a running engine
AudioEngine = {
  current_backend_name = function () return "ALSA" end,
  set_backend = function (_, name)
    assert(name == "ALSA")
    if running then print("DROP (the engine stops)") end
    running = false
    return backend
  end,
  running = function () return running end,
  stop = function () print("STOP"); running = false; return 0 end,
  start = function ()
    print("START " .. current)
    running = current ~= broken
    return running and 0 or 1
  end,
  get_last_backend_error = function () return "cannot open" end,
}
LuaSignal = { LuaTimerDS = 1, Set = function () return { add = function (s) return s end } end }
function ardour (d) assert(d["type"] == "EditorHook") end
dofile(arg[1])
assert(signals())
local hook = factory({})
for step in io.lines() do  -- one line per step: 5 timer ticks (0.5 s)
  for _ = 1, 5 do hook(LuaSignal.LuaTimerDS, nil) end
  print("STEP " .. step)
end
"""


def _world(tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    state = tmp_path / "state" / "dawroute" / "state.json"
    state.parent.mkdir(parents=True)
    status = tmp_path / "status.json"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "dawroute"
    fake.write_text(f'#!/bin/sh\n[ "$1 $2" = "status --json" ] && cat {status}\n')
    fake.chmod(0o755)
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"))
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env, state, status


def _set(state: Path, status: Path, active: str, card: str | None) -> str:
    state.write_text(json.dumps({"active": active, "manual": None}))
    outputs = [{"device": "hw:X", "label": "x", "card": card}]
    status.write_text(json.dumps({"active": active, "outputs": outputs}, indent=2))
    return active


def opened(card: str) -> list[str]:
    """What the hook does to move Ardour's output to `card`, and says."""
    return ["STOP", f"SET {card}", f"START {card}", f"dawroute: output now on '{card}'"]


def test_the_hook_reopens_ardours_alsa_output_on_the_profiles_card(tmp_path: Path) -> None:
    if shutil.which("lua5.4") is None:
        pytest.skip("SKIPPED LOUDLY: lua5.4 not installed (Debian package lua5.4)")
    env, state, status = _world(tmp_path)
    env["BROKEN"] = "Schiit Fulla"  # this card fails to open at Ardour's rate
    host = tmp_path / "host.lua"
    host.write_text(HOST)
    proc = subprocess.Popen(
        ["lua5.4", str(host), str(SCRIPT)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None

    def step(name: str) -> list[str]:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(name + "\n")
        proc.stdin.flush()
        lines = []
        while (line := proc.stdout.readline()) and not line.startswith("STEP"):
            lines.append(line.strip())
        return lines

    try:
        # Ardour already plays on the profile's card: the hook's first look fetches the
        # backend (which stops the engine in Ardour's Lua) and starts it again there
        _set(state, status, "speakers", "HDA Intel PCH")
        assert step("first look") == ["DROP (the engine stops)", *opened("HDA Intel PCH")]
        _set(state, status, "interface", "Scarlett 4i4 USB")
        assert step("plugged") == opened("Scarlett 4i4 USB")
        assert step("nothing changed") == []
        _set(state, status, "amp", "Schiit Fulla")
        fails = [
            "STOP",
            "SET Schiit Fulla",
            "START Schiit Fulla",
            "dawroute: 'Schiit Fulla' did not open: cannot open",
            "STOP",
            "SET Scarlett 4i4 USB",
            "START Scarlett 4i4 USB",
        ]
        assert step("the amp, which fails") == fails
        assert step("tried again at the next look") == fails
        assert step("and a last time") == [
            *fails,
            "dawroute: gave up opening 'Schiit Fulla'; on 'Scarlett 4i4 USB' until the next change",
        ]
        assert step("given up") == []
        _set(state, status, "phones", "A card Ardour does not list")
        assert step("unknown card") == [
            "dawroute: no ALSA device for card 'A card Ardour does not list' yet; "
            "staying on Scarlett 4i4 USB"
        ]
        # the same profile, its card listed a moment later (right after a plug): the
        # change was not taken as done, so the hook opens it now
        _set(state, status, "phones", "HDA Intel PCH")
        assert step("the card is there now") == opened("HDA Intel PCH")
        _set(state, status, "amp", None)  # status does not show the amp's card yet
        assert step("the new profile before its card") == []
        _set(state, status, "amp", "Scarlett 4i4 USB")
        assert step("its card shows") == opened("Scarlett 4i4 USB")
        _set(state, status, "phones", "Scarlett 4i4 USB")  # another profile, the same card
        assert step("already there") == []
        _set(state, status, "none", None)  # a profile whose output has no card
        assert step("no card") == []
    finally:
        proc.stdin.close()
        assert proc.wait(10) == 0, proc.stdout.read()


def test_inside_real_ardour_on_alsa_without_a_card_it_says_so(tmp_path: Path) -> None:
    """Ardour's ALSA backend chosen, its engine not running (no card on this machine):
    the hook's calls exist in Ardour's Lua, and an unknown card is reported, not fatal."""
    exe = ardour.binary()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("Ardour not installed (Debian package ardour)")
        pytest.skip("SKIPPED LOUDLY: Ardour not installed (Debian package ardour)")
    env, state, status = _world(tmp_path)
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"))
    _set(state, status, "amp", "Schiit Fulla")
    driver = tmp_path / "alsa.lua"
    driver.write_text(
        'assert (AudioEngine:set_backend ("ALSA", "", ""))\n'
        'print ("BACKEND " .. AudioEngine:current_backend_name ())\n'
        "function ardour (_) end\n"
        f'dofile ("{SCRIPT}")\n'
        "local hook = factory ({})\n"
        "for _ = 1, 5 do hook (nil, nil) end\n"  # LuaSignal is the GUI's: not headless
        'print ("DONE")\n'
    )
    out = subprocess.run([exe, str(driver)], env=env, capture_output=True, text=True, timeout=60)
    text = out.stdout + out.stderr
    assert "BACKEND ALSA" in text and "DONE" in text, text
    assert "dawroute: no ALSA device for card 'Schiit Fulla'" in text, text
