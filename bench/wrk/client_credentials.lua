-- client_credentials.lua: OAuth client_credentials tokens, for wrk.
--
--   FOYER_CLIENT_ID=… FOYER_CLIENT_SECRET=… \
--     wrk -t2 -c16 -d20s --latency -s bench/wrk/client_credentials.lua http://127.0.0.1:4455/oauth/token
--
-- Every request is POST /oauth/token with the form body
-- grant_type=client_credentials (plus scope=$FOYER_SCOPE when set) and HTTP
-- Basic client authentication with FOYER_CLIENT_ID and FOYER_CLIENT_SECRET,
-- the id and secret of a client created with
-- `foyer clients create --name bench-m2m --grant client_credentials`.
-- Each answer is one new access token: a signed JWT and a stored token row.
--
-- An answer counts as an error when its status is not 200 or its body has
-- no access_token; socket errors count too. At the end it prints a summary
-- in the bench tool's text format after wrk's own report, and with
-- FOYER_WRK_JSON=<file> writes it as JSON (scenario
-- "client_credentials-wrk") for `go run ./bench report`; set
-- FOYER_WRK_CONNECTIONS to label the concurrency, which wrk does not tell
-- scripts.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")

local script = "client_credentials.lua"
local auth, id = common.basic_auth(script)
local body = "grant_type=client_credentials"
local scope = os.getenv("FOYER_SCOPE")
if scope and scope ~= "" then
  body = body .. "&scope=" .. common.form_escape(scope)
end

common.run {
  script = script,
  scenario = "client_credentials-wrk",
  method = "POST",
  headers = common.form_headers(auth),
  requests = { { body = body } },
  fault = "no-access-token",
  check = function(b)
    if not b:find('"access_token":"', 1, true) then return "no access_token" end
  end,
  note = "wrk, client " .. id,
}
