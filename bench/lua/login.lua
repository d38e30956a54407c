-- POST /api/v1/auth/login as the demo clerk.
dofile(os.getenv("LUA_DIR") .. "/report.lua")
wrk.method = "POST"
wrk.path = "/api/v1/auth/login"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"clerk@motcua.local","password":"motcua-demo-2025"}'
