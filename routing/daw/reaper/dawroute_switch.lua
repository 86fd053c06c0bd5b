-- dawroute: switch to a profile
-- A REAPER action (Actions > New action > Load ReaScript). Copy it once per profile
-- (e.g. dawroute_switch_usb-amp.lua) and set PROFILE.
local PROFILE = "usb-amp"
local here = ({ reaper.get_action_context() })[2]:match("^(.*[/\\])") or ""
local dawroute = dofile(here .. "dawroute_lib.lua")
dawroute.run("switch", PROFILE)
