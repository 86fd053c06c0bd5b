ardour {
	["type"]    = "EditorHook",
	name        = "dawroute: follow the profile on bare ALSA",
	author      = "dawroute",
	license     = "GPL-3.0-or-later",
	description = [[For Ardour on its ALSA backend (no sound server): when dawroute switches profile, Ardour re-opens its output on the profile's card. Reads dawroute's state file twice a second; on a change it asks `dawroute status --json` for the card. Needs Ardour's Lua sandbox off (the default) and the dawroute command on PATH (or set its full path below).]]
}

function signals ()
	return LuaSignal.Set ():add ({ [LuaSignal.LuaTimerDS] = true })
end

function factory (params)
	local DAWROUTE = "dawroute" -- e.g. os.getenv ("HOME") .. "/.local/bin/dawroute"
	local state_dir = os.getenv ("XDG_STATE_HOME") or ((os.getenv ("HOME") or "") .. "/.local/state")
	local state_file = state_dir .. "/dawroute/state.json"
	local last_active = nil
	local ticks = 0

	local function read_active ()
		local f = io.open (state_file, "r")
		if not f then return nil end
		local text = f:read ("a")
		f:close ()
		return text:match ('"active"%s*:%s*"([^"]*)"')
	end

	local function profile_card ()
		local p = io.popen (DAWROUTE .. " status --json 2>/dev/null")
		if not p then return nil end
		local text = p:read ("a")
		p:close ()
		-- the first output's card; JSON strings here hold no escaped quotes in practice
		return text:match ('"outputs"%s*:%s*%[.-"card"%s*:%s*"([^"]*)"')
	end

	-- Ardour's ALSA backend names its devices after the card; pick the one that is it
	local function device_for (backend, card)
		for _, list in ipairs ({ backend:enumerate_output_devices (), backend:enumerate_devices () }) do
			for d in list:iter () do
				if d.name == card or d.name:find (card, 1, true) then
					return d.name
				end
			end
		end
		return nil
	end

	local function reopen (card)
		if AudioEngine:current_backend_name () ~= "ALSA" then return end
		local backend = AudioEngine:set_backend ("ALSA", "", "") -- the running one
		if not backend or backend:isnil () then return end
		local device = device_for (backend, card)
		if not device then
			print ("dawroute: no ALSA device for card '" .. card .. "'; staying on " .. backend:output_device_name ())
			return
		end
		local previous = backend:output_device_name ()
		if device == previous then return end
		AudioEngine:stop (false)
		backend:set_output_device_name (device)
		if AudioEngine:start (false) ~= 0 then
			print ("dawroute: '" .. device .. "' did not open; back to '" .. previous .. "'")
			backend:set_output_device_name (previous)
			AudioEngine:start (false)
		else
			print ("dawroute: output now on '" .. device .. "'")
		end
	end

	return function (signal, ref, ...)
		ticks = ticks + 1
		if ticks % 5 ~= 0 then return end -- LuaTimerDS: every 100 ms; look every 0.5 s
		local active = read_active ()
		if active == last_active then return end
		last_active = active
		if not active then return end
		local card = profile_card ()
		if card then reopen (card) end
	end
end
