-- The full lifecycle of one dossier after another on each connection (run
-- with as many threads as connections, so that each thread's responses come
-- back in order): the citizen files online, the clerk receives, the
-- specialist claims and submits, the approver approves, the clerk returns
-- the result and the citizen rates it. A refused step starts a new dossier.
dofile(os.getenv("LUA_DIR") .. "/report.lua")
local citizen = os.getenv("CITIZEN")
local steps = {
  {os.getenv("CLERK"), "receive"},
  {os.getenv("SPECIALIST"), "claim"},
  {os.getenv("SPECIALIST"), "submit_for_approval"},
  {os.getenv("APPROVER"), "approve"},
  {os.getenv("CLERK"), "return_result"},
}
local filing = '{"procedure_code":"' .. os.getenv("PROCEDURE") .. '","unit_id":"' .. os.getenv("UNIT")
  .. '","form":{"ho_ten":"Nguyễn Văn Bé"}}'
local rating = '{"reception":"satisfied","processing_time":"very_satisfied","staff_conduct":"satisfied","result":"satisfied"}'
local step, id, counter = 0, nil, 0
local started = os.time()

request = function()
  local headers = {["Content-Type"] = "application/json"}
  if step == 0 then
    counter = counter + 1
    headers["Authorization"] = "Bearer " .. citizen
    headers["Idempotency-Key"] = "lifecycle-" .. started .. "-" .. tid .. "-" .. counter
    return wrk.format("POST", "/api/v1/dossiers", headers, filing)
  elseif step <= #steps then
    headers["Authorization"] = "Bearer " .. steps[step][1]
    return wrk.format("POST", "/api/v1/dossiers/" .. id .. "/actions", headers, '{"action":"' .. steps[step][2] .. '"}')
  end
  headers["Authorization"] = "Bearer " .. citizen
  return wrk.format("POST", "/api/v1/dossiers/" .. id .. "/rating", headers, rating)
end

response = function(status, headers, body)
  if status >= 300 then
    step = 0
  elseif step == 0 then
    id = body:match('^{"id":"([^"]+)"')
    step = id and 1 or 0
  else
    step = (step + 1) % (#steps + 2)
  end
end
