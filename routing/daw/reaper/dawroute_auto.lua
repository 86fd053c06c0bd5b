-- dawroute: back to automatic
-- A REAPER action (Actions > New action > Load ReaScript). Drops the manual choice.

local here = ({ reaper.get_action_context() })[2]:match("^(.*[/\\])") or ""
local dawroute = dofile(here .. "dawroute_lib.lua")
dawroute.run("auto")
