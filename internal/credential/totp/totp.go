package totp

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"image/png"
	"time"

	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/foyer-id/foyer/internal/store"
)

// MinServerSecret is the shortest server secret NewStore accepts, in bytes.
const MinServerSecret = 32

// QRSize is the width and height of Enrolment.QRPNG in pixels.
const QRSize = 256

// Errors returned by Store. Show customers one message for all of
// ErrInvalidCode (which ErrReplayed wraps); the distinction is for logs.
var (
	// ErrInvalidCode means the code is malformed or matches no time step
	// within Skew of now.
	ErrInvalidCode = errors.New("totp: invalid code")
	// ErrReplayed means the code is right but its time step is not later
	// than the last accepted one: it, or a later code, was used already.
	// errors.Is(ErrReplayed, ErrInvalidCode) is true.
	ErrReplayed = fmt.Errorf("%w: already used", ErrInvalidCode)
	// ErrNotEnrolled means the identity has no confirmed authenticator
	// (Verify, Remove) or no pending one (Confirm).
	ErrNotEnrolled = errors.New("totp: no authenticator enrolled")
	// ErrAlreadyEnrolled means the identity has a confirmed authenticator
	// already; Remove it before enrolling another.
	ErrAlreadyEnrolled = errors.New("totp: an authenticator is already enrolled; remove it first")
)

// Enrolment is what a customer needs to add a new authenticator to their
// app. Show it once; it is never available again.
type Enrolment struct {
	// Secret is the shared secret in unpadded base32, for manual entry.
	Secret string
	// URL is the otpauth:// key URI the QR code encodes.
	URL string
	// QRPNG is a QRSize×QRSize PNG image of URL.
	QRPNG []byte
}

// Store keeps one TOTP authenticator per identity in the totp_credentials
// table, its secret encrypted with a key derived from the server secret.
type Store struct {
	db   *store.DB
	seal *sealer
	now  func() time.Time
}

