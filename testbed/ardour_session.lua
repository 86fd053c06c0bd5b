-- A headless Ardour session for dawroute's tests, run by ardourN-lua:
--   ardour7-lua ardour_session.lua BACKEND DIR NAME
-- BACKEND is "JACK" or "PulseAudio". DIR/NAME is created the first time and loaded after.
-- Then every line read on stdin is run as Lua inside the session; each answers with one
-- line, "DAWROUTE-OK" or "DAWROUTE-ERR <message>". End of input closes the session.
local backend, dir, name = arg[1], arg[2], arg[3]

local function say (text)
	print (text)
	io.stdout:flush ()
end

-- "ardour" is the client name Ardour's GUI uses (its -c/--name option); luasession's
-- default is an empty one (ports ":Master/audio_out 1")
assert (AudioEngine:set_backend (backend, "ardour", ""), "no backend " .. backend)
assert (AudioEngine:start (false) == 0, "the " .. backend .. " engine did not start")

local session
local f = io.open (dir .. "/" .. name .. ".ardour", "r")
if f then
	f:close ()
	session = load_session (dir, name)
else
	session = create_session (dir, name, 48000)
end
assert (session, "no session at " .. dir)

-- what an action script's header calls in Ardour (its metadata)
function ardour (_) end

say ("DAWROUTE-READY " .. backend)
for line in io.lines () do
	local chunk, err = load (line)
	local ok, res = false, err
	if chunk then
		ok, res = pcall (chunk)
	end
	say (ok and "DAWROUTE-OK" or ("DAWROUTE-ERR " .. tostring (res)))
end
close_session ()
