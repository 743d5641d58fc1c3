-- introspect.lua: OAuth token introspection (RFC 7662), for wrk.
--
--   FOYER_CLIENT_ID=… FOYER_CLIENT_SECRET=… \
--     wrk -t2 -c16 -d20s --latency -s bench/wrk/introspect.lua http://127.0.0.1:4455/oauth/introspect
--
-- Every request is POST /oauth/introspect with the form body
-- token=<access token> and HTTP Basic client authentication with
-- FOYER_CLIENT_ID and FOYER_CLIENT_SECRET. Foyer lets a client introspect
-- only its own tokens, so the client must be the one the tokens were
-- issued to. Access tokens come from, in order:
--   FOYER_ACCESS_TOKEN  one access token;
--   FOYER_TOKENS        a tokens file: JSON lines with an "access_token"
--                       field, as `go run ./bench oauth-setup` writes (its
--                       -tokens default $TMPDIR/foyer-bench-oauth.jsonl is
--                       this default too), or one bare token per line.
-- With several tokens each thread cycles through them; FOYER_TOKENS_MAX caps
-- how many are read. A missing token stops wrk.
--
-- An answer counts as an error when its status is not 200 or its body does
-- not say "active":true (an expired, revoked or foreign token); socket
-- errors count too. At the end it prints a summary in the bench tool's text
-- format after wrk's own report, and with FOYER_WRK_JSON=<file> writes it as
-- JSON (scenario "introspect-wrk") for `go run ./bench report`; set
-- FOYER_WRK_CONNECTIONS to label the concurrency.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")

local script = "introspect.lua"

local auth, id = common.basic_auth(script)
local tokens = common.load_tokens {
  script = script, one = "FOYER_ACCESS_TOKEN", file = "FOYER_TOKENS", default = "foyer-bench-oauth.jsonl",
  field = "access_token", bare = true, writer = "oauth-setup",
}
local requests = {}
for k, t in ipairs(tokens) do
  requests[k] = { body = "token=" .. common.form_escape(t) }
end

common.run {
  script = script,
  scenario = "introspect-wrk",
  method = "POST",
  headers = common.form_headers(auth),
  requests = requests,
  fault = "inactive",
  check = function(b)
    if not b:find('"active":true', 1, true) then return "not active" end
  end,
  note = string.format("wrk, client %s, %d token(s)", id, #tokens),
}
