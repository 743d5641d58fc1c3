package recovery

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/foyer-id/foyer/internal/store"
)

// Count is how many codes Generate issues.
const Count = 10

// MinServerSecret is the shortest server secret NewStore accepts, in bytes.
const MinServerSecret = 32

// hkdfInfo separates the code-hashing key from every other key Foyer
// derives from the server secret. Changing it invalidates every stored
// code.
const hkdfInfo = "foyer recovery codes v1"

// ErrInvalidCode means the code is malformed, unknown for the identity, or
// used already. The error does not say which.
var ErrInvalidCode = errors.New("recovery: invalid code")

// Store keeps each identity's recovery codes in the recovery_codes table,
// as keyed hashes only.
type Store struct {
	db  *store.DB
	key []byte
	now func() time.Time
}

// NewStore returns a Store on db. secret is the server secret (at least
// MinServerSecret bytes); now is the clock (time.Now when nil).
func NewStore(db *store.DB, secret []byte, now func() time.Time) (*Store, error) {
	if len(secret) < MinServerSecret {
		return nil, fmt.Errorf("recovery: server secret is %d bytes; it must be at least %d", len(secret), MinServerSecret)
	}
	key, err := hkdf.Key(sha256.New, secret, nil, hkdfInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("recovery: derive key: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, key: key, now: now}, nil
}

// Generate issues Count fresh codes for identityID, replacing every
// earlier code (used or not) in the same transaction, and returns them in
// display form ("7hk2m-x9q4d"). Only their hashes are stored: show the
// codes once.
func (s *Store) Generate(ctx context.Context, identityID string) ([]string, error) {
	codes := make([]string, 0, Count)
	hashes := make([]string, 0, Count)
	for len(codes) < Count {
		c := newCode()
		norm, _ := normalize(c)
		h := hash(s.key, identityID, norm)
		if slices.Contains(hashes, h) {
			continue
		}
		codes, hashes = append(codes, c), append(hashes, h)
	}
	now := store.Micros(s.now())
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE identity_id = $1`, identityID); err != nil {
			return err
		}
		for _, h := range hashes {
			if _, err := tx.Exec(ctx, `INSERT INTO recovery_codes (id, identity_id, code_hash, used_at, created_at)
				VALUES ($1, $2, $3, NULL, $4)`, uuid.Must(uuid.NewV7()).String(), identityID, h, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("recovery: generate %s: %w", identityID, err)
	}
	return codes, nil
}

// Use spends one code of identityID: the code is normalised (case,
// spaces, dashes, and i, l, o read as 1, 1, 0), and an unused code with the
// same hash is marked used in one conditional statement, so a code works
// exactly once even when submitted many times at once. Anything else is
// ErrInvalidCode.
//
// Use does not slow down guessing: callers must throttle failures.
func (s *Store) Use(ctx context.Context, identityID, code string) error {
	norm, ok := normalize(code)
	if !ok {
		return fmt.Errorf("recovery: use %s: %w", identityID, ErrInvalidCode)
	}
	res, err := s.db.Exec(ctx, `UPDATE recovery_codes SET used_at = $3
		WHERE identity_id = $1 AND code_hash = $2 AND used_at IS NULL`,
		identityID, hash(s.key, identityID, norm), store.Micros(s.now()))
	if err != nil {
		return fmt.Errorf("recovery: use %s: %w", identityID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("recovery: use %s: %w", identityID, err)
	} else if n == 0 {
		return fmt.Errorf("recovery: use %s: %w", identityID, ErrInvalidCode)
	}
	return nil
}

// Remaining returns how many unused codes identityID has; 0 when it has
// none.
func (s *Store) Remaining(ctx context.Context, identityID string) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE identity_id = $1 AND used_at IS NULL`,
		identityID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("recovery: remaining %s: %w", identityID, store.Classify(err))
	}
	return n, nil
}

// Delete removes every code of identityID. Having no codes is not an
// error.
func (s *Store) Delete(ctx context.Context, identityID string) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM recovery_codes WHERE identity_id = $1`, identityID); err != nil {
		return fmt.Errorf("recovery: delete %s: %w", identityID, err)
	}
	return nil
}
