package oidc

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/foyer-id/foyer/internal/store"
)

// Token kinds.
const (
	kindAccess  = "access"
	kindRefresh = "refresh"
)

// RefreshTokenPrefix starts every refresh token.
const RefreshTokenPrefix = "fyr_"

// refreshGrace is how long after a rotation the previous refresh token may
// still be presented once more — for a client whose response was lost —
// as long as its successor has not been used. Any other reuse revokes the
// whole family.
const refreshGrace = 10 * time.Second

// token is one issued access or refresh token.
type token struct {
	ID              string
	Kind            string
	FamilyID        string
	AuthRequestID   string
	Domain          string
	ClientID        string
	Subject         string
	SessionID       string
	Scopes          []string
	Audience        []string
	AMR             []string
	ACR             string
	AuthTime        time.Time
	CreatedAt       time.Time
	ExpiresAt       time.Time
	FamilyExpiresAt time.Time
	UsedAt          time.Time
	RevokedAt       time.Time
}

// RefreshTokenRequest implements op.RefreshTokenRequest.
type refreshRequest struct{ t *token }

func (r *refreshRequest) GetAMR() []string            { return r.t.AMR }
func (r *refreshRequest) GetAudience() []string       { return r.t.Audience }
func (r *refreshRequest) GetAuthTime() time.Time      { return r.t.AuthTime }
func (r *refreshRequest) GetClientID() string         { return r.t.ClientID }
func (r *refreshRequest) GetScopes() []string         { return r.t.Scopes }
func (r *refreshRequest) GetSubject() string          { return r.t.Subject }
func (r *refreshRequest) SetCurrentScopes(s []string) { r.t.Scopes = s }

type tokens struct {
	db  *store.DB
	now func() time.Time
}

func newRefreshValue() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return RefreshTokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

