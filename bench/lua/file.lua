-- POST /api/v1/dossiers online as $TOKEN (a citizen), a fresh Idempotency-Key each time.
dofile(os.getenv("LUA_DIR") .. "/report.lua")
local counter = 0
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"procedure_code":"' .. os.getenv("PROCEDURE") .. '","unit_id":"' .. os.getenv("UNIT") .. '","form":{"ho_ten":"Nguyễn Văn Bé"}}'
request = function()
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = "filing-" .. os.time() .. "-" .. tid .. "-" .. counter
  return wrk.format(nil, "/api/v1/dossiers")
end
