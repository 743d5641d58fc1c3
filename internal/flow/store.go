package flow

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/foyer-id/foyer/internal/store"
)

// Store keeps flows and their codes.
type Store struct {
	db *store.DB
}

// NewStore returns a Store on db.
func NewStore(db *store.DB) *Store { return &Store{db: db} }

// Create inserts a new flow.
func (s *Store) Create(ctx context.Context, f *Flow) error {
	return s.create(ctx, s.db, f)
}

// CreateTx is Create inside tx.
func (s *Store) CreateTx(ctx context.Context, tx *store.Tx, f *Flow) error {
	return s.create(ctx, tx, f)
}

func (s *Store) create(ctx context.Context, db store.Execer, f *Flow) error {
	if f.ID == "" {
		f.ID = uuid.NewString() // random (v4): flow ids are handed out and must not be guessable
	}
	data, err := json.Marshal(f.Data)
	if err != nil {
		return fmt.Errorf("flow: create: %w", err)
	}
	f.Version = 1
	_, err = db.Exec(ctx, `INSERT INTO flows (id, domain, type, channel, state, binding, identity_id, return_to, data, version, created_at, updated_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)`,
		f.ID, f.Domain, f.Type, f.Channel, f.State, f.Binding, nullString(f.IdentityID), f.ReturnTo, string(data), f.Version,
		store.Micros(f.CreatedAt), store.Micros(f.ExpiresAt))
	if err != nil {
		return fmt.Errorf("flow: create: %w", err)
	}
	f.saved = f.State
	return nil
}

// bindTx binds, inside tx, the flow id that no browser was bound to (see
// mailFinishSignUp) to the browser binding; a bound flow stays as it is.
func (s *Store) bindTx(ctx context.Context, tx *store.Tx, id, binding string) error {
	_, err := tx.Exec(ctx, `UPDATE flows SET binding = $1 WHERE id = $2 AND binding = ''`, binding, id)
	if err != nil {
		return fmt.Errorf("flow: bind %s: %w", id, err)
	}
	return nil
}

// Get returns a flow by id, whatever its expiry (the caller decides).
func (s *Store) Get(ctx context.Context, id string) (*Flow, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, ErrNotFound
	}
	var (
		f                         Flow
		identityID                sql.NullString
		data                      string
		created, updated, expires int64
	)
	err := s.db.QueryRow(ctx, `SELECT id, domain, type, channel, state, binding, identity_id, return_to, data, version, created_at, updated_at, expires_at
		FROM flows WHERE id = $1`, id).
		Scan(&f.ID, &f.Domain, &f.Type, &f.Channel, &f.State, &f.Binding, &identityID, &f.ReturnTo, &data, &f.Version, &created, &updated, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("flow: get %s: %w", id, err)
	}
	if err := json.Unmarshal([]byte(data), &f.Data); err != nil {
		return nil, fmt.Errorf("flow: get %s: data: %w", id, err)
	}
	f.IdentityID = identityID.String
	f.CreatedAt, f.UpdatedAt, f.ExpiresAt = store.FromMicros(created), store.FromMicros(updated), store.FromMicros(expires)
	f.saved = f.State
	return &f, nil
}

// Update saves f if nobody else changed it since it was read (optimistic
// locking on Version); otherwise it returns ErrChanged.
func (s *Store) Update(ctx context.Context, f *Flow, now time.Time) error {
	return s.inTx(ctx, func(tx *store.Tx) error { return s.UpdateTx(ctx, tx, f, now) })
}

// UpdateTx is Update inside tx: if someone else changed f, tx fails with
// ErrChanged. On PostgreSQL the check happens when tx commits (see
// store.Tx.ExecOne), so f shows the new version from the call on, and a
// caller whose commit fails must not use f again.
func (s *Store) UpdateTx(ctx context.Context, tx *store.Tx, f *Flow, now time.Time) error {
	if err := f.checkMove(); err != nil {
		return err
	}
	data, err := json.Marshal(f.Data)
	if err != nil {
		return fmt.Errorf("flow: update: %w", err)
	}
	err = tx.ExecOne(ctx, fmt.Errorf("flow: update %s: %w", f.ID, ErrChanged),
		`UPDATE flows SET state = $1, identity_id = $2, data = $3, version = version + 1, updated_at = $4
		WHERE id = $5 AND version = $6`,
		f.State, nullString(f.IdentityID), string(data), store.Micros(now), f.ID, f.Version)
	if err != nil {
		return err
	}
	f.Version++
	f.UpdatedAt, f.saved = now, f.State
	return nil
}

