ardour {
	["type"]    = "EditorAction",
	name        = "dawroute: switch profile",
	author      = "dawroute",
	license     = "GPL-3.0-or-later",
	description = [[Switch the audio output to a dawroute profile (held until its device leaves, or auto). Sends OSC to the dawroute daemon: enable it with `osc: {listen: "127.0.0.1:9000"}` in ~/.config/dawroute/config.yaml (see dawroute's docs/daw.md).]]
}

function action_params ()
	return {
		["profile"] = { title = "Profile", default = "usb-amp" },
		["uri"] = { title = "dawroute OSC address", default = "osc.udp://127.0.0.1:9000" },
	}
end

function factory (params)
	return function ()
		local p = params or {}
		local tx = ARDOUR.LuaOSC.Address (p["uri"] or "osc.udp://127.0.0.1:9000")
		tx:send ("/dawroute/switch", "s", p["profile"] or "usb-amp")
	end
end