type execer interface {
	Exec(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// batched sends single inserts through the database's group commit.
type batched struct{ db *store.DB }

func (b batched) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return nil, b.db.ExecBatched(ctx, query, args...)
}

func insertToken(ctx context.Context, q execer, t *token, raw string) error {
	if t.ID == "" {
		// Time-ordered ids: new rows go to the end of the primary-key
		// index instead of a random page, so a commit of many tokens
		// writes few pages.
		t.ID = uuid.Must(uuid.NewV7()).String()
	}
	scopes, _ := json.Marshal(t.Scopes)
	aud, _ := json.Marshal(t.Audience)
	amr, _ := json.Marshal(t.AMR)
	var hash sql.NullString
	if raw != "" {
		hash = sql.NullString{String: hashValue(raw), Valid: true}
	}
	_, err := q.Exec(ctx, `INSERT INTO oauth_tokens (id, kind, token_hash, family_id, auth_request_id, domain, client_id, subject, session_id,
			scopes, audience, amr, acr, auth_time, created_at, expires_at, family_expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		t.ID, t.Kind, hash, t.FamilyID, t.AuthRequestID, t.Domain, t.ClientID, t.Subject, t.SessionID,
		string(scopes), string(aud), string(amr), t.ACR, store.Micros(t.AuthTime), store.Micros(t.CreatedAt),
		store.Micros(t.ExpiresAt), store.Micros(t.FamilyExpiresAt))
	if err != nil {
		return fmt.Errorf("oidc: store %s token: %w", t.Kind, err)
	}
	return nil
}

const tokenColumns = `id, kind, family_id, auth_request_id, domain, client_id, subject, session_id, scopes, audience, amr, acr,
	auth_time, created_at, expires_at, family_expires_at, used_at, revoked_at`

func scanToken(row interface{ Scan(...any) error }) (*token, error) {
	var (
		t                                      token
		scopes, aud, amr                       string
		authTime, created, expires, famExpires int64
		used, revoked                          sql.NullInt64
	)
	if err := row.Scan(&t.ID, &t.Kind, &t.FamilyID, &t.AuthRequestID, &t.Domain, &t.ClientID, &t.Subject, &t.SessionID,
		&scopes, &aud, &amr, &t.ACR, &authTime, &created, &expires, &famExpires, &used, &revoked); err != nil {
		return nil, store.Classify(err)
	}
	_ = json.Unmarshal([]byte(scopes), &t.Scopes)
	_ = json.Unmarshal([]byte(aud), &t.Audience)
	_ = json.Unmarshal([]byte(amr), &t.AMR)
	t.AuthTime, t.CreatedAt, t.ExpiresAt, t.FamilyExpiresAt = store.FromMicros(authTime), store.FromMicros(created), store.FromMicros(expires), store.FromMicros(famExpires)
	t.UsedAt, t.RevokedAt = store.FromNullMicros(used), store.FromNullMicros(revoked)
	return &t, nil
}

// byID returns a token by id.
func (s *tokens) byID(ctx context.Context, id string) (*token, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, store.ErrNotFound
	}
	return scanToken(s.db.QueryRow(ctx, `SELECT `+tokenColumns+` FROM oauth_tokens WHERE id = $1`, id))
}

// byRefresh returns a refresh token by its value.
func (s *tokens) byRefresh(ctx context.Context, raw string) (*token, error) {
	return scanToken(s.db.QueryRow(ctx, `SELECT `+tokenColumns+` FROM oauth_tokens WHERE token_hash = $1 AND kind = $2`, hashValue(raw), kindRefresh))
}

// active reports whether t may still be used.
func (s *tokens) active(t *token) bool {
	now := s.now()
	return t.RevokedAt.IsZero() && now.Before(t.ExpiresAt)
}

// revokeFamily revokes every token of a family (refresh reuse, revocation
// of a refresh token).
func (s *tokens) revokeFamily(ctx context.Context, familyID string) error {
	_, err := s.db.Exec(ctx, `UPDATE oauth_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL`, store.Micros(s.now()), familyID)
	if err != nil {
		return fmt.Errorf("oidc: revoke family: %w", err)
	}
	return nil
}

// revokeAuthRequest revokes every token issued from one authorization
// request (a reused code).
func (s *tokens) revokeAuthRequest(ctx context.Context, authRequestID string) error {
	_, err := s.db.Exec(ctx, `UPDATE oauth_tokens SET revoked_at = $1 WHERE auth_request_id = $2 AND revoked_at IS NULL`, store.Micros(s.now()), authRequestID)
	if err != nil {
		return fmt.Errorf("oidc: revoke tokens of auth request: %w", err)
	}
	return nil
}

// revoke revokes one token.
func (s *tokens) revoke(ctx context.Context, id string) error {
	_, err := s.db.Exec(ctx, `UPDATE oauth_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, store.Micros(s.now()), id)
	if err != nil {
		return fmt.Errorf("oidc: revoke token: %w", err)
	}
	return nil
}

// revokeSubjectClient revokes every token of one identity at one client
// (consent withdrawn, RP-initiated logout).
func (s *tokens) revokeSubjectClient(ctx context.Context, subject, clientID string) error {
	_, err := s.db.Exec(ctx, `UPDATE oauth_tokens SET revoked_at = $1 WHERE subject = $2 AND client_id = $3 AND revoked_at IS NULL`,
		store.Micros(s.now()), subject, clientID)
	if err != nil {
		return fmt.Errorf("oidc: revoke tokens: %w", err)
	}
	return nil
}

// errRefreshReused is returned when a rotated refresh token is presented
// again outside the grace period; its family has been revoked.
var errRefreshReused = errors.New("oidc: refresh token reused; its family is revoked")

// rotate marks the presented refresh token used and stores the new access
// and refresh tokens, in one transaction. A token that was already used is
// reuse — unless it was rotated within the grace period and its successor
// is still unused, in which case that successor is revoked and replaced.
func (s *tokens) rotate(ctx context.Context, oldRaw string, access, refresh *token, newRaw string) error {
	// The old token's used_at equals its successor's created_at, which is
	// how the grace path finds the successor.
	now := access.CreatedAt
	// Rotations are many and short: they share transactions (each in its
	// own savepoint) instead of queueing one by one on the writer.
	err := s.db.InTxBatched(ctx, func(tx *store.Tx) error {
		old, err := scanToken(tx.QueryRow(ctx, `SELECT `+tokenColumns+` FROM oauth_tokens WHERE token_hash = $1 AND kind = $2`, hashValue(oldRaw), kindRefresh))
		if err != nil {
			return err
		}
		if !old.RevokedAt.IsZero() {
			// A revoked token presented again — e.g. one replaced during
			// the grace period, now played by whoever else holds it — is
			// treated as reuse.
			return errRefreshReused
		}
		if !now.Before(old.ExpiresAt) {
			return store.ErrNotFound
		}
		if !old.UsedAt.IsZero() {
			// Within the grace period, replace the unused successor.
			if now.Sub(old.UsedAt) > refreshGrace {
				return errRefreshReused
			}
			res, err := tx.Exec(ctx, `UPDATE oauth_tokens SET revoked_at = $1
				WHERE family_id = $2 AND kind = $3 AND created_at >= $4 AND used_at IS NULL AND revoked_at IS NULL AND id <> $5`,
				store.Micros(now), old.FamilyID, kindRefresh, store.Micros(old.UsedAt), old.ID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return errRefreshReused
			}
			// And the access token that came with it.
			if _, err := tx.Exec(ctx, `UPDATE oauth_tokens SET revoked_at = $1
				WHERE family_id = $2 AND kind = $3 AND created_at = $4 AND revoked_at IS NULL`,
				store.Micros(now), old.FamilyID, kindAccess, store.Micros(old.UsedAt)); err != nil {
				return err
			}
			// The grace is spent: the old token presented once more is a
			// revoked token, which is reuse.
			if _, err := tx.Exec(ctx, `UPDATE oauth_tokens SET revoked_at = $1 WHERE id = $2`, store.Micros(now), old.ID); err != nil {
				return err
			}
		} else {
			res, err := tx.Exec(ctx, `UPDATE oauth_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL`, store.Micros(now), old.ID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return errRefreshReused
			}
		}
		refresh.FamilyID, access.FamilyID = old.FamilyID, old.FamilyID
		refresh.FamilyExpiresAt, access.FamilyExpiresAt = old.FamilyExpiresAt, old.FamilyExpiresAt
		refresh.ExpiresAt = old.FamilyExpiresAt // rotation never extends the family's absolute lifetime
		refresh.AuthRequestID, access.AuthRequestID = old.AuthRequestID, old.AuthRequestID
		if err := insertToken(ctx, tx, access, ""); err != nil {
			return err
		}
		return insertToken(ctx, tx, refresh, newRaw)
	})
	if errors.Is(err, errRefreshReused) {
		_ = s.lookupAndRevokeFamily(ctx, oldRaw)
	}
	return err
}

func (s *tokens) lookupAndRevokeFamily(ctx context.Context, raw string) error {
	t, err := s.byRefresh(ctx, raw)
	if err != nil {
		return err
	}
	return s.revokeFamily(ctx, t.FamilyID)
}

func (s *tokens) prune(ctx context.Context) (int64, error) {
	res, err := s.db.Exec(ctx, `DELETE FROM oauth_tokens WHERE family_expires_at < $1 AND expires_at < $1`, store.Micros(s.now().Add(-24*time.Hour)))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func newFamilyID() string { return uuid.Must(uuid.NewV7()).String() }
