-- dawroute for REAPER: runs the `dawroute` command (the daemon answers once the switch
-- is done) and shows its message when it refuses. Loaded by the dawroute_*.lua actions.
--
-- If REAPER does not find `dawroute` (it was installed into a virtual environment or
-- ~/.local/bin that REAPER's PATH lacks), set its full path here:
local DAWROUTE = "dawroute"

local M = {}

-- profile names are letters, digits, `-`, `_` and `.`: nothing a shell would expand
function M.valid(name)
  return type(name) == "string" and name:match("^[%w][%w_.%-]*$") ~= nil and #name <= 64
end

function M.run(...)
  local args = { ... }
  for _, a in ipairs(args) do
    if not M.valid(a) then
      reaper.ShowMessageBox("not a profile name or command: " .. tostring(a), "dawroute", 0)
      return false
    end
  end
  local cmd = DAWROUTE .. " " .. table.concat(args, " ")
  local out = reaper.ExecProcess(cmd, 15000) -- "exit code\noutput", or nil
  if out == nil then
    reaper.ShowMessageBox("could not run: " .. cmd, "dawroute", 0)
    return false
  end
  local code, text = out:match("^(%-?%d+)\r?\n?(.*)$")
  if code ~= "0" then
    local why = (text ~= nil and text ~= "") and text or ("exit code " .. tostring(code))
    reaper.ShowMessageBox(why, "dawroute", 0)
    return false
  end
  return true
end

return M
