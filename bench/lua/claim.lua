-- POST /api/v1/queue/claim, rotating over the specialists' tokens in $TOKENS (one a line).
dofile(os.getenv("LUA_DIR") .. "/report.lua")
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
local i = math.random(#tokens)
request = function()
  i = i % #tokens + 1
  return wrk.format("POST", "/api/v1/queue/claim", {["Authorization"] = "Bearer " .. tokens[i]})
end
local claimed, empty = 0, 0
response = function(status)
  if status == 200 then claimed = claimed + 1 elseif status == 204 then empty = empty + 1 end
end
