-- GET a random path of the file named by $PATHS, with $TOKEN as bearer if set.
dofile(os.getenv("LUA_DIR") .. "/report.lua")
local paths = {}
for line in io.lines(os.getenv("PATHS")) do paths[#paths + 1] = line end
local token = os.getenv("TOKEN")
if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
