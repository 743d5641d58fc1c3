package identity

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/foyer-id/foyer/internal/store"
)

// Store keeps identities, identifiers and credentials in the database.
type Store struct {
	db *store.DB
}

// NewStore returns a Store on db.
func NewStore(db *store.DB) *Store { return &Store{db: db} }

// NewID returns a new, time-ordered identifier for a row.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// CreatePending inserts a pending identity with its identifiers. If one of
// the identifiers already belongs to an identity in the domain it returns
// ErrConflict and inserts nothing.
func (s *Store) CreatePending(ctx context.Context, id *Identity, now time.Time) error {
	err := s.db.InTx(ctx, func(tx *store.Tx) error { return s.CreatePendingTx(ctx, tx, id, now) })
	if err != nil {
		return fmt.Errorf("identity: create: %w", err)
	}
	return nil
}

// CreatePendingTx is CreatePending inside tx. On PostgreSQL a taken
// identifier shows when tx commits (see store.Tx).
func (s *Store) CreatePendingTx(ctx context.Context, tx *store.Tx, id *Identity, now time.Time) error {
	return s.create(ctx, tx, id, StatePending, "", now)
}

// CreateActiveTx inserts a new identity that is active at once, with its
// identifiers (none verified) and its password hash (if not empty), inside
// tx: a sign-up that needs no proof of its address. A taken identifier
// fails tx with store.ErrConflict.
func (s *Store) CreateActiveTx(ctx context.Context, tx *store.Tx, id *Identity, passwordHash string, now time.Time) error {
	return s.create(ctx, tx, id, StateActive, passwordHash, now)
}

