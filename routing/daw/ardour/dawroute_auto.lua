ardour {
	["type"]    = "EditorAction",
	name        = "dawroute: automatic",
	author      = "dawroute",
	license     = "GPL-3.0-or-later",
	description = [[Drop the manual choice: dawroute picks the output by priority again. Sends OSC to the dawroute daemon: enable it with `osc: {listen: "127.0.0.1:9000"}` in ~/.config/dawroute/config.yaml (see dawroute's docs/daw.md).]]
}

function action_params ()
	return {
		["uri"] = { title = "dawroute OSC address", default = "osc.udp://127.0.0.1:9000" },
	}
end

function factory (params)
	return function ()
		local p = params or {}
		local tx = ARDOUR.LuaOSC.Address (p["uri"] or "osc.udp://127.0.0.1:9000")
		tx:send ("/dawroute/auto", "")
	end
end
