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

	-- false while the card cannot be opened yet (ALSA does not list it); true once
	-- Ardour plays on it, or tried and went back (a card that fails to open is not
	-- tried again: each try stops Ardour's engine), or Ardour is not on ALSA
	local function reopen (card)
		if AudioEngine:current_backend_name () ~= "ALSA" then return true end
		local backend = AudioEngine:set_backend ("ALSA", "", "") -- the running one
		if not backend or backend:isnil () then return false end
		local device = device_for (backend, card)
		if not device then
			print ("dawroute: no ALSA device for card '" .. card .. "' yet; staying on " .. backend:output_device_name ())
			return false
		end
		local previous = backend:output_device_name ()
		if device == previous then return true end
		-- an engine that halted by itself (its card was pulled) is not stopped again:
		-- in the real-kernel tier Ardour's process was gone after the hook did that
		if AudioEngine:running () then AudioEngine:stop (false) end
		backend:set_output_device_name (device)
		if AudioEngine:start (false) ~= 0 then
			print ("dawroute: '" .. device .. "' did not open; back to '" .. previous .. "'")
			backend:set_output_device_name (previous)
			AudioEngine:start (false)
			return true
		end
		print ("dawroute: output now on '" .. device .. "'")
		return true
	end

	-- A change is done with only once Ardour plays on the profile's card: right after a
	-- plug the state can name the new profile before `status` shows its card, or before
	-- ALSA lists the card (one run in 13 in the real-kernel tier stayed on the old card
	-- for good when the hook took the change as seen at once). Tried again every 0.5 s,
	-- at most TRIES times, then left until the next change.
	local TRIES = 20
	local tries = 0

	return function (signal, ref, ...)
		ticks = ticks + 1
		if ticks % 5 ~= 0 then return end -- LuaTimerDS: every 100 ms; look every 0.5 s
		local active = read_active ()
		if active == last_active then return end
		local card = active and profile_card ()
		if not active or (card and reopen (card)) then
			last_active, tries = active, 0
			return
		end
		tries = tries + 1
		if tries >= TRIES then
			print ("dawroute: gave up following '" .. active .. "' (no card to open); waiting for the next change")
			last_active, tries = active, 0
		end
	end
end