func (s *Store) create(ctx context.Context, tx *store.Tx, id *Identity, state, passwordHash string, now time.Time) error {
	if id.ID == "" {
		id.ID = NewID()
	}
	id.State = state
	id.CreatedAt, id.UpdatedAt = now, now
	if _, err := tx.Exec(ctx, `INSERT INTO identities (id, domain, state, schema_id, traits, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6)`,
		id.ID, id.Domain, id.State, id.SchemaID, string(id.Traits), store.Micros(now)); err != nil {
		return fmt.Errorf("identity: create: %w", err)
	}
	for i := range id.Identifiers {
		ident := &id.Identifiers[i]
		if ident.ID == "" {
			ident.ID = NewID()
		}
		if _, err := tx.Exec(ctx, `INSERT INTO identifiers (id, domain, identity_id, kind, value, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			ident.ID, id.Domain, id.ID, ident.Kind, ident.Value, store.Micros(now)); err != nil {
			return fmt.Errorf("identity: create: %w", err)
		}
	}
	if passwordHash != "" {
		if _, err := tx.Exec(ctx, `INSERT INTO credentials (id, identity_id, type, secret, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)`,
			NewID(), id.ID, CredentialPassword, passwordHash, store.Micros(now)); err != nil {
			return fmt.Errorf("identity: create: %w", err)
		}
	}
	return nil
}

const identityColumns = `i.id, i.domain, i.state, i.schema_id, i.traits, i.created_at, i.updated_at, i.methods_changed_at,
	i.recovered_at, i.restricted_until, i.protected_at, i.email_changed_at, i.phone_changed_at`

// Get returns the identity with its identifiers, in one query (it runs
// on every sign-in and token request).
func (s *Store) Get(ctx context.Context, domain, id string) (*Identity, error) {
	var ident *Identity
	r := s.db.Reads()
	s.GetIn(r, domain, id, &ident)
	if err := r.Run(ctx); err != nil {
		return nil, fmt.Errorf("identity: get %s: %w", id, err)
	}
	return ident, nil
}

// GetIn adds Get to r: once r runs, *out is the identity, or r's error
// wraps ErrNotFound.
func (s *Store) GetIn(r *store.Reads, domain, id string, out **Identity) {
	r.Query(func(rows store.Rows) error {
		ident, err := scanWithIdentifiers(rows)
		if err != nil {
			return err
		}
		if ident == nil {
			return fmt.Errorf("identity %s: %w", id, store.ErrNotFound)
		}
		*out = ident
		return nil
	}, `SELECT `+identityColumns+`, x.id, x.kind, x.value, x.verified_at
		FROM identities i LEFT JOIN identifiers x ON x.identity_id = i.id
		WHERE i.id = $1 AND i.domain = $2`, id, domain)
}

// scanWithIdentifiers reads an identity joined with its identifiers, a
// row each; nil when there are no rows. Columns after the identifier's,
// the same on every row, go to extra.
func scanWithIdentifiers(rows store.Rows, extra ...any) (*Identity, error) {
	var ident *Identity
	for rows.Next() {
		var (
			row              Identity
			traits           string
			created, updated int64
			methods          int64
			recovered, until int64
			protected, email int64
			phoneChanged     int64
			xID, kind, value sql.NullString
			verified         sql.NullInt64
		)
		dest := append([]any{&row.ID, &row.Domain, &row.State, &row.SchemaID, &traits, &created, &updated, &methods, &recovered, &until, &protected, &email, &phoneChanged, &xID, &kind, &value, &verified}, extra...)
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		if ident == nil {
			row.Traits = json.RawMessage(traits)
			row.CreatedAt, row.UpdatedAt = store.FromMicros(created), store.FromMicros(updated)
			if methods != 0 {
				row.MethodsChangedAt = store.FromMicros(methods)
			}
			if recovered != 0 {
				row.RecoveredAt, row.RestrictedUntil = store.FromMicros(recovered), store.FromMicros(until)
			}
			if protected != 0 {
				row.ProtectedAt = store.FromMicros(protected)
			}
			if email != 0 {
				row.EmailChangedAt = store.FromMicros(email)
			}
			if phoneChanged != 0 {
				row.PhoneChangedAt = store.FromMicros(phoneChanged)
			}
			row.Identifiers = []Identifier{}
			ident = &row
		}
		if xID.Valid {
			ident.Identifiers = append(ident.Identifiers, Identifier{ID: xID.String, Kind: kind.String, Value: value.String,
				Verified: verified.Valid, VerifiedAt: store.FromNullMicros(verified)})
		}
	}
	if ident != nil {
		// Ordered here, not by SQL, which would sort on every call.
		slices.SortFunc(ident.Identifiers, func(a, b Identifier) int {
			return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Value, b.Value))
		})
	}
	return ident, nil
}

// FindByIdentifier returns the identity owning a normalised identifier in a
// domain, whatever its state, with all its identifiers, in one query.
func (s *Store) FindByIdentifier(ctx context.Context, domain, kind, value string) (*Identity, error) {
	var ident *Identity
	r := s.db.Reads()
	s.FindByIdentifierIn(r, domain, kind, value, &ident)
	err := r.Run(ctx)
	if err == nil && ident == nil {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("identity: find %s: %w", kind, err)
	}
	return ident, nil
}

// FindByIdentifierIn adds FindByIdentifier to r: once r runs, *out is the
// owner, or nil when the identifier is free (not an error here, so that
// the reads added with it still arrive).
func (s *Store) FindByIdentifierIn(r *store.Reads, domain, kind, value string, out **Identity) {
	r.Query(func(rows store.Rows) error {
		var err error
		*out, err = scanWithIdentifiers(rows)
		return err
	}, `SELECT `+identityColumns+`, y.id, y.kind, y.value, y.verified_at
		FROM identifiers x JOIN identities i ON i.id = x.identity_id
		LEFT JOIN identifiers y ON y.identity_id = i.id
		WHERE x.domain = $1 AND x.kind = $2 AND x.value = $3`, domain, kind, value)
}

// ErrNotPending is returned by CompleteSignUp when the identity is no
// longer pending: another sign-up for it finished first.
var ErrNotPending = errors.New("identity: sign-up already completed")

// CompleteSignUp turns a pending identity active in one transaction: it
// marks the identifier verified (if verifiedID is not empty), stores the
// password hash and the traits given at sign-up. It returns ErrNotPending
// if the identity is not pending any more.
func (s *Store) CompleteSignUp(ctx context.Context, identityID, verifiedID string, traits json.RawMessage, passwordHash string, now time.Time) error {
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		return s.CompleteSignUpTx(ctx, tx, identityID, verifiedID, traits, passwordHash, now)
	})
	if err != nil {
		return fmt.Errorf("identity: complete sign-up %s: %w", identityID, err)
	}
	return nil
}

// CompleteSignUpTx is CompleteSignUp inside tx, with the step's other
// writes: should the identity not be pending any more, tx fails with
// ErrNotPending (on PostgreSQL when it commits; its statements travel
// together, see store.Tx.ExecOne).
func (s *Store) CompleteSignUpTx(ctx context.Context, tx *store.Tx, identityID, verifiedID string, traits json.RawMessage, passwordHash string, now time.Time) error {
	if err := tx.ExecOne(ctx, ErrNotPending, `UPDATE identities SET state = $1, traits = $2, updated_at = $3 WHERE id = $4 AND state = $5`,
		StateActive, string(traits), store.Micros(now), identityID, StatePending); err != nil {
		return err
	}
	if verifiedID != "" {
		if err := s.MarkVerifiedTx(ctx, tx, identityID, verifiedID, now); err != nil {
			return err
		}
	}
	if passwordHash == "" {
		return nil
	}
	// A pending identity has no password yet (sign-up keeps it in the
	// flow), but a retried step must not fail on one.
	_, err := tx.Exec(ctx, `INSERT INTO credentials (id, identity_id, type, secret, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
		ON CONFLICT (identity_id) WHERE type = 'password' DO UPDATE SET secret = excluded.secret, updated_at = excluded.updated_at`,
		NewID(), identityID, CredentialPassword, passwordHash, store.Micros(now))
	return err
}

// MarkVerifiedTx records, inside tx, that the owner of an identity proved
// control of one of its identifiers.
func (s *Store) MarkVerifiedTx(ctx context.Context, tx *store.Tx, identityID, identifierID string, now time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE identifiers SET verified_at = $1 WHERE id = $2 AND identity_id = $3 AND verified_at IS NULL`,
		store.Micros(now), identifierID, identityID)
	if err != nil {
		return fmt.Errorf("identity: verify %s: %w", identifierID, err)
	}
	return nil
}

// HasPassword reports whether the identity has a password.
func (s *Store) HasPassword(ctx context.Context, identityID string) (bool, error) {
	var n int
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM credentials WHERE identity_id = $1 AND type = $2`,
		identityID, CredentialPassword).Scan(&n); err != nil {
		return false, fmt.Errorf("identity: has password %s: %w", identityID, err)
	}
	return n > 0, nil
}

func setCredential(ctx context.Context, tx *store.Tx, identityID, typ, secret string, now time.Time) error {
	res, err := tx.Exec(ctx, `UPDATE credentials SET secret = $1, updated_at = $2 WHERE identity_id = $3 AND type = $4`,
		secret, store.Micros(now), identityID, typ)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	_, err = tx.Exec(ctx, `INSERT INTO credentials (id, identity_id, type, secret, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)`,
		NewID(), identityID, typ, secret, store.Micros(now))
	return err
}

// MethodsChanged records that identityID changed how it signs in at now.
func (s *Store) MethodsChanged(ctx context.Context, identityID string, now time.Time) error {
	return s.methodsChanged(ctx, s.db, identityID, now)
}

// MethodsChangedTx is MethodsChanged inside tx.
func (s *Store) MethodsChangedTx(ctx context.Context, tx *store.Tx, identityID string, now time.Time) error {
	return s.methodsChanged(ctx, tx, identityID, now)
}

func (s *Store) methodsChanged(ctx context.Context, db store.Execer, identityID string, now time.Time) error {
	if _, err := db.Exec(ctx, `UPDATE identities SET methods_changed_at = $1 WHERE id = $2`, store.Micros(now), identityID); err != nil {
		return fmt.Errorf("identity: methods changed %s: %w", identityID, err)
	}
	return nil
}

// SetPassword replaces (or adds) the identity's password hash.
func (s *Store) SetPassword(ctx context.Context, identityID, hash string, now time.Time) error {
	return s.db.InTx(ctx, func(tx *store.Tx) error { return s.SetPasswordTx(ctx, tx, identityID, hash, now) })
}

// SetPasswordTx is SetPassword inside tx; it is a change of how the
// identity signs in (MethodsChanged).
func (s *Store) SetPasswordTx(ctx context.Context, tx *store.Tx, identityID, hash string, now time.Time) error {
	if err := setCredential(ctx, tx, identityID, CredentialPassword, hash, now); err != nil {
		return fmt.Errorf("identity: set password %s: %w", identityID, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE identities SET methods_changed_at = $1, updated_at = $1 WHERE id = $2`, store.Micros(now), identityID); err != nil {
		return fmt.Errorf("identity: set password %s: %w", identityID, err)
	}
	return nil
}

// PasswordHash returns the identity's password hash, "" for none.
func (s *Store) PasswordHash(ctx context.Context, identityID string) (string, error) {
	var hash string
	err := s.db.QueryRow(ctx, `SELECT secret FROM credentials WHERE identity_id = $1 AND type = $2`, identityID, CredentialPassword).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("identity: password of %s: %w", identityID, err)
	}
	return hash, nil
}

