-- Which rule of a policy file decided ('' for the built-in policy or a
-- file's fallback), and what a shadow policy running beside the live one
-- would have decided (compact JSON, '' with no shadow policy): recorded,
-- never enforced, compared by `foyer policy replay --shadow`.
ALTER TABLE decisions ADD COLUMN rule TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN shadow TEXT NOT NULL DEFAULT '';
-- A session's own idle timeout in microseconds, set by a policy's session
-- outcome (0: the domain's session.idle_timeout).
ALTER TABLE sessions ADD COLUMN idle_timeout BIGINT NOT NULL DEFAULT 0;
