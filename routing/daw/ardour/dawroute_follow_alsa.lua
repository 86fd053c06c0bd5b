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

	-- The ALSA backend, fetched once. In Ardour's Lua, AudioEngine:set_backend is the
	-- only way to reach it, and every call re-creates the engine's backend: a running
	-- engine is stopped and its session told it halted (Ardour 7.3, audioengine.cc:
	-- set_backend → drop_backend). Called on every change, it stopped Ardour even when
	-- its card was already the profile's, and left it stopped. ALSA's backend is one
	-- object for the whole process, so the one fetched stays valid.
	local backend = nil
	local function alsa_backend ()
		if backend == nil then
			local b = AudioEngine:set_backend ("ALSA", "", "")
			if b and not b:isnil () then backend = b end
		end
		return backend
	end

	-- true once the engine runs on `device`; a failed start says why and leaves it stopped
	local function start_on (device)
		if backend:set_output_device_name (device) ~= 0 then return false end
		if AudioEngine:start (false) == 0 then return true end
		print ("dawroute: '" .. device .. "' did not open: " .. AudioEngine:get_last_backend_error ())
		AudioEngine:stop (false)
		return false
	end

	-- Each failed start is a gap in Ardour's output: a card that does not open is tried
	-- at most START_TRIES times for one change (the first failure can be passing: the
	-- card just plugged, or the old one's release under way), then left alone.
	local START_TRIES = 3
	local failed = 0

	-- false while the card cannot be opened yet (ALSA does not list it, or it failed to
	-- start and has tries left); true once Ardour plays on it, or the card was given up,
	-- or Ardour is not on ALSA
	local function reopen (card)
		if AudioEngine:current_backend_name () ~= "ALSA" then return true end
		local was_running = AudioEngine:running ()
		local b = alsa_backend () -- the first time, this stops the engine
		if not b then return false end
		local previous = b:output_device_name ()
		local device = device_for (b, card)
		if device == previous and AudioEngine:running () then return true end
		if not device then
			print ("dawroute: no ALSA device for card '" .. card .. "' yet; staying on " .. previous)
			if was_running and not AudioEngine:running () then start_on (previous) end
			return false
		end
		-- stopped first, always: after a halt (its card pulled) this is what reaps the
		-- engine's dead process thread and closes the card (AlsaAudioBackend::stop)
		AudioEngine:stop (false)
		if start_on (device) then
			print ("dawroute: output now on '" .. device .. "'")
			return true
		end
		if previous ~= device and device_for (b, previous) == previous then
			start_on (previous) -- back where it played, while it is still there
		end
		failed = failed + 1
		if failed < START_TRIES then return false end
		print ("dawroute: gave up opening '" .. device .. "'; on '" .. b:output_device_name () .. "' until the next change")
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
			last_active, tries, failed = active, 0, 0
			return
		end
		tries = tries + 1
		if tries >= TRIES then
			print ("dawroute: gave up following '" .. active .. "' (no card to open); waiting for the next change")
			last_active, tries, failed = active, 0, 0
		end
	end
end