// SetTraits replaces the traits of an active identity (validated by the
// caller; its identifiers unchanged).
func (s *Store) SetTraits(ctx context.Context, identityID string, traits json.RawMessage, now time.Time) error {
	if _, err := s.db.Exec(ctx, `UPDATE identities SET traits = $1, updated_at = $2 WHERE id = $3 AND state = 'active'`,
		string(traits), store.Micros(now), identityID); err != nil {
		return fmt.Errorf("identity: set traits %s: %w", identityID, err)
	}
	return nil
}

// RecoverTx sets the password of an identity recovered at now, inside tx,
// and restricts it until the end of its cool-off (Identity.Restricted).
func (s *Store) RecoverTx(ctx context.Context, tx *store.Tx, identityID, hash string, now, until time.Time) error {
	if err := s.SetPasswordTx(ctx, tx, identityID, hash, now); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE identities SET recovered_at = $1, restricted_until = $2 WHERE id = $3`,
		store.Micros(now), store.Micros(until), identityID); err != nil {
		return fmt.Errorf("identity: recover %s: %w", identityID, err)
	}
	return nil
}

// ChangeEmailTx makes email, proved by its owner, the address of an
// identity inside tx: its email identifier takes the new value, verified
// at now, and traits (with the new address) replace the old ones; a
// change (not an undo) is noted (Identity.EmailChangedAt). It fails with
// store.ErrConflict when another identity has the address.
func (s *Store) ChangeEmailTx(ctx context.Context, tx *store.Tx, identityID, email string, traits json.RawMessage, now time.Time, change bool) error {
	if _, err := tx.Exec(ctx, `UPDATE identifiers SET value = $1, verified_at = $2 WHERE identity_id = $3 AND kind = $4`,
		email, store.Micros(now), identityID, KindEmail); err != nil {
		return fmt.Errorf("identity: change email of %s: %w", identityID, store.Classify(err))
	}
	changedAt := int64(0)
	if change {
		changedAt = store.Micros(now)
	}
	if _, err := tx.Exec(ctx, `UPDATE identities SET traits = $1, updated_at = $2, email_changed_at = $3 WHERE id = $4`,
		string(traits), store.Micros(now), changedAt, identityID); err != nil {
		return fmt.Errorf("identity: change email of %s: %w", identityID, err)
	}
	return nil
}

// SetPhoneTx makes phone, proved by a code to it, the identity's phone
// number inside tx (verified at now; "" removes it), with traits holding
// it. It fails with store.ErrConflict when another identity has the
// number.
func (s *Store) SetPhoneTx(ctx context.Context, tx *store.Tx, domain, identityID, phone string, traits json.RawMessage, now time.Time) error {
	var err error
	if phone == "" {
		_, err = tx.Exec(ctx, `DELETE FROM identifiers WHERE identity_id = $1 AND kind = $2`, identityID, KindPhone)
	} else {
		var res sql.Result
		res, err = tx.Exec(ctx, `UPDATE identifiers SET value = $1, verified_at = $2 WHERE identity_id = $3 AND kind = $4`,
			phone, store.Micros(now), identityID, KindPhone)
		if n, _ := rowsOf(res); err == nil && n == 0 {
			_, err = tx.Exec(ctx, `INSERT INTO identifiers (id, domain, identity_id, kind, value, verified_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $6)`,
				NewID(), domain, identityID, KindPhone, phone, store.Micros(now))
		}
	}
	if err != nil {
		return fmt.Errorf("identity: set phone of %s: %w", identityID, store.Classify(err))
	}
	if _, err := tx.Exec(ctx, `UPDATE identities SET traits = $1, updated_at = $2, phone_changed_at = $2 WHERE id = $3`, string(traits), store.Micros(now), identityID); err != nil {
		return fmt.Errorf("identity: set phone of %s: %w", identityID, err)
	}
	return nil
}

func rowsOf(res sql.Result) (int64, error) {
	if res == nil {
		return 0, nil
	}
	return res.RowsAffected()
}

// DeletePendingTx deletes, inside tx, an unfinished sign-up (with its
// identifiers): its address is taken back by its owner.
func (s *Store) DeletePendingTx(ctx context.Context, tx *store.Tx, identityID string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM identities WHERE id = $1 AND state = 'pending'`, identityID); err != nil {
		return fmt.Errorf("identity: delete pending %s: %w", identityID, err)
	}
	return nil
}

