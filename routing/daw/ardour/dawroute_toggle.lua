ardour {
	["type"]    = "EditorAction",
	name        = "dawroute: toggle two profiles",
	author      = "dawroute",
	license     = "GPL-3.0-or-later",
	description = [[Switch between two dawroute profiles (e.g. speakers and headphones). Sends OSC to the dawroute daemon: enable it with `osc: {listen: "127.0.0.1:9000"}` in ~/.config/dawroute/config.yaml (see dawroute's docs/daw.md).]]
}

function action_params ()
	return {
		["a"] = { title = "Profile A", default = "speakers" },
		["b"] = { title = "Profile B", default = "usb-amp" },
		["uri"] = { title = "dawroute OSC address", default = "osc.udp://127.0.0.1:9000" },
	}
end

function factory (params)
	return function ()
		local p = params or {}
		local tx = ARDOUR.LuaOSC.Address (p["uri"] or "osc.udp://127.0.0.1:9000")
		tx:send ("/dawroute/toggle", "ss", p["a"] or "speakers", p["b"] or "usb-amp")
	end
end
