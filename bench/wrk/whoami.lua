-- whoami.lua: GET /sessions/whoami with session tokens, for wrk.
--
--   wrk -t2 -c32 -d20s --latency -s bench/wrk/whoami.lua http://127.0.0.1:4455/sessions/whoami
--
-- Tokens come from, in order:
--   FOYER_TOKEN   one session token (fys_…);
--   FOYER_USERS   a users file written by `go run ./bench setup` (JSON lines
--                 with a "token" field), default $TMPDIR/foyer-bench-users.jsonl,
--                 which is also the default of the bench tool's -users flag.
-- With several tokens each thread cycles through them; FOYER_TOKENS_MAX caps
-- how many are read. A missing token stops wrk: a run of 401s would measure
-- the wrong thing.
--
-- At the end it prints a summary in the bench tool's text format, after
-- wrk's own report; answers with a status of 400 or more count as errors.
-- With FOYER_WRK_JSON=<file> it also writes the summary as JSON in the bench
-- tool's shape (scenario "whoami-wrk") for `go run ./bench report`; wrk does
-- not tell scripts its connection count, so set FOYER_WRK_CONNECTIONS to
-- label it.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")

local tokens = common.load_tokens {
  script = "whoami.lua", one = "FOYER_TOKEN", file = "FOYER_USERS", default = "foyer-bench-users.jsonl",
  field = "token", writer = "setup",
}
local requests = {}
for k, t in ipairs(tokens) do
  requests[k] = { headers = { Authorization = "Bearer " .. t } }
end

-- No check: whoami is the lightest request, and wrk reads no body when no
-- response() is installed; a status of 400 or more counts as an error.
common.run {
  script = "whoami.lua",
  scenario = "whoami-wrk",
  requests = requests,
  note = string.format("wrk, %d token(s)", #tokens),
}
