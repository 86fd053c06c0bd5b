-- The real Ardour in the real-kernel tier, headless (ardourN-lua, the host's, seen
-- through the shared /usr):
--   ardour7-lua guest_ardour.lua JACK DIR NAME
--   ardour7-lua guest_ardour.lua ALSA DIR NAME DEVICE HOOK
-- JACK: on the running jackd as client "ardour" (the GUI's name), its master outputs
-- auto-connected by Ardour to system:playback_1/2 as a new session does; dawroute moves
-- them. ALSA: Ardour's ALSA backend, output only, on the ALSA device DEVICE (Ardour's name
-- for a card: the card's name), with dawroute's editor hook HOOK (dawroute_follow_alsa.lua)
-- called as Ardour's GUI calls it: on every 100 ms timer tick.
-- The session DIR/NAME is created the first time and loaded after. Prints
-- "DAWROUTE-READY <backend> up=<the guest's uptime>" once the session is up, then "ENGINE <running> <output device>" at the
-- start and whenever either changes (what Ardour's engine reports: the watcher's truth).
-- Runs until the file DIR/stop exists.
local backend_name, dir, name, device, hook_file = arg[1], arg[2], arg[3], arg[4], arg[5]

local function say (text)
	print (text)
	io.stdout:flush ()
end

local backend = AudioEngine:set_backend (backend_name, "ardour", "")
assert (backend and not backend:isnil (), "no backend " .. backend_name)
if backend_name == "ALSA" then
	backend:set_input_device_name ("None") -- output only: the hook moves the output
	backend:set_output_device_name (device)
	backend:set_sample_rate (48000)
	backend:set_buffer_size (1024)
end
assert (AudioEngine:start (false) == 0, "the " .. backend_name .. " engine did not start")

local f = io.open (dir .. "/" .. name .. ".ardour", "r")
local session
if f then
	f:close ()
	session = load_session (dir, name)
else
	session = create_session (dir, name, 48000)
end
assert (session, "no session at " .. dir)

local function uptime ()
	local f = io.open ("/proc/uptime", "r") -- the guest's clock, as guest.sh marks it
	local t = f:read ("n")
	f:close ()
	return t
end

-- what the hook asks dawroute (its `status --json`), said in the log: the card it got
local popen = io.popen
io.popen = function (cmd, mode)
	local p = popen (cmd, mode)
	if not p then
		say ("ASKED " .. cmd .. ": no answer")
		return p
	end
	return {
		read = function (_, fmt)
			local text = p:read (fmt) or ""
			say (string.format ("ASKED at %.2f: %s", uptime (), text:match ('"card"%s*:%s*[^,}]*') or ("no card in " .. #text .. " bytes")))
			return text
		end,
		close = function () return p:close () end,
	}
end

local hook = nil
if hook_file then
	function ardour (_) end -- the script's header (its metadata)
	dofile (hook_file)
	hook = factory ({})
end

local function engine ()
	local out = backend_name == "ALSA" and backend:output_device_name () or "jack"
	return "ENGINE " .. tostring (AudioEngine:running ()) .. " " .. out
end

say ("DAWROUTE-READY " .. backend_name .. " up=" .. uptime ())
local last = nil
while true do
	if hook then
		-- LuaSignal.LuaTimerDS: the GUI's timer, not there headless. An error in the hook
		-- is reported and the hook called again, as Ardour's GUI does with a failing
		-- action hook; unprotected, it would end this script and Ardour with it
		local ok, err = pcall (hook, nil, nil)
		if not ok then say (string.format ("HOOK-ERROR at %.2f: %s", uptime (), tostring (err))) end
	end
	local now = engine ()
	if now ~= last then
		say (string.format ("%s (at %.2f)", now, uptime ()))
		last = now
	end
	local stop = io.open (dir .. "/stop", "r")
	if stop then
		stop:close ()
		break
	end
	ARDOUR.LuaAPI.usleep (100000)
end
close_session ()
say ("DAWROUTE-CLOSED")
