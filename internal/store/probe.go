package store

import (
	"context"
	"crypto/rand"
	"fmt"
)

// probeBytes is the size of CheckWrite's row: larger than a SQLite page
// (4 KiB), so that it needs pages of its own, as new rows do once the
// free space of the pages in use is gone.
const probeBytes = 8192

// CheckWrite reports whether the database can commit a write now: it
// inserts a row that needs new space and deletes it again, in one
// transaction, through the same writer every other write waits for. A
// full disk, a read-only or shut-down database, or a writer that is stuck
// (SQLite) make it fail, with an error Unavailable recognises. The
// readiness probe uses it; it is cheap, but not free: call it at most
// every few seconds.
func (db *DB) CheckWrite(ctx context.Context) error {
	id := rand.Text()
	err := db.InTx(ctx, func(tx *Tx) error {
		var q string
		switch db.Dialect {
		case SQLite:
			q = `INSERT INTO write_probe (id, filler) VALUES ($1, randomblob($2))`
		default:
			// Random bytes, so that compression does not make them small.
			q = `INSERT INTO write_probe (id, filler) SELECT $1, decode(string_agg(md5(random()::text), ''), 'hex') FROM generate_series(1, $2::int / 16)`
		}
		if _, err := tx.Exec(ctx, q, id, probeBytes); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM write_probe WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: check write: %w", Classify(err))
	}
	return nil
}