// Finish saves f in a final state (done) whatever concurrent submits did
// to it meanwhile: the caller won the race for the flow's one-time code,
// so its outcome is the flow's outcome.
func (s *Store) Finish(ctx context.Context, f *Flow, now time.Time) error {
	return s.finish(ctx, s.db, f, now)
}

// FinishTx is Finish inside tx.
func (s *Store) FinishTx(ctx context.Context, tx *store.Tx, f *Flow, now time.Time) error {
	return s.finish(ctx, tx, f, now)
}

func (s *Store) finish(ctx context.Context, db store.Execer, f *Flow, now time.Time) error {
	if err := f.checkMove(); err != nil {
		return err
	}
	data, err := json.Marshal(f.Data)
	if err != nil {
		return fmt.Errorf("flow: finish: %w", err)
	}
	if _, err := db.Exec(ctx, `UPDATE flows SET state = $1, identity_id = $2, data = $3, version = version + 1, updated_at = $4 WHERE id = $5`,
		f.State, nullString(f.IdentityID), string(data), store.Micros(now), f.ID); err != nil {
		return fmt.Errorf("flow: finish %s: %w", f.ID, err)
	}
	f.Version++
	f.UpdatedAt, f.saved = now, f.State
	return nil
}

// checkMove refuses a save that moves f where its type does not go.
func (f *Flow) checkMove() error {
	if !canMove(f.Type, f.saved, f.State) {
		return fmt.Errorf("%w: %s from %q to %q", ErrTransition, f.Type, f.saved, f.State)
	}
	return nil
}

// Fail moves f to StateFailed only if it is still waiting for a code, so
// a losing concurrent submit never undoes a winner's outcome; otherwise
// it returns ErrWrongState.
func (s *Store) Fail(ctx context.Context, f *Flow, now time.Time) error {
	f.State = StateFailed
	if err := f.checkMove(); err != nil {
		return err
	}
	data, err := json.Marshal(f.Data)
	if err != nil {
		return fmt.Errorf("flow: fail: %w", err)
	}
	res, err := s.db.Exec(ctx, `UPDATE flows SET state = $1, data = $2, version = version + 1, updated_at = $3 WHERE id = $4 AND state = $5`,
		StateFailed, string(data), store.Micros(now), f.ID, StateVerify)
	if err != nil {
		return fmt.Errorf("flow: fail %s: %w", f.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("flow: fail %s: %w", f.ID, err)
	} else if n == 0 {
		// A parallel submit moved the flow on (a right code, say): it
		// is not failed, and this submit is too late for its step.
		return ErrWrongState
	}
	return nil
}

// lockMethods runs fn holding identityID's lock on changes to its sign-in
// methods, on every node.
func (s *Store) lockMethods(ctx context.Context, identityID string, fn func() error) error {
	return s.db.Lock(ctx, "foyer/methods/"+identityID, fn)
}

// Prune deletes flows that expired before cutoff (their codes go with
// them), in batches.
func (s *Store) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	n, err := s.db.DeleteInBatches(ctx, `DELETE FROM flows WHERE id IN
		(SELECT id FROM flows WHERE expires_at < $2 LIMIT $1)`, store.Micros(cutoff))
	if err != nil {
		return n, fmt.Errorf("flow: prune: %w", err)
	}
	return n, nil
}

// codeHash is the stored form of a code: HMAC-SHA256 over the flow id and
// the code, keyed with the server secret.
func codeHash(key []byte, flowID, code string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(flowID))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return hex.EncodeToString(m.Sum(nil))
}

