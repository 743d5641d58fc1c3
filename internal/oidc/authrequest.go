package oidc

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/foyer-id/foyer/internal/store"
)

// AuthRequest is an authorization request in progress: what the client
// asked for, which browser asked, and — once the customer signed in — who
// they are and how they authenticated.
type AuthRequest struct {
	ID          string
	Domain      string
	Request     oidc.AuthRequest
	BrowserHash string
	Subject     string
	SessionID   string
	AuthTime    time.Time
	AMR         []string
	ACR         string
	// Details is the authorization_details the request carried (RFC
	// 9396), compact JSON; nil when none.
	Details json.RawMessage
	// Claims are the claims the request asked for by name (the claims
	// parameter); nil when none.
	Claims    *requestedClaims
	IsDone    bool
	CreatedAt time.Time
	ExpiresAt time.Time
}

// The op.AuthRequest interface.

func (a *AuthRequest) GetID() string                      { return a.ID }
func (a *AuthRequest) GetACR() string                     { return a.ACR }
func (a *AuthRequest) GetAMR() []string                   { return a.AMR }
func (a *AuthRequest) GetAudience() []string              { return []string{a.Request.ClientID} }
func (a *AuthRequest) GetAuthTime() time.Time             { return a.AuthTime }
func (a *AuthRequest) GetClientID() string                { return a.Request.ClientID }
func (a *AuthRequest) GetNonce() string                   { return a.Request.Nonce }
func (a *AuthRequest) GetRedirectURI() string             { return a.Request.RedirectURI }
func (a *AuthRequest) GetScopes() []string                { return a.Request.Scopes }
func (a *AuthRequest) GetState() string                   { return a.Request.State }
func (a *AuthRequest) GetSubject() string                 { return a.Subject }
func (a *AuthRequest) Done() bool                         { return a.IsDone }
func (a *AuthRequest) GetResponseType() oidc.ResponseType { return a.Request.ResponseType }
func (a *AuthRequest) GetResponseMode() oidc.ResponseMode { return a.Request.ResponseMode }

// GetCodeChallenge returns the PKCE challenge (always S256: others are
// refused when the request is created).
func (a *AuthRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.Request.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.Request.CodeChallenge, Method: a.Request.CodeChallengeMethod}
}

// authRequests keeps authorization requests and their codes.
type authRequests struct {
	db  *store.DB
	now func() time.Time
}

// ErrCodeReused is returned when an authorization code is redeemed a
// second time.
var ErrCodeReused = errors.New("oidc: authorization code already used")

