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
local oauth = dofile(here .. "oauth.lua")

local script = "introspect.lua"

local function load_tokens()
  local tok = os.getenv("FOYER_ACCESS_TOKEN")
  if tok and tok ~= "" then
    return { tok }
  end
  local path = os.getenv("FOYER_TOKENS")
  if not path or path == "" then
    path = (os.getenv("TMPDIR") or "/tmp") .. "/foyer-bench-oauth.jsonl"
  end
  local f = io.open(path, "r")
  if not f then
    oauth.fail(script, "no token: set FOYER_ACCESS_TOKEN, or FOYER_TOKENS to a file written by `go run ./bench oauth-setup` (tried " .. path .. ")")
  end
  local limit = tonumber(os.getenv("FOYER_TOKENS_MAX") or "") or math.huge
  local tokens = {}
  for line in f:lines() do
    local t = line:match('"access_token"%s*:%s*"([^"]+)"')
    if not t and not line:find("[{%s]") and line ~= "" then
      t = line -- a bare token
    end
    if t then
      tokens[#tokens + 1] = t
      if #tokens >= limit then break end
    end
  end
  f:close()
  if #tokens == 0 then
    oauth.fail(script, "no access token in " .. path)
  end
  return tokens
end

local auth, id = oauth.basic_auth(script)
local tokens = load_tokens()
local bodies = {}
for k, t in ipairs(tokens) do
  bodies[k] = "token=" .. oauth.form_escape(t)
end

oauth.run {
  script = script,
  scenario = "introspect-wrk",
  auth = auth,
  bodies = bodies,
  fault = "inactive",
  check = function(b)
    if not b:find('"active":true', 1, true) then return "not active" end
  end,
  note = string.format("wrk, client %s, %d token(s)", id, #tokens),
}
