package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/foyer-id/foyer/internal/store"
)

// InitialToken is an initial access token (RFC 7591, section 3): its
// holder may register clients while registration needs a token. Only a
// keyed hash of the token is stored; the token itself is shown once.
type InitialToken struct {
	ID     string `json:"id"`
	Domain string `json:"domain"`
	// Note says what the token is for, for the operator.
	Note string `json:"note"`
	// UsesLeft is how many more clients the token may register; Used how
	// many it did.
	UsesLeft   int       `json:"uses_left"`
	Used       int       `json:"used"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// Bounds of an initial access token.
const (
	DefaultInitialTokenTTL = 24 * time.Hour
	MaxInitialTokenTTL     = 365 * 24 * time.Hour
	MaxInitialTokenUses    = 1_000_000
	maxNoteLength          = 200
)

// ErrInvalidInitialToken means an initial access token is unknown,
// expired, revoked or used up; the cases are not told apart.
var ErrInvalidInitialToken = errors.New("client: invalid initial access token")

const initialTokenColumns = `id, domain, note, uses_left, used, created_at, expires_at, last_used_at`

// CreateInitialToken issues an initial access token of domain that
// registers up to uses clients within ttl, and returns it with the token,
// which is not stored and cannot be shown again.
func (r *Registry) CreateInitialToken(ctx context.Context, domain string, ttl time.Duration, uses int, note string) (*InitialToken, string, error) {
	switch {
	case domain == "":
		return nil, "", errors.New("client: create initial token: empty domain")
	case ttl < time.Minute || ttl > MaxInitialTokenTTL:
		return nil, "", invalid("expires", "must be between 1m and %s", MaxInitialTokenTTL)
	case uses < 1 || uses > MaxInitialTokenUses:
		return nil, "", invalid("uses", "must be between 1 and %d", MaxInitialTokenUses)
	case utf8.RuneCountInString(note) > maxNoteLength || strings.ContainsFunc(note, unicode.IsControl):
		return nil, "", invalid("note", "must be at most %d characters, without control characters", maxNoteLength)
	}
	now := r.stamp()
	t := &InitialToken{ID: newID(), Domain: domain, Note: note, UsesLeft: uses, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	token := newToken(InitialTokenPrefix)
	_, err := r.db.Exec(ctx, `INSERT INTO oauth_initial_tokens (`+initialTokenColumns+`, token_hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		t.ID, t.Domain, t.Note, t.UsesLeft, t.Used, store.Micros(t.CreatedAt), store.Micros(t.ExpiresAt), int64(0), hashSecret(r.tokenKey, token))
	if err != nil {
		return nil, "", fmt.Errorf("client: create initial token: %w", err)
	}
	return t, token, nil
}

// InitialTokens returns the initial access tokens of domain, oldest
// first, the expired and used-up ones too (until revoked).
func (r *Registry) InitialTokens(ctx context.Context, domain string) ([]*InitialToken, error) {
	rows, err := r.db.Query(ctx, `SELECT `+initialTokenColumns+` FROM oauth_initial_tokens WHERE domain = $1 ORDER BY created_at, id`, domain)
	if err != nil {
		return nil, fmt.Errorf("client: list initial tokens: %w", err)
	}
	defer rows.Close()
	out := []*InitialToken{}
	for rows.Next() {
		var t InitialToken
		var created, expires, last int64
		if err := rows.Scan(&t.ID, &t.Domain, &t.Note, &t.UsesLeft, &t.Used, &created, &expires, &last); err != nil {
			return nil, fmt.Errorf("client: list initial tokens: %w", store.Classify(err))
		}
		t.CreatedAt, t.ExpiresAt = store.FromMicros(created), store.FromMicros(expires)
		if last != 0 {
			t.LastUsedAt = store.FromMicros(last)
		}
		out = append(out, &t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("client: list initial tokens: %w", store.Classify(err))
	}
	return out, nil
}

// RevokeInitialToken deletes the initial access token id of domain: it
// registers nothing more (clients it registered stay). It returns
// store.ErrNotFound for an unknown id.
func (r *Registry) RevokeInitialToken(ctx context.Context, domain, id string) error {
	res, err := r.db.Exec(ctx, `DELETE FROM oauth_initial_tokens WHERE id = $1 AND domain = $2`, id, domain)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = store.ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("client: revoke initial token %s: %w", id, store.Classify(err))
	}
	return nil
}

// CheckInitialToken returns nil if token is a live initial access token
// of domain — known, not expired, not used up — and
// ErrInvalidInitialToken otherwise. It takes no use: Register does.
func (r *Registry) CheckInitialToken(ctx context.Context, domain, token string) error {
	if !strings.HasPrefix(token, InitialTokenPrefix) {
		return ErrInvalidInitialToken
	}
	var id string
	err := store.Classify(r.db.QueryRow(ctx, `SELECT id FROM oauth_initial_tokens
		WHERE token_hash = $1 AND domain = $2 AND uses_left > 0 AND expires_at > $3`,
		hashSecret(r.tokenKey, token), domain, store.Micros(r.now())).Scan(&id))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ErrInvalidInitialToken
	case err != nil:
		return fmt.Errorf("client: check initial token: %w", err)
	}
	return nil
}

// useInitialToken takes one use of a live initial access token of domain
// in tx, and returns its id; ErrInvalidInitialToken when there is none.
// Of concurrent uses of a token's last one, one wins: the others find it
// used up once the winner commits.
func (r *Registry) useInitialToken(ctx context.Context, tx *store.Tx, domain, token string) (string, error) {
	if !strings.HasPrefix(token, InitialTokenPrefix) {
		return "", ErrInvalidInitialToken
	}
	now := store.Micros(r.now())
	var id string
	err := store.Classify(tx.QueryRow(ctx, `UPDATE oauth_initial_tokens SET uses_left = uses_left - 1, used = used + 1, last_used_at = $1
		WHERE token_hash = $2 AND domain = $3 AND uses_left > 0 AND expires_at > $1 RETURNING id`,
		now, hashSecret(r.tokenKey, token), domain).Scan(&id))
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrInvalidInitialToken
	}
	return id, err
}

// PruneInitialTokens deletes the initial access tokens that expired
// before cutoff: listed a while after their end (InitialTokens), then
// gone.
func (r *Registry) PruneInitialTokens(ctx context.Context, cutoff time.Time) (int64, error) {
	n, err := r.db.DeleteInBatches(ctx, `DELETE FROM oauth_initial_tokens WHERE id IN
		(SELECT id FROM oauth_initial_tokens WHERE expires_at < $2 LIMIT $1)`, store.Micros(cutoff))
	if err != nil {
		return n, fmt.Errorf("client: prune initial tokens: %w", err)
	}
	return n, nil
}
