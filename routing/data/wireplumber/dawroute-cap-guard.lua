-- dawroute cap guard for WirePlumber 0.5
--
-- A device a dawroute profile caps must be at or below its cap before any audio path to
-- it exists. WirePlumber links a stream to a re-appearing device by itself (it makes the
-- configured default the default again and the stream follows) before any client has
-- heard of the device, at whatever level the device arrives with: 100 % for a device
-- without level memory. This hook sits in WirePlumber's own linking chain, after the
-- target is chosen and before the link is made: a link to a capped device without routes
-- waits until the device shows a level within its cap; the stream stays where it plays
-- meanwhile. It also lowers such a device raised above its cap, the moment the level
-- shows. Cards keep their level in their routes and are left alone (see `routed`).
--
-- The caps (device node name -> { channel or "*" -> linear volume }) come from the
-- component's arguments (written by dawroute, read when WirePlumber starts) and, live,
-- from the "dawroute" metadata that dawroute updates as profiles and devices change.

local args = ...
log = Log.open_topic ("s-dawroute")

-- a volume read back through pipewire-pulse rounds to 1/65536 of the cubic scale
local SLACK = 1e-4

local caps = {}
-- A link to a capped device is made only once its level has shown within the cap for
-- SETTLE_MS: clients see levels through pipewire-pulse, which showed the old level up to
-- ~6 ms after WirePlumber saw the new one (measured on 1.4.2; with the link made at
-- once, 1 sample in ~11,000 showed the DAW on the amp at its old 100 %).
local SETTLE_MS = 20
-- A lowering is on its way for this long: the node announces its Props a few times as it
-- starts, each still showing the old level, and lowering again on each (4 sets a plug on
-- 1.4.2) landed after a client's own lower level and replaced it with the cap.
local PENDING_MS = 50

-- by node name: a node that is gone has no id to look up, and its successor takes over
local calm_since = {}  -- usec since the device's level shows within its cap
local lowered_at = {}  -- usec of our last lowering, until the level shows within the cap
local lowered_from = {}  -- the level it lowered ("0.80000,0.80000"; nil: a new node's)
local waiting = {}     -- true: a link to it is held until it has been calm long enough
-- by stream node id: the target a client last gave the stream in the "default" metadata
-- (pipewire-pulse writes a pulse client's move there, the target's serial), with the
-- stream's own serial: ids are reused, and a removed node is gone before any hook could
-- forget it
local moved = {}       -- id -> { stream = "61", target = "68" }

local function set_caps (json)
  local parsed = json and json:parse () or nil
  if type (parsed) == "table" then
    caps = parsed
    log:info ("dawroute: caps updated")
  end
end

if args then
  local a = args:parse ()
  if type (a) == "table" and a.caps then
    caps = a.caps
  end
end

local function node_caps (node)
  local name = node.properties ["node.name"]
  return name and caps [name] or nil
end

-- The device's Props as { volumes = {...}, map = {...} }, or nil until they are known.
local function levels (node)
  for p in node:iterate_params ("Props") do
    local parsed = p:parse ()
    local props = parsed and parsed.properties
    if props and props.channelVolumes then
      return { volumes = props.channelVolumes, map = props.channelMap or {} }
    end
  end
  return nil
end

local function cap_of (dev, channel)
  return dev [channel] or dev ["*"]
end

-- The channel volumes lowered to the caps, and whether anything was above one.
local function clamp (dev, lv)
  local out, over = {}, false
  for i, v in ipairs (lv.volumes) do
    local cap = cap_of (dev, lv.map [i] or "")
    if cap and v > cap + SLACK then
      out [i] = cap
      over = true
    else
      out [i] = v
    end
  end
  return out, over
end

local function key (volumes)
  local parts = {}
  for i, v in ipairs (volumes) do
    parts [i] = string.format ("%.5f", v)
  end
  return table.concat (parts, ",")
end

-- `from`: the level seen above the cap (nil when lowered on arrival, unread)
local function lower (node, volumes, from)
  local arr = { "Spa:Float" }
  for _, v in ipairs (volumes) do
    table.insert (arr, v)
  end
  local name = node.properties ["node.name"] or ""
  lowered_at [name] = GLib.get_monotonic_time ()
  lowered_from [name] = from and key (from) or nil
  log:info (node, "dawroute: " .. tostring (node.properties ["node.name"]) ..
      " above its cap, lowering it")
  node:set_param ("Props", Pod.Object {
    "Spa:Pod:Object:Param:Props", "Props", channelVolumes = Pod.Array (arr),
  })
end

-- A card's level is its route, which WirePlumber restores with the device (to the level
-- dawroute left, within the cap; 0.064 = 40 % for a route never seen) before any link,
-- and which dawroute sets through pipewire-pulse. Its node's Props do not reliably show
-- that level: in the real-kernel tier a re-plugged USB card's node did not show its 40 %
-- route within 2 s in one run of three. So the guard holds and lowers only devices
-- without routes (virtual and null sinks), whose level is the node's own.
local function routed (node)
  local routes = node.properties ["device.routes"]
  return (routes ~= nil and routes ~= "0") or node.properties ["card.profile.device"] ~= nil
