package identity

import (
	"context"
	"fmt"
	"time"

	"github.com/foyer-id/foyer/internal/store"
)

// Link ties an account at an upstream identity provider (its stable
// subject) to an identity: signing in with that account signs in to the
// identity. Email is the address the provider gave when the link was made,
// shown to the customer to tell their accounts apart.
type Link struct {
	Domain     string
	Provider   string
	Subject    string
	IdentityID string
	Email      string
	LinkedAt   time.Time
	LastUsedAt time.Time
}

// Links keeps the identities' links to upstream providers.
type Links struct {
	db *store.DB
}

// NewLinks returns Links on db.
func NewLinks(db *store.DB) *Links { return &Links{db: db} }

const linkColumns = `domain, provider, subject, identity_id, email, linked_at, last_used_at`

func scanLinks(out *[]Link) func(store.Rows) error {
	*out = nil
	return func(rows store.Rows) error {
		for rows.Next() {
			var (
				l            Link
				linked, used int64
			)
			if err := rows.Scan(&l.Domain, &l.Provider, &l.Subject, &l.IdentityID, &l.Email, &linked, &used); err != nil {
				return fmt.Errorf("identity: links: %w", err)
			}
			l.LinkedAt, l.LastUsedAt = store.FromMicros(linked), store.FromMicros(used)
			*out = append(*out, l)
		}
		return rows.Err()
	}
}

// FindLinkIn adds to r the read of the link of a provider's subject: once
// r runs, *out holds its links (none or one).
func (s *Links) FindLinkIn(r *store.Reads, domain, provider, subject string, out *[]Link) {
	r.Query(scanLinks(out), `SELECT `+linkColumns+` FROM provider_links WHERE domain = $1 AND provider = $2 AND subject = $3`,
		domain, provider, subject)
}

// ListByIdentifierIn is ListIn for the identity that owns an identifier,
// for a step that reads the identity in the same round trip; an unknown
// identifier has none.
func (s *Links) ListByIdentifierIn(r *store.Reads, domain, kind, value string, out *[]Link) {
	r.Query(scanLinks(out), `SELECT `+linkColumns+` FROM provider_links WHERE identity_id =
		(SELECT i.identity_id FROM identifiers i WHERE i.domain = $1 AND i.kind = $2 AND i.value = $3)
		ORDER BY linked_at, provider`, domain, kind, value)
}

// List returns an identity's links, oldest first.
func (s *Links) List(ctx context.Context, identityID string) ([]Link, error) {
	var out []Link
	r := s.db.Reads()
	s.ListIn(r, identityID, &out)
	if err := r.Run(ctx); err != nil {
		return nil, fmt.Errorf("identity: list links: %w", err)
	}
	return out, nil
}

// ListIn adds List to r: once r runs, *out holds the links.
func (s *Links) ListIn(r *store.Reads, identityID string, out *[]Link) {
	r.Query(scanLinks(out), `SELECT `+linkColumns+` FROM provider_links WHERE identity_id = $1 ORDER BY linked_at, provider`, identityID)
}

// CreateTx links, inside tx, l.Subject at l.Provider to l.IdentityID.
// A subject linked already, or a provider the identity has an account of,
// fails tx with store.ErrConflict (on PostgreSQL when tx commits: see
// store.Tx).
func (s *Links) CreateTx(ctx context.Context, tx *store.Tx, l Link) error {
	_, err := tx.Exec(ctx, `INSERT INTO provider_links (`+linkColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $6)`,
		l.Domain, l.Provider, l.Subject, l.IdentityID, l.Email, store.Micros(l.LinkedAt))
	if err != nil {
		return fmt.Errorf("identity: link %s: %w", l.Provider, err)
	}
	return nil
}

// UsedTx records, inside tx, a sign-in with a link.
func (s *Links) UsedTx(ctx context.Context, tx *store.Tx, domain, provider, subject string, at time.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE provider_links SET last_used_at = $4 WHERE domain = $1 AND provider = $2 AND subject = $3`,
		domain, provider, subject, store.Micros(at)); err != nil {
		return fmt.Errorf("identity: link used: %w", err)
	}
	return nil
}

// DeleteTx removes, inside tx, the identity's link to provider; without
// one, tx fails with store.ErrNotFound.
func (s *Links) DeleteTx(ctx context.Context, tx *store.Tx, identityID, provider string) error {
	return tx.ExecOne(ctx, store.ErrNotFound, `DELETE FROM provider_links WHERE identity_id = $1 AND provider = $2`, identityID, provider)
}