// UnverifyEmailTx marks, inside tx, an identity's address as not
// verified: no code to it signs in or recovers the account.
func (s *Store) UnverifyEmailTx(ctx context.Context, tx *store.Tx, identityID string) error {
	if _, err := tx.Exec(ctx, `UPDATE identifiers SET verified_at = NULL WHERE identity_id = $1 AND kind = $2`, identityID, KindEmail); err != nil {
		return fmt.Errorf("identity: unverify %s: %w", identityID, err)
	}
	return nil
}

// ProtectTx puts an identity in the protected state inside tx (see
// Identity.ProtectedAt), and ends its cool-off after a recovery: the owner
// is the one acting.
func (s *Store) ProtectTx(ctx context.Context, tx *store.Tx, identityID string, now time.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE identities SET protected_at = $1, restricted_until = 0 WHERE id = $2`, store.Micros(now), identityID); err != nil {
		return fmt.Errorf("identity: protect %s: %w", identityID, err)
	}
	return nil
}

// UnprotectTx lifts the protected state inside tx: a sign-in passed with
// the owner's own channel.
func (s *Store) UnprotectTx(ctx context.Context, tx *store.Tx, identityID string) error {
	if _, err := tx.Exec(ctx, `UPDATE identities SET protected_at = 0 WHERE id = $1 AND protected_at <> 0`, identityID); err != nil {
		return fmt.Errorf("identity: unprotect %s: %w", identityID, err)
	}
	return nil
}

// PasswordHashTx is PasswordHash inside tx.
func (s *Store) PasswordHashTx(ctx context.Context, tx *store.Tx, identityID string) (string, error) {
	var hash string
	err := tx.QueryRow(ctx, `SELECT secret FROM credentials WHERE identity_id = $1 AND type = $2`, identityID, CredentialPassword).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("identity: password of %s: %w", identityID, err)
	}
	return hash, nil
}

// RestorePasswordTx puts back, inside tx, a password hash a change
// replaced ("" removes the password the change added).
func (s *Store) RestorePasswordTx(ctx context.Context, tx *store.Tx, identityID, hash string, now time.Time) error {
	if hash == "" {
		_, err := tx.Exec(ctx, `DELETE FROM credentials WHERE identity_id = $1 AND type = $2`, identityID, CredentialPassword)
		return err
	}
	return setCredential(ctx, tx, identityID, CredentialPassword, hash, now)
}

// Release ends, at an operator's word, an identity's protected state and
// its cool-off after a recovery; false when the domain has no such
// identity.
func (s *Store) Release(ctx context.Context, domain, identityID string) (bool, error) {
	res, err := s.db.Exec(ctx, `UPDATE identities SET protected_at = 0, restricted_until = 0 WHERE id = $1 AND domain = $2`, identityID, domain)
	if err != nil {
		return false, fmt.Errorf("identity: release %s: %w", identityID, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// Unrestrict ends an identity's cool-off after a recovery early: the
// customer presented a factor enrolled before it.
func (s *Store) Unrestrict(ctx context.Context, identityID string) error {
	return s.db.InTx(ctx, func(tx *store.Tx) error { return s.UnrestrictTx(ctx, tx, identityID) })
}

// UnrestrictTx is Unrestrict inside tx.
func (s *Store) UnrestrictTx(ctx context.Context, tx *store.Tx, identityID string) error {
	if _, err := tx.Exec(ctx, `UPDATE identities SET restricted_until = 0 WHERE id = $1 AND restricted_until <> 0`, identityID); err != nil {
		return fmt.Errorf("identity: unrestrict %s: %w", identityID, err)
	}
	return nil
}

// LoginCandidate is what sign-in needs about the owner of an identifier.
type LoginCandidate struct {
	Identity     *Identity  // with all its identifiers
	Identifier   Identifier // the one signed in with
	PasswordHash string     // empty when the identity has no password
}

// FindLoginIn adds to r the look-up of the identity owning an identifier,
// with its identifiers and password hash, in one query: once r runs, *out
// is the candidate, or nil for an unknown identifier (not an error here, so
// that the reads added with it still arrive).
func (s *Store) FindLoginIn(r *store.Reads, domain, kind, value string, out **LoginCandidate) {
	r.Query(func(rows store.Rows) error {
		var hash sql.NullString
		ident, err := scanWithIdentifiers(rows, &hash)
		if err != nil || ident == nil {
			return err
		}
		c := &LoginCandidate{Identity: ident, PasswordHash: hash.String}
		for _, x := range ident.Identifiers {
			if x.Kind == kind && x.Value == value {
				c.Identifier = x
			}
		}
		*out = c
		return nil
	}, `SELECT `+identityColumns+`, y.id, y.kind, y.value, y.verified_at, c.secret
		FROM identifiers x JOIN identities i ON i.id = x.identity_id
		LEFT JOIN identifiers y ON y.identity_id = i.id
		LEFT JOIN credentials c ON c.identity_id = i.id AND c.type = 'password'
		WHERE x.domain = $1 AND x.kind = $2 AND x.value = $3`, domain, kind, value)
}

// Count returns the number of identities in a domain, by state.
func (s *Store) Count(ctx context.Context, domain, state string) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM identities WHERE domain = $1 AND state = $2`, domain, state).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("identity: count: %w", err)
	}
	return n, nil
}

// KeepPendingTx marks the unfinished sign-up id as in use again at now,
// inside tx: a new sign-up of its address shares it (see PrunePending).
func (s *Store) KeepPendingTx(ctx context.Context, tx *store.Tx, id string, now time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE identities SET updated_at = $2 WHERE id = $1 AND state = 'pending'`, id, store.Micros(now))
	return err
}

// PrunePending deletes the sign-ups last used (created, or shared by a new
// sign-up of the address: KeepPendingTx) before cutoff whose code was
// never entered, with their identifiers and credentials: their addresses
// are free again. Keep cutoff well before the start of any live flow
// (config: retention.pending_identities ≥ 2 × flow_lifetime).
func (s *Store) PrunePending(ctx context.Context, cutoff time.Time) (int64, error) {
	n, err := s.db.DeleteInBatches(ctx, `DELETE FROM identities WHERE id IN
		(SELECT id FROM identities WHERE state = 'pending' AND updated_at < $2 LIMIT $1)`, store.Micros(cutoff))
	if err != nil {
		return n, fmt.Errorf("identity: prune pending: %w", err)
	}
	return n, nil
}
