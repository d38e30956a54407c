-- POST /api/v1/auth/register with a fresh address each time: every one is
-- new, so each costs a password hash (issue 13 §6).
dofile(os.getenv("LUA_DIR") .. "/report.lua")
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  counter = counter + 1
  local email = "bench.reg-" .. os.time() .. "-" .. tid .. "-" .. counter .. "@example.vn"
  wrk.body = '{"email":"' .. email .. '","password":"mật khẩu an toàn của bench","full_name":"Trần Thị Bình"}'
  return wrk.format(nil, "/api/v1/auth/register")
end
