-- foyer_expect_one fails the transaction unless n is 1. A statement that
-- must change exactly one row (store.Tx.ExecOne, such as a flow update
-- checking its version) counts the rows it changed with it, so that the
-- check happens on the server and the statement can travel with the rest
-- of its transaction instead of costing a round trip of its own.
CREATE FUNCTION foyer_expect_one(n BIGINT) RETURNS BIGINT
LANGUAGE plpgsql AS $$
BEGIN
    IF n <> 1 THEN
        RAISE EXCEPTION 'foyer: the statement changed % rows, not 1', n USING ERRCODE = 'FY001';
    END IF;
    RETURN n;
END
$$;
