-- Which rule of a policy file decided ('' for the built-in policy or a
-- file's fallback), and what a shadow policy running beside the live one
-- would have decided (compact JSON, '' with no shadow policy): recorded,
-- never enforced, compared by `foyer policy replay --shadow`.
ALTER TABLE decisions ADD COLUMN rule TEXT NOT NULL DEFAULT '';
ALTER TABLE decisions ADD COLUMN shadow TEXT NOT NULL DEFAULT '';
