-- PostgreSQL gains foyer_expect_one here (see its migration 0007). On
-- SQLite, store.Tx.ExecOne checks the row count in Go, where a statement
-- costs no round trip: nothing to create.
SELECT 1;