// saveCode stores a new code for a flow in tx and, if replace is set,
// invalidates earlier ones. (checkCode only ever tries the newest live
// code; invalidating the others keeps the table honest.)
func (s *Store) saveCode(ctx context.Context, tx *store.Tx, flowID, purpose, hash string, replace bool, now, expires time.Time) error {
	if replace {
		if _, err := tx.Exec(ctx, `UPDATE codes SET used_at = $1 WHERE flow_id = $2 AND used_at IS NULL`, store.Micros(now), flowID); err != nil {
			return fmt.Errorf("flow: save code: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO codes (id, flow_id, purpose, code_hash, attempts, created_at, expires_at) VALUES ($1, $2, $3, $4, 0, $5, $6)`,
		uuid.NewString(), flowID, purpose, hash, store.Micros(now), store.Micros(expires)); err != nil {
		return fmt.Errorf("flow: save code: %w", err)
	}
	return nil
}

// endRecoveriesTx ends, inside tx, an identity's recoveries under way
// but except: their codes stop working and a proved one can no longer set
// a password. A recovery is one at a time: the newest code, or the one
// that completes, is the only way in.
func (s *Store) endRecoveriesTx(ctx context.Context, tx *store.Tx, identityID, except string, now time.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE codes SET used_at = $1 WHERE used_at IS NULL AND flow_id IN
		(SELECT id FROM flows WHERE identity_id = $2 AND type = 'recovery' AND id <> $3)`, store.Micros(now), identityID, except); err != nil {
		return fmt.Errorf("flow: end recoveries: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE flows SET state = $1, version = version + 1, updated_at = $2
		WHERE identity_id = $3 AND type = 'recovery' AND id <> $4 AND state IN ($5, $6)`,
		StateFailed, store.Micros(now), identityID, except, StateVerify, StatePassword); err != nil {
		return fmt.Errorf("flow: end recoveries: %w", err)
	}
	return nil
}

// reads returns an empty batch of reads (see store.Reads): the journeys
// gather the reads of a step that do not depend on each other.
func (s *Store) reads() *store.Reads { return s.db.Reads() }

// inTx runs fn in one write transaction.
func (s *Store) inTx(ctx context.Context, fn func(tx *store.Tx) error) error {
	return s.db.InTx(ctx, fn)
}

// inAsyncTx runs fn in one write transaction that a crash of the database
// may lose (store.DB.Async).
func (s *Store) inAsyncTx(ctx context.Context, fn func(tx *store.Tx) error) error {
	return s.db.Async().InTx(ctx, fn)
}

// CodeResult is the outcome of checking a code.
type CodeResult int

// Outcomes of checkCode.
const (
	CodeOK        CodeResult = iota + 1
	CodeWrong                // wrong code, attempts remain
	CodeExhausted            // no attempts left: the flow must restart
	CodeExpired              // the code expired: ask for a new one
	CodeMissing              // no live code for this flow
	CodeSpent                // the flow's latest code was used, by this or a parallel submit
)

// checkCode spends one attempt on the flow's live code and consumes it if
// it matches. It is atomic: of many parallel submissions of the right
// code exactly one gets CodeOK, and no more than maxAttempts are ever
// compared.
func (s *Store) checkCode(ctx context.Context, key []byte, flowID, code string, maxAttempts int, now time.Time) (res CodeResult, left int, err error) {
	var (
		id, hash string
		attempts int
		expires  int64
	)
	err = s.db.WriteRow(ctx, `UPDATE codes SET attempts = attempts + 1
		WHERE id = (SELECT id FROM codes WHERE flow_id = $1 AND used_at IS NULL ORDER BY created_at DESC LIMIT 1)
		  AND used_at IS NULL
		RETURNING id, code_hash, attempts, expires_at`, flowID).Scan(&id, &hash, &attempts, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		var spent int
		err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM codes WHERE flow_id = $1 AND used_at IS NOT NULL`, flowID).Scan(&spent)
		if err != nil {
			return 0, 0, fmt.Errorf("flow: check code: %w", err)
		}
		if spent > 0 {
			return CodeSpent, 0, nil
		}
		return CodeMissing, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("flow: check code: %w", err)
	}
	if attempts > maxAttempts {
		return CodeExhausted, 0, nil
	}
	if now.UnixMicro() >= expires {
		return CodeExpired, 0, nil
	}
	if !hmac.Equal([]byte(hash), []byte(codeHash(key, flowID, code))) {
		if attempts >= maxAttempts {
			return CodeExhausted, 0, nil
		}
		return CodeWrong, maxAttempts - attempts, nil
	}
	used, err := s.db.Exec(ctx, `UPDATE codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL`, store.Micros(now), id)
	if err != nil {
		return 0, 0, fmt.Errorf("flow: consume code: %w", err)
	}
	if n, _ := used.RowsAffected(); n != 1 {
		return CodeSpent, 0, nil
	}
	return CodeOK, 0, nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
