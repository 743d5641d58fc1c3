package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/store"
)

// Consent is what a customer allowed a client to access.
type Consent struct {
	ClientID   string    `json:"client_id"`
	ClientName string    `json:"client_name"`
	Scopes     []string  `json:"scopes"`
	GrantedAt  time.Time `json:"granted_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Consents keeps the customers' grants to third-party clients.
type Consents struct {
	DB  *store.DB
	Now func() time.Time
}

// Covers reports whether the identity already granted every scope to the
// client.
func (c *Consents) Covers(ctx context.Context, identityID, clientID string, scopes []string) (bool, error) {
	var raw string
	err := c.DB.QueryRow(ctx, `SELECT scopes FROM oauth_consents WHERE identity_id = $1 AND client_id = $2`, identityID, clientID).Scan(&raw)
	if err != nil {
		if errors.Is(store.Classify(err), store.ErrNotFound) {
			return false, nil
		}
		return false, fmt.Errorf("oidc: consent: %w", err)
	}
	var granted []string
	_ = json.Unmarshal([]byte(raw), &granted)
	for _, s := range scopes {
		if !slices.Contains(granted, s) {
			return false, nil
		}
	}
	return true, nil
}

// Grant records (or widens) a consent.
func (c *Consents) Grant(ctx context.Context, domain, identityID, clientID string, scopes []string) error {
	now := store.Micros(c.Now())
	err := c.DB.InTx(ctx, func(tx *store.Tx) error {
		var raw string
		err := tx.QueryRow(ctx, `SELECT scopes FROM oauth_consents WHERE identity_id = $1 AND client_id = $2`, identityID, clientID).Scan(&raw)
		var granted []string
		if err == nil {
			_ = json.Unmarshal([]byte(raw), &granted)
		}
		for _, s := range scopes {
			if !slices.Contains(granted, s) {
				granted = append(granted, s)
			}
		}
		b, _ := json.Marshal(granted)
		if err == nil {
			_, err = tx.Exec(ctx, `UPDATE oauth_consents SET scopes = $1, updated_at = $2 WHERE identity_id = $3 AND client_id = $4`, string(b), now, identityID, clientID)
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO oauth_consents (identity_id, client_id, domain, scopes, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)`,
			identityID, clientID, domain, string(b), now)
		return err
	})
	if err != nil {
		return fmt.Errorf("oidc: grant consent: %w", err)
	}
	return nil
}

// List returns an identity's consents, newest first.
func (c *Consents) List(ctx context.Context, identityID string) ([]Consent, error) {
	rows, err := c.DB.Query(ctx, `SELECT k.client_id, c.name, k.scopes, k.created_at, k.updated_at
		FROM oauth_consents k JOIN oauth_clients c ON c.id = k.client_id
		WHERE k.identity_id = $1 ORDER BY k.updated_at DESC`, identityID)
	if err != nil {
		return nil, fmt.Errorf("oidc: list consents: %w", err)
	}
	defer rows.Close()
	var out []Consent
	for rows.Next() {
		var (
			k                Consent
			raw              string
			created, updated int64
		)
		if err := rows.Scan(&k.ClientID, &k.ClientName, &raw, &created, &updated); err != nil {
			return nil, err
		}
		_ = json.Unmarshal([]byte(raw), &k.Scopes)
		k.GrantedAt, k.UpdatedAt = store.FromMicros(created), store.FromMicros(updated)
		out = append(out, k)
	}
	return out, rows.Err()
}

// Revoke withdraws a consent and revokes every token the client holds for
// the identity.
func (c *Consents) Revoke(ctx context.Context, identityID, clientID string) error {
	now := store.Micros(c.Now())
	err := c.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM oauth_consents WHERE identity_id = $1 AND client_id = $2`, identityID, clientID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE oauth_tokens SET revoked_at = $1 WHERE subject = $2 AND client_id = $3 AND revoked_at IS NULL`, now, identityID, clientID)
		return err
	})
	if err != nil {
		return fmt.Errorf("oidc: revoke consent: %w", err)
	}
	return nil
}

// GrantConsent records that the customer allowed a client these scopes,
// with an event.
func (p *Provider) GrantConsent(ctx context.Context, identityID, clientID string, scopes []string) error {
	if err := p.Consents.Grant(ctx, p.Storage.Domain, identityID, clientID, scopes); err != nil {
		return err
	}
	p.Storage.emit(ctx, "oauth.consent_granted", event.OutcomeSuccess, strings.Join(scopes, " "), identityID, clientID)
	return nil
}

// RevokeConsent withdraws a consent (revoking the client's tokens), with
// an event.
func (p *Provider) RevokeConsent(ctx context.Context, identityID, clientID string) error {
	if err := p.Consents.Revoke(ctx, identityID, clientID); err != nil {
		return err
	}
	p.Storage.emit(ctx, "oauth.consent_revoked", event.OutcomeSuccess, "", identityID, clientID)
	return nil
}