func hashValue(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func (s *authRequests) create(ctx context.Context, a *AuthRequest) error {
	a.ID = uuid.NewString()
	req, err := json.Marshal(a.Request)
	if err != nil {
		return err
	}
	amr, _ := json.Marshal(a.AMR)
	_, err = s.db.Exec(ctx, `INSERT INTO oauth_auth_requests (id, domain, client_id, request, browser_hash, subject, session_id, auth_time, amr, acr, done, created_at, expires_at, authorization_details, claims)
		VALUES ($1, $2, $3, $4, $5, '', '', 0, $6, '', $7, $8, $9, $10, $11)`,
		a.ID, a.Domain, a.Request.ClientID, string(req), a.BrowserHash, string(amr), false, store.Micros(a.CreatedAt), store.Micros(a.ExpiresAt), string(a.Details),
		a.Claims.encode())
	if err != nil {
		return fmt.Errorf("oidc: create auth request: %w", err)
	}
	return nil
}

const authRequestColumns = `id, domain, request, browser_hash, subject, session_id, auth_time, amr, acr, done, created_at, expires_at, authorization_details, claims`

func scanAuthRequest(row interface{ Scan(...any) error }) (*AuthRequest, error) {
	var (
		a                          AuthRequest
		req, amr, details, claims  string
		authTime, created, expires int64
	)
	if err := row.Scan(&a.ID, &a.Domain, &req, &a.BrowserHash, &a.Subject, &a.SessionID, &authTime, &amr, &a.ACR, &a.IsDone, &created, &expires, &details, &claims); err != nil {
		return nil, store.Classify(err)
	}
	if err := json.Unmarshal([]byte(req), &a.Request); err != nil {
		return nil, fmt.Errorf("oidc: auth request %s: %w", a.ID, err)
	}
	_ = json.Unmarshal([]byte(amr), &a.AMR)
	if details != "" {
		a.Details = json.RawMessage(details)
	}
	a.Claims = decodeClaims(claims)
	a.AuthTime, a.CreatedAt, a.ExpiresAt = store.FromMicros(authTime), store.FromMicros(created), store.FromMicros(expires)
	return &a, nil
}

// get returns a live (unexpired) request.
func (s *authRequests) get(ctx context.Context, id string) (*AuthRequest, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, store.ErrNotFound
	}
	a, err := scanAuthRequest(s.db.QueryRow(ctx, `SELECT `+authRequestColumns+` FROM oauth_auth_requests WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("oidc: auth request: %w", err)
	}
	if !s.now().Before(a.ExpiresAt) {
		return nil, fmt.Errorf("oidc: auth request expired: %w", store.ErrNotFound)
	}
	return a, nil
}

// complete records who signed in for the request.
func (s *authRequests) complete(ctx context.Context, a *AuthRequest) error {
	amr, _ := json.Marshal(a.AMR)
	res, err := s.db.Exec(ctx, `UPDATE oauth_auth_requests SET subject = $1, session_id = $2, auth_time = $3, amr = $4, acr = $5, done = $6
		WHERE id = $7 AND code_hash IS NULL`,
		a.Subject, a.SessionID, store.Micros(a.AuthTime), string(amr), a.ACR, true, a.ID)
	if err != nil {
		return fmt.Errorf("oidc: complete auth request: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("oidc: auth request already answered: %w", store.ErrConflict)
	}
	a.IsDone = true
	return nil
}

// end expires a request that has no code yet: nothing can answer it any
// more.
func (s *authRequests) end(ctx context.Context, id string) error {
	if _, err := s.db.Exec(ctx, `UPDATE oauth_auth_requests SET expires_at = $1 WHERE id = $2 AND code_hash IS NULL`,
		store.Micros(s.now()), id); err != nil {
		return fmt.Errorf("oidc: end auth request: %w", err)
	}
	return nil
}

// saveCode attaches the authorization code; a request gets one code only.
func (s *authRequests) saveCode(ctx context.Context, id, code string, ttl time.Duration) error {
	now := s.now()
	res, err := s.db.Exec(ctx, `UPDATE oauth_auth_requests SET code_hash = $1, code_expires_at = $2 WHERE id = $3 AND done = $4 AND code_hash IS NULL`,
		hashValue(code), store.Micros(now.Add(ttl)), id, true)
	if err != nil {
		return fmt.Errorf("oidc: save code: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("oidc: code already issued for this request: %w", store.ErrConflict)
	}
	return nil
}

// byCode returns the request a live, unused code was issued for. The code
// is used up only when tokens are issued for it (consume), once the client
// has authenticated and proved its PKCE verifier: a failed exchange leaves
// it to its client. A code already used returns ErrCodeReused with the
// request id, so the caller can revoke what it produced.
func (s *authRequests) byCode(ctx context.Context, code string) (*AuthRequest, string, error) {
	var used, expires sql.NullInt64
	row := s.db.QueryRow(ctx, `SELECT `+authRequestColumns+`, code_used_at, code_expires_at FROM oauth_auth_requests WHERE code_hash = $1`, hashValue(code))
	a, err := scanAuthRequest(scanWith{row, []any{&used, &expires}})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, "", fmt.Errorf("oidc: unknown code: %w", store.ErrNotFound)
	case err != nil:
		return nil, "", fmt.Errorf("oidc: read code: %w", err)
	case used.Valid:
		return nil, a.ID, ErrCodeReused
	case !expires.Valid || !s.now().Before(store.FromMicros(expires.Int64)):
		return nil, "", fmt.Errorf("oidc: expired code: %w", store.ErrNotFound)
	}
	return a, "", nil
}

// consume uses up the code of request id in tx, as its tokens are issued:
// of parallel exchanges of one code exactly one gets there; the others get
// ErrCodeReused.
func (s *authRequests) consume(ctx context.Context, tx *store.Tx, id string) error {
	now := store.Micros(s.now())
	res, err := tx.Exec(ctx, `UPDATE oauth_auth_requests SET code_used_at = $1 WHERE id = $2 AND code_used_at IS NULL AND code_expires_at > $1`, now, id)
	if err != nil {
		return fmt.Errorf("oidc: use code: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrCodeReused
	}
	return nil
}

// scanWith scans a row into a scanner's destinations and then extra ones.
type scanWith struct {
	row   interface{ Scan(...any) error }
	extra []any
}

func (s scanWith) Scan(dest ...any) error { return s.row.Scan(append(dest, s.extra...)...) }

func (s *authRequests) prune(ctx context.Context) (int64, error) {
	return s.db.DeleteInBatches(ctx, `DELETE FROM oauth_auth_requests WHERE id IN
		(SELECT id FROM oauth_auth_requests WHERE expires_at < $2 LIMIT $1)`, store.Micros(s.now().Add(-time.Hour)))
}
