-- dawroute: toggle two profiles
-- A REAPER action (Actions > New action > Load ReaScript). Set A and B: each run switches to
-- B when A is active, else to A (speakers <-> headphones).
local A, B = "speakers", "usb-amp"
local here = ({ reaper.get_action_context() })[2]:match("^(.*[/\\])") or ""
local dawroute = dofile(here .. "dawroute_lib.lua")
dawroute.run("toggle", A, B)
