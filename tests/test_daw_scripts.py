"""The DAW-side actions shipped in routing/daw/: Lua syntax (luac5.4), and each script run
by Lua 5.4 against a real daemon, with the DAW's API stood in for by a few lines of Lua —
REAPER's ExecProcess runs the command for real, Ardour's LuaOSC sends through liblo's
`oscsend`. (Inside a real Ardour needs ardour's Lua host: not done here.)"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from testbed import sandbox
from tests.conftest import wait_until
from tests.daemonrun import Running, routed_to_ours

DAW = Path(__file__).resolve().parent.parent / "routing" / "daw"
SCRIPTS = sorted(DAW.glob("*/*.lua"))

ARDOUR_HOST = r"""
ARDOUR = { LuaOSC = { Address = function (uri)
  return { send = function (self, path, types, ...)
    local host, port = uri:match("^osc%.udp://([^:]+):(%d+)$")
    local cmd = "oscsend " .. host .. " " .. port .. " " .. path
    if types ~= "" then cmd = cmd .. " " .. types .. " " .. table.concat({ ... }, " ") end
    print("SENT " .. path .. " " .. types .. " " .. table.concat({ ... }, " "))
    assert(os.execute(cmd))
  end }
end } }
function ardour (descriptor) DESCRIPTOR = descriptor end
dofile(arg[1])
assert(DESCRIPTOR["type"] == "EditorAction" and DESCRIPTOR.name:match("^dawroute: "))
local params = {}
for _, kv in ipairs({ table.unpack(arg, 2) }) do
  local k, v = kv:match("^([^=]+)=(.*)$"); params[k] = v
end
for key, spec in pairs(action_params()) do assert(spec.title and spec.default, key) end
factory(params)()
"""

REAPER_HOST = r"""
reaper = {
  get_action_context = function () return false, arg[1], 0, 0, 0, 0, 0 end,
  ExecProcess = function (cmd, timeout)
    print("RAN " .. cmd)
    local h = io.popen(cmd .. " 2>&1; echo \"@$?\"")
    local out = h:read("a"); h:close()
    local text, code = out:match("^(.-)@(%d+)%s*$")
    return code .. "\n" .. text
  end,
  ShowMessageBox = function (msg, title, kind) print("BOX " .. msg) end,
}
dofile(arg[1])
"""


def _need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(
            f"SKIPPED LOUDLY: {', '.join(missing)} not installed — install Debian's lua5.4 "
            "and liblo-tools (./scripts/test does)"
        )


def test_the_scripts_are_there() -> None:
    names = {f"{p.parent.name}/{p.name}" for p in SCRIPTS}
    for daw in ("ardour", "reaper"):
        for action in ("switch", "toggle", "auto", "next"):
            assert f"{daw}/dawroute_{action}.lua" in names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_lua_syntax(script: Path) -> None:
    _need("luac5.4")
    out = subprocess.run(["luac5.4", "-p", str(script)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def _lua(host: str, tmp_path: Path, env: dict[str, str], *args: str) -> str:
    harness = tmp_path / "host.lua"
    harness.write_text(host)
    out = subprocess.run(
        ["lua5.4", str(harness), *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_reaper_actions_switch_toggle_and_auto_through_the_cli(
    daemon: Running, server: sandbox.Stack, tmp_path: Path
) -> None:
    _need("lua5.4")
    env = dict(daemon.env)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    if shutil.which("dawroute", path=env["PATH"]) is None:
        pytest.skip("SKIPPED LOUDLY: the dawroute command is not installed (pip install -e .)")
    actions = tmp_path / "reaper"
    shutil.copytree(DAW / "reaper", actions)  # as a user copies them to REAPER's Scripts
    toggle = actions / "dawroute_toggle.lua"
    toggle.write_text(toggle.read_text().replace('"usb-amp"', '"phones-3-4"'))
    wait_until(lambda: routed_to_ours(server, "speakers"), what="the fallback")

    out = _lua(REAPER_HOST, tmp_path, env, str(toggle))
    assert "RAN dawroute toggle speakers phones-3-4" in out and "BOX" not in out
    wait_until(lambda: routed_to_ours(server, "phones-3-4"), what="toggled from REAPER")
    _lua(REAPER_HOST, tmp_path, env, str(toggle))
    wait_until(lambda: routed_to_ours(server, "speakers"), what="toggled back from REAPER")
    assert daemon.status()["manual"] == "speakers"
    _lua(REAPER_HOST, tmp_path, env, str(actions / "dawroute_auto.lua"))
    wait_until(lambda: daemon.status()["manual"] is None, what="automatic from REAPER")
    # a refusal is shown to the user, not lost
    out = _lua(REAPER_HOST, tmp_path, env, str(actions / "dawroute_switch.lua"))
    assert "RAN dawroute switch usb-amp" in out
    assert "BOX dawroute: usb-amp: no connected device matches" in out


def test_ardour_actions_send_osc_the_daemon_acts_on(
    daemon: Running, server: sandbox.Stack, tmp_path: Path
) -> None:
    _need("lua5.4", "oscsend")
    port = _free_udp_port()
    config = Path(daemon.env["XDG_CONFIG_HOME"]) / "dawroute" / "config.yaml"
    config.write_text(f'osc: {{listen: "127.0.0.1:{port}"}}\n')
    daemon.cli("reload")
    wait_until(lambda: daemon.status()["osc"]["listen"], what="OSC listening")
    uri = f"uri=osc.udp://127.0.0.1:{port}"
    ardour = DAW / "ardour"

    out = _lua(ARDOUR_HOST, tmp_path, daemon.env, str(ardour / "dawroute_switch.lua"), "profile=phones-3-4", uri)  # fmt: skip
    assert "SENT /dawroute/switch s phones-3-4" in out
    wait_until(lambda: routed_to_ours(server, "phones-3-4"), what="switched from Ardour")
    # OSC is fire-and-forget and a toggle is decided when it arrives: the server can show
    # the switch a moment before the daemon has recorded it
    wait_until(lambda: daemon.status()["active"] == "phones-3-4", what="the switch recorded")
    _lua(ARDOUR_HOST, tmp_path, daemon.env, str(ardour / "dawroute_toggle.lua"), "a=phones-3-4", "b=speakers", uri)  # fmt: skip
    wait_until(lambda: routed_to_ours(server, "speakers"), what="toggled from Ardour")
    _lua(ARDOUR_HOST, tmp_path, daemon.env, str(ardour / "dawroute_auto.lua"), uri)
    wait_until(lambda: daemon.status()["manual"] is None, what="automatic from Ardour")
    # defaults: what Ardour offers when the action is bound without changing them
    out = _lua(ARDOUR_HOST, tmp_path, daemon.env, str(ardour / "dawroute_next.lua"))
    assert out.strip() == "SENT /dawroute/next"