// NewStore returns a Store on db. secret is the server secret (at least
// MinServerSecret bytes); now is the clock (time.Now when nil).
func NewStore(db *store.DB, secret []byte, now func() time.Time) (*Store, error) {
	if len(secret) < MinServerSecret {
		return nil, fmt.Errorf("totp: server secret is %d bytes; it must be at least %d", len(secret), MinServerSecret)
	}
	s, err := newSealer(secret)
	if err != nil {
		return nil, fmt.Errorf("totp: derive key: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, seal: s, now: now}, nil
}

// Begin starts enrolling an authenticator for identityID: it generates a
// new secret and stores it, encrypted and unconfirmed, replacing any
// earlier unconfirmed one. issuer and accountName label the entry in the
// customer's app (for example "Acme" and the email address). If the
// identity has a confirmed authenticator Begin returns ErrAlreadyEnrolled
// and changes nothing.
func (s *Store) Begin(ctx context.Context, identityID, issuer, accountName string) (*Enrolment, error) {
	raw := make([]byte, SecretSize)
	_, _ = rand.Read(raw) // never fails; see crypto/rand
	defer clear(raw)
	e, err := enrolment(raw, issuer, accountName)
	if err != nil {
		return nil, fmt.Errorf("totp: begin %s: %w", identityID, err)
	}

	// One statement: insert, or replace an unconfirmed row; a confirmed
	// row is left alone and no row is affected.
	res, err := s.db.Exec(ctx, `INSERT INTO totp_credentials (identity_id, secret, confirmed_at, last_step, created_at)
		VALUES ($1, $2, NULL, 0, $3)
		ON CONFLICT (identity_id) DO UPDATE SET secret = excluded.secret, last_step = 0, created_at = excluded.created_at
		WHERE totp_credentials.confirmed_at IS NULL`,
		identityID, s.seal.seal(identityID, raw), store.Micros(s.now()))
	if err != nil {
		return nil, fmt.Errorf("totp: begin %s: %w", identityID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, fmt.Errorf("totp: begin %s: %w", identityID, err)
	} else if n == 0 {
		return nil, fmt.Errorf("totp: begin %s: %w", identityID, ErrAlreadyEnrolled)
	}
	return e, nil
}

// enrolment builds what the customer scans or types: the base32 secret,
// the otpauth:// URL and its QR code.
func enrolment(raw []byte, issuer, accountName string) (*Enrolment, error) {
	key, err := pqtotp.Generate(pqtotp.GenerateOpts{
		Issuer:      issuer,
		AccountName: accountName,
		Period:      uint(Period / time.Second),
		Secret:      raw,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return nil, err
	}
	img, err := key.Image(QRSize, QRSize)
	if err != nil {
		return nil, fmt.Errorf("QR code: %w", err)
	}
	var qr bytes.Buffer
	if err := png.Encode(&qr, img); err != nil {
		return nil, fmt.Errorf("QR code: %w", err)
	}
	return &Enrolment{Secret: key.Secret(), URL: key.String(), QRPNG: qr.Bytes()}, nil
}

// Pending returns the enrolment started by Begin and not yet confirmed,
// so the set-up page can show it again. It returns ErrNotEnrolled when
// none is pending and ErrAlreadyEnrolled once confirmed.
func (s *Store) Pending(ctx context.Context, identityID, issuer, accountName string) (*Enrolment, error) {
	c, err := s.load(ctx, identityID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotEnrolled
	}
	if err != nil {
		return nil, fmt.Errorf("totp: pending %s: %w", identityID, err)
	}
	if c.confirmed {
		return nil, ErrAlreadyEnrolled
	}
	raw, err := s.seal.open(identityID, c.sealed)
	if err != nil {
		return nil, err
	}
	defer clear(raw)
	e, err := enrolment(raw, issuer, accountName)
	if err != nil {
		return nil, fmt.Errorf("totp: pending %s: %w", identityID, err)
	}
	return e, nil
}

// Confirm completes an enrolment: code must be valid for the pending
// secret within Skew steps of now. The authenticator is then confirmed
// and the code's step recorded, so the same code cannot also pass Verify.
// It returns ErrNotEnrolled without a pending enrolment,
// ErrAlreadyEnrolled when the authenticator is confirmed already, and
// ErrInvalidCode for a wrong code.
func (s *Store) Confirm(ctx context.Context, identityID, code string) error {
	row, err := s.load(ctx, identityID)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("totp: confirm %s: %w", identityID, ErrNotEnrolled)
	} else if err != nil {
		return fmt.Errorf("totp: confirm %s: %w", identityID, err)
	}
	if row.confirmed {
		return fmt.Errorf("totp: confirm %s: %w", identityID, ErrAlreadyEnrolled)
	}
	st, err := s.check(identityID, row, code)
	if err != nil {
		return fmt.Errorf("totp: confirm %s: %w", identityID, err)
	}
	// The secret in the WHERE clause makes sure the row still holds the
	// secret the code was checked against (no Begin in between).
	res, err := s.db.Exec(ctx, `UPDATE totp_credentials SET confirmed_at = $2, last_step = $3
		WHERE identity_id = $1 AND confirmed_at IS NULL AND secret = $4`,
		identityID, store.Micros(s.now()), st, row.sealed)
	if err != nil {
		return fmt.Errorf("totp: confirm %s: %w", identityID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("totp: confirm %s: %w", identityID, err)
	} else if n == 0 {
		// Confirmed by a concurrent request with this code, or replaced.
		return fmt.Errorf("totp: confirm %s: %w", identityID, ErrReplayed)
	}
	return nil
}

// Verify checks a code from the identity's confirmed authenticator. It
// accepts a code within Skew steps of now only if its step is later than
// the last accepted one, and records that step in the same statement, so a
// code is accepted at most once even when submitted many times at once,
// and an older code is refused after a newer one. It returns
// ErrNotEnrolled, ErrInvalidCode or ErrReplayed; ErrDecrypt means the
// server secret changed.
//
// Verify does not slow down guessing: callers must throttle failures (a
// 6-digit code with three accepted steps falls to about 333,000 guesses).
func (s *Store) Verify(ctx context.Context, identityID, code string) error {
	row, err := s.load(ctx, identityID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !row.confirmed {
		return fmt.Errorf("totp: verify %s: %w", identityID, ErrNotEnrolled)
	} else if err != nil {
		return fmt.Errorf("totp: verify %s: %w", identityID, err)
	}
	st, err := s.check(identityID, row, code)
	if err != nil {
		return fmt.Errorf("totp: verify %s: %w", identityID, err)
	}
	if st <= row.lastStep {
		return fmt.Errorf("totp: verify %s: %w", identityID, ErrReplayed)
	}
	res, err := s.db.Exec(ctx, `UPDATE totp_credentials SET last_step = $2
		WHERE identity_id = $1 AND last_step < $2 AND confirmed_at IS NOT NULL AND secret = $3`,
		identityID, st, row.sealed)
	if err != nil {
		return fmt.Errorf("totp: verify %s: %w", identityID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("totp: verify %s: %w", identityID, err)
	} else if n == 0 {
		// Another request accepted this step (or a later one) first, or
		// the authenticator was removed meanwhile.
		return fmt.Errorf("totp: verify %s: %w", identityID, ErrReplayed)
	}
	return nil
}

// Enrolled reports whether the identity has a confirmed authenticator. A
// pending enrolment does not count.
func (s *Store) Enrolled(ctx context.Context, identityID string) (bool, error) {
	var ok bool
	r := s.db.Reads()
	s.EnrolledIn(r, identityID, &ok)
	if err := r.Run(ctx); err != nil {
		return false, fmt.Errorf("totp: enrolled %s: %w", identityID, err)
	}
	return ok, nil
}

// ConfirmedAt returns when the identity's authenticator app was set up
// (confirmed), zero for none.
func (s *Store) ConfirmedAt(ctx context.Context, identityID string) (time.Time, error) {
	var at sql.NullInt64
	err := s.db.QueryRow(ctx, `SELECT confirmed_at FROM totp_credentials WHERE identity_id = $1`, identityID).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("totp: confirmed at %s: %w", identityID, err)
	}
	return store.FromNullMicros(at), nil
}

// EnrolledIn adds Enrolled to r: once r runs, *out is the answer.
func (s *Store) EnrolledIn(r *store.Reads, identityID string, out *bool) {
	r.Query(scanConfirmed(out), `SELECT confirmed_at FROM totp_credentials WHERE identity_id = $1`, identityID)
}

// scanConfirmed reads an authenticator's confirmed_at, if there is one,
// into whether it is enrolled: a pending one is not.
func scanConfirmed(out *bool) func(store.Rows) error {
	return func(rows store.Rows) error {
		var confirmed sql.NullInt64
		if rows.Next() {
			if err := rows.Scan(&confirmed); err != nil {
				return err
			}
		}
		*out = confirmed.Valid
		return nil
	}
}

// Remove deletes the identity's authenticator, confirmed or pending. It
// returns ErrNotEnrolled when there is none.
func (s *Store) Remove(ctx context.Context, identityID string) error {
	res, err := s.db.Exec(ctx, `DELETE FROM totp_credentials WHERE identity_id = $1`, identityID)
	if err != nil {
		return fmt.Errorf("totp: remove %s: %w", identityID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("totp: remove %s: %w", identityID, err)
	} else if n == 0 {
		return fmt.Errorf("totp: remove %s: %w", identityID, ErrNotEnrolled)
	}
	return nil
}

// credential is a totp_credentials row as Confirm and Verify need it.
type credential struct {
	sealed    string
	confirmed bool
	lastStep  int64
}

func (s *Store) load(ctx context.Context, identityID string) (credential, error) {
	var c credential
	var confirmed sql.NullInt64
	err := s.db.QueryRow(ctx, `SELECT secret, confirmed_at, last_step FROM totp_credentials WHERE identity_id = $1`,
		identityID).Scan(&c.sealed, &confirmed, &c.lastStep)
	c.confirmed = confirmed.Valid
	return c, store.Classify(err)
}

// check decrypts the row's secret and returns the step code matches.
func (s *Store) check(identityID string, c credential, code string) (int64, error) {
	digits, ok := normalize(code)
	if !ok {
		return 0, ErrInvalidCode
	}
	key, err := s.seal.open(identityID, c.sealed)
	if err != nil {
		return 0, err
	}
	defer clear(key)
	st, ok := match(key, digits, s.now())
	if !ok {
		return 0, ErrInvalidCode
	}
	return st, nil
}
