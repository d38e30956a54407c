-- POST /api/v1/auth/register with a fresh address each time: every one is
-- new, so each costs a password hash (issue 13 §6).
dofile(os.getenv("LUA_DIR") .. "/report.lua")
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  counter = counter + 1
  local email = "bench.reg-" .. os.time() .. "-" .. tid .. "-" .. counter .. "@example.vn"
  local national_id = string.format("022196%06d", (tid * 100000 + counter) % 1000000)
  wrk.body = '{"email":"' .. email .. '","password":"mật khẩu an toàn của bench","full_name":"Trần Thị Bình","national_id":"' .. national_id .. '"}'
  return wrk.format(nil, "/api/v1/auth/register")
end
