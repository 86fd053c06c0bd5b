-- dawroute: next profile
-- A REAPER action (Actions > New action > Load ReaScript). Switches to the next profile whose device is present.

local here = ({ reaper.get_action_context() })[2]:match("^(.*[/\\])") or ""
local dawroute = dofile(here .. "dawroute_lib.lua")
dawroute.run("next")