end

-- Lower the device, unless what shows is the old level our last lowering is still on
-- its way to replace (a new node's first reports, or the level we lowered from); then
-- look again once it should have shown. A level raised meanwhile is lowered at once.
local function lower_once (node, dev, volumes, seen)
  local name = node.properties ["node.name"] or ""
  local since = lowered_at [name]
  local age = since and (GLib.get_monotonic_time () - since) / 1000 or PENDING_MS
  local stale = lowered_from [name] == nil or lowered_from [name] == key (seen)
  if age >= PENDING_MS or not stale then
    lower (node, volumes, seen)
    return
  end
  Core.timeout_add (math.ceil (PENDING_MS - age) + 1, function ()
    if (lowered_at [name] or 0) ~= since then
      return false  -- shown within the cap meanwhile, or lowered again
    end
    -- the node may be gone by now: then there is nothing to lower
    pcall (function ()
      local lv = levels (node)
      local now_volumes, over = clamp (dev, lv)
      if over then
        lower (node, now_volumes, lv.volumes)
      end
    end)
    return false
  end)
end

-- How many ms until this device is safe to link to (0: now), nil while its level is
-- unknown or above its cap (then it is lowered).
local function calm (node, dev)
  local name = node.properties ["node.name"]
  local lv = levels (node)
  local over = true
  if lv then
    local volumes
    volumes, over = clamp (dev, lv)
    if over then
      lower_once (node, dev, volumes, lv.volumes)
    end
  end
  if over then
    calm_since [name] = nil
    return nil
  end
  lowered_at [name], lowered_from [name] = nil, nil
  local now = GLib.get_monotonic_time ()
  calm_since [name] = calm_since [name] or now
  return math.max (0, SETTLE_MS - (now - calm_since [name]) / 1000)
end

-- Did a client move this stream to this very device (its serial: a re-plugged device
-- has a new one), now shown within its cap? The settle is for clients' view of the
-- level; a client that moves the DAW once it sees the capped level (dawroute confirms it
-- through pipewire-pulse before every move) has that view already, and holding its move
-- cost 20 ms a hot-plug (1.4.2: the move sent at +9 ms, linked at +32 ms). WirePlumber's
-- own choices (the default re-elected, a target the stream was created with) keep it.
local function moved_here_when_calm (si, node)
  local m = moved [tostring (si.properties ["node.id"])]
  local stream = si:get_associated_proxy ("node")
  return m ~= nil and stream ~= nil
      and m.stream == tostring (stream.properties ["object.serial"])
      and m.target == tostring (node.properties ["object.serial"])
      and calm_since [node.properties ["node.name"] or ""] ~= nil
end

local function rescan_in (ms, source)
  if ms <= 0 then
    source:call ("schedule-rescan", "linking")
    return
  end
  Core.timeout_add (math.ceil (ms) + 1, function ()
    source:call ("schedule-rescan", "linking")
    return false
  end)
end

SimpleEventHook {
  name = "dawroute/cap-guard",
  after = { "linking/find-defined-target", "linking/find-filter-target",
            "linking/find-media-role-target", "linking/find-default-target",
            "linking/find-best-target", "linking/get-filter-from-target" },
  before = "linking/prepare-link",
  interests = {
    EventInterest {
      Constraint { "event.type", "=", "select-target" },
    },
  },
  execute = function (event)
    local target = event:get_data ("target")
    if not target then
      return
    end
    local node = target:get_associated_proxy ("node")
    local dev = node and node_caps (node)
    if not dev then
      return
    end
    if routed (node) then
      return
    end
    local wait = calm (node, dev)
    local name = node.properties ["node.name"]
    if wait == 0 then
      return
    end
    if wait and moved_here_when_calm (event:get_subject (), node) then
      log:info (node, "dawroute: linking to " .. tostring (name)
          .. " at once: a client moved the stream there")
      return
    end
    -- hold: prepare-link and link-target do not run, the stream keeps its current link
    log:info (node, "dawroute: holding a link to " .. tostring (name)
        .. " until its level is within its cap")
    if wait then
      rescan_in (wait, event:get_source ())
    else
      waiting [name] = true
    end
    event:stop_processing ()
  end
}:register ()

-- The channel positions a new node announces ("FL,FR", "[ AUX0 AUX1 ]"), or nil.
local function positions (node)
  local pos = node.properties ["audio.position"]
  local n = tonumber (node.properties ["audio.channels"] or "")
  local out = {}
  for p in string.gmatch (pos or "", "[%w_]+") do
    table.insert (out, p)
  end
  if #out == 0 and n then
    for i = 1, n do out [i] = "" end
  end
  return #out > 0 and out or nil
end

-- A capped device without level memory of its own (no routes: a virtual sink, a null
-- sink) is lowered the moment WirePlumber hears of it, before reading its level: the
-- earlier it is at its cap, the less any client ever sees it above (measured on 1.4.2:
-- pipewire-pulse showed the old level ~6 ms after WirePlumber saw the new one). A card
-- keeps its level in its routes, which WirePlumber restores (see `routed`).
SimpleEventHook {
  name = "dawroute/cap-guard-new-node",
  interests = {
    EventInterest {
      Constraint { "event.type", "=", "node-added" },
      Constraint { "media.class", "matches", "Audio/Sink*" },
    },
  },
  execute = function (event)
    local node = event:get_subject ()
    local dev = node_caps (node)
    calm_since [node.properties ["node.name"] or ""] = nil  -- a new node: not calm yet
    if not dev or routed (node) then
      return
    end
    local pos = positions (node)
    if not pos then
      return
    end
    local volumes = {}
    for i, p in ipairs (pos) do
      volumes [i] = cap_of (dev, p) or 1.0
    end
    lower (node, volumes)
  end
}:register ()

SimpleEventHook {
  name = "dawroute/cap-guard-levels",
  interests = {
    EventInterest {
      Constraint { "event.type", "=", "node-params-changed" },
      Constraint { "event.subject.param-id", "=", "Props" },
      Constraint { "media.class", "matches", "Audio/Sink*" },
    },
  },
  execute = function (event)
    local node = event:get_subject ()
    local dev = node_caps (node)
    if not dev or routed (node) then
      return
    end
    local name = node.properties ["node.name"]
    local wait = calm (node, dev)
    if wait and waiting [name] then
      -- at once: a client's move may be linked now (moved_here_when_calm); anything else
      -- is held again for what is left of the settle
      waiting [name] = nil
      rescan_in (0, event:get_source ())
    end
  end
}:register ()

SimpleEventHook {
  name = "dawroute/cap-guard-moves",
  interests = {
    EventInterest {
      Constraint { "event.type", "=", "metadata-changed" },
      Constraint { "metadata.name", "=", "default" },
      Constraint { "event.subject.key", "=", "target.object" },
    },
  },
  execute = function (event)
    local props = event:get_properties ()
    local value = props ["event.subject.value"]
    local id = tostring (props ["event.subject.id"])
    local stream = event:get_source ():call ("get-object-manager", "node"):lookup {
      Constraint { "bound-id", "=", id, type = "gobject" },
    }
    if value and value ~= "-1" and stream then
      moved [id] = {
        stream = tostring (stream.properties ["object.serial"]),
        target = tostring (value),
      }
    else
      moved [id] = nil
    end
  end
}:register ()

-- live caps from dawroute
dawroute_metadata = ImplMetadata ("dawroute")
dawroute_metadata:activate (Features.ALL, function (m, e)
  if e then
    log:warning ("dawroute: cannot create the dawroute metadata: " .. tostring (e))
    return
  end
  m:connect ("changed", function (m, subject, key, type, value)
    if subject == 0 and key == "dawroute.caps" then
      set_caps (value and Json.Raw (value) or nil)
    end
  end)
end)
