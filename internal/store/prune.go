package store

import "context"

// PruneBatch is how many rows one statement of DeleteInBatches removes.
const PruneBatch = 1000

// DeleteInBatches runs query — a DELETE whose subquery picks at most
// PruneBatch rows (LIMIT $1), its other arguments following — again and
// again until a run removes fewer, and returns how many rows went. Each
// run is its own short transaction: a large prune never holds the one
// writer of SQLite, or many row locks of PostgreSQL, for long. It stops
// early when ctx ends.
func (db *DB) DeleteInBatches(ctx context.Context, query string, args ...any) (int64, error) {
	args = append([]any{PruneBatch}, args...)
	var total int64
	for ctx.Err() == nil {
		res, err := db.Exec(ctx, query, args...)
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += n
		if n < PruneBatch {
			break
		}
	}
	return total, ctx.Err()
}
