package oidc

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/foyer-id/foyer/internal/decision"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/foyer-id/foyer/internal/event"
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
// still be presented — for a client whose answer was lost, or several
// requests sent at once — and gets the same successor, as long as that
// has not been used. Any other reuse revokes the whole family.
const refreshGrace = 10 * time.Second

// token is one issued access or refresh token.
type token struct {
	ID            string
	Kind          string
	FamilyID      string
	AuthRequestID string
	Domain        string
	ClientID      string
	Subject       string
	SessionID     string
	Scopes        []string
	Audience      []string
	AMR           []string
	ACR           string
	AuthTime      time.Time
	// Details are the authorization details (RFC 9396) the token grants,
	// compact JSON; nil for none.
	Details json.RawMessage
	// Claims are the claims the authorization asked for by name.
	Claims          *requestedClaims
	CreatedAt       time.Time
	ExpiresAt       time.Time
	FamilyExpiresAt time.Time
	UsedAt          time.Time
	RevokedAt       time.Time
	// sessionEnds is when the session the token was issued in ended or
	// will end; zero for tokens of no session.
	sessionEnds time.Time
	// decided is the token.issue decision that let the token be issued,
	// written with it (insertToken); nil once written, or for a machine
	// token whose decision is not recorded (see CreateAccessToken).
	decided *decision.Record
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
	// endOffline ends offline grants with their session too.
	endOffline bool
	// rotationKey derives a refresh token's successor (successorValue).
	rotationKey []byte
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
			scopes, audience, amr, acr, auth_time, created_at, expires_at, family_expires_at, authorization_details, claims)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
		t.ID, t.Kind, hash, t.FamilyID, t.AuthRequestID, t.Domain, t.ClientID, t.Subject, t.SessionID,
		string(scopes), string(aud), string(amr), t.ACR, store.Micros(t.AuthTime), store.Micros(t.CreatedAt),
		store.Micros(t.ExpiresAt), store.Micros(t.FamilyExpiresAt), string(t.Details), t.Claims.encode())
	if err != nil {
		return fmt.Errorf("oidc: store %s token: %w", t.Kind, err)
	}
	if t.decided != nil {
		return decision.Insert(ctx, q, *t.decided)
	}
	return nil
}

// selectToken reads tokens (alias t) with the state of the session each
// was issued to (alias s): one more primary-key lookup, so that a token
// read is still one query.
const selectToken = `SELECT t.id, t.kind, t.family_id, t.auth_request_id, t.domain, t.client_id, t.subject, t.session_id, t.scopes,
	t.audience, t.amr, t.acr, t.auth_time, t.created_at, t.expires_at, t.family_expires_at, t.used_at, t.revoked_at,
	t.authorization_details, t.claims, s.id, s.revoked_at, s.idle_expires_at, s.expires_at
	FROM oauth_tokens t LEFT JOIN sessions s ON s.id = t.session_id`

func scanToken(row interface{ Scan(...any) error }) (*token, error) {
	var (
		t                                      token
		scopes, aud, amr, details, claims      string
		authTime, created, expires, famExpires int64
		used, revoked                          sql.NullInt64
		sessID                                 sql.NullString
		sessRevoked, sessIdle, sessExpires     sql.NullInt64
	)
	if err := row.Scan(&t.ID, &t.Kind, &t.FamilyID, &t.AuthRequestID, &t.Domain, &t.ClientID, &t.Subject, &t.SessionID,
		&scopes, &aud, &amr, &t.ACR, &authTime, &created, &expires, &famExpires, &used, &revoked,
		&details, &claims, &sessID, &sessRevoked, &sessIdle, &sessExpires); err != nil {
		return nil, store.Classify(err)
	}
	_ = json.Unmarshal([]byte(scopes), &t.Scopes)
	_ = json.Unmarshal([]byte(aud), &t.Audience)
	_ = json.Unmarshal([]byte(amr), &t.AMR)
	if details != "" {
		t.Details = json.RawMessage(details)
	}
	t.Claims = decodeClaims(claims)
	t.AuthTime, t.CreatedAt, t.ExpiresAt, t.FamilyExpiresAt = store.FromMicros(authTime), store.FromMicros(created), store.FromMicros(expires), store.FromMicros(famExpires)
	t.UsedAt, t.RevokedAt = store.FromNullMicros(used), store.FromNullMicros(revoked)
	switch {
	case t.SessionID == "":
	case !sessID.Valid: // pruned: it ended long ago
		t.sessionEnds = time.UnixMicro(1)
	case sessRevoked.Valid:
		t.sessionEnds = store.FromMicros(sessRevoked.Int64)
	default:
		t.sessionEnds = store.FromMicros(min(sessIdle.Int64, sessExpires.Int64))
	}
	return &t, nil
}

// byID returns a token by id.
func (s *tokens) byID(ctx context.Context, id string) (*token, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, store.ErrNotFound
	}
	return scanToken(s.db.QueryRow(ctx, selectToken+` WHERE t.id = $1`, id))
}

// byRefresh returns a refresh token by its value.
func (s *tokens) byRefresh(ctx context.Context, raw string) (*token, error) {
	return scanToken(s.db.QueryRow(ctx, selectToken+` WHERE t.token_hash = $1 AND t.kind = $2`, hashValue(raw), kindRefresh))
}

// sessionEnded reports whether t was issued in a session that has ended
// — signed out, revoked, replaced by another customer's sign-in, idle too
// long or past its lifetime — and so is over too. Tokens of an offline
// grant (scope offline_access) outlive the session unless the domain ends
// them with it (endOffline); machine tokens belong to no session.
func (s *tokens) sessionEnded(t *token, now time.Time) bool {
	if t.SessionID == "" || (!s.endOffline && slices.Contains(t.Scopes, oidc.ScopeOfflineAccess)) {
		return false
	}
	return !now.Before(t.sessionEnds)
}

// active reports whether t may still be used: not revoked, not expired,
// and not ended with its session.
func (s *tokens) active(t *token) bool {
	now := s.now()
	return t.RevokedAt.IsZero() && now.Before(t.ExpiresAt) && !s.sessionEnded(t, now)
}

// revokeFamily revokes every token of a family (refresh reuse, revocation
// of a refresh token).
func (s *tokens) revokeFamily(ctx context.Context, familyID string) error {
	if familyID == "" { // a machine token: no family
		return nil
	}
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

// RevokeSubjectTx revokes, inside tx, every token the domain's apps hold
// for an identity — offline grants too: the account was recovered, or
// its owner said a change was not theirs. It returns how many.
func (s *Storage) RevokeSubjectTx(ctx context.Context, tx *store.Tx, subject string) (int, error) {
	res, err := tx.Exec(ctx, `UPDATE oauth_tokens SET revoked_at = $1 WHERE domain = $2 AND subject = $3 AND revoked_at IS NULL`,
		store.Micros(s.tokens.now()), s.Domain, subject)
	if err != nil {
		return 0, fmt.Errorf("oidc: revoke tokens of %s: %w", subject, err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// RevokeOthersTx revokes, inside tx, the tokens the domain's apps hold
// for an identity through any session but keep ("" for every one): its
// other sessions were ended (a new password, "sign out everywhere else"),
// and their offline grants with them.
func (s *Storage) RevokeOthersTx(ctx context.Context, tx *store.Tx, subject, keep string) (int, error) {
	res, err := tx.Exec(ctx, `UPDATE oauth_tokens SET revoked_at = $1
		WHERE domain = $2 AND subject = $3 AND session_id <> '' AND session_id <> $4 AND revoked_at IS NULL`,
		store.Micros(s.tokens.now()), s.Domain, subject, keep)
	if err != nil {
		return 0, fmt.Errorf("oidc: revoke tokens of %s: %w", subject, err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// RevokeSession revokes the tokens the domain's apps hold for an
// identity through one session, which its owner signed out from another
// device.
func (s *Storage) RevokeSession(ctx context.Context, subject, sessionID string) error {
	_, err := s.DB.Exec(ctx, `UPDATE oauth_tokens SET revoked_at = $1 WHERE domain = $2 AND subject = $3 AND session_id = $4 AND revoked_at IS NULL`,
		store.Micros(s.tokens.now()), s.Domain, subject, sessionID)
	if err != nil {
		return fmt.Errorf("oidc: revoke tokens of session %s: %w", sessionID, err)
	}
	return nil
}

// errRefreshReused is returned when a used or revoked refresh token is
// presented outside what the grace allows; its family has been revoked.
var errRefreshReused = errors.New("oidc: refresh token reused; its family is revoked")

// successorValue is the refresh token that replaces raw when raw is
// rotated: a keyed hash of it, so that every presentation of raw names
// the same successor, and nobody without the server's key can tell it
// from raw.
func (s *tokens) successorValue(raw string) string {
	m := hmac.New(sha256.New, s.rotationKey)
	m.Write([]byte(raw))
	return RefreshTokenPrefix + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// rotate uses the presented refresh token up and stores its successor
// pair — an access token and the refresh token successorValue(oldRaw) —
// in one transaction. A token presented again within refreshGrace of its
// rotation, while its successor is live and unused, gets that same pair
// back: a client that lost the answer and retries, or sends one token
// from two tabs at once, keeps its family, however the presentations
// interleave. Any other presentation of a used or revoked token is reuse:
// errRefreshReused, and the family is revoked. A token whose session has
// ended (sessionEnded) is refused like an expired one.
func (s *tokens) rotate(ctx context.Context, oldRaw string, access, refresh *token, newRaw string) error {
	// The old token's used_at equals its successor's created_at.
	now := access.CreatedAt
	// Rotations are many and short: they share transactions (each in its
	// own savepoint) instead of queueing one by one on the writer.
	err := s.db.InTxBatched(ctx, func(tx *store.Tx) error {
		old, err := scanToken(tx.QueryRow(ctx, selectToken+` WHERE t.token_hash = $1 AND t.kind = $2`, hashValue(oldRaw), kindRefresh))
		if err != nil {
			return err
		}
		if !old.RevokedAt.IsZero() {
			return errRefreshReused
		}
		if !now.Before(old.ExpiresAt) || s.sessionEnded(old, now) {
			return store.ErrNotFound
		}
		if old.UsedAt.IsZero() {
			res, err := tx.Exec(ctx, `UPDATE oauth_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL`, store.Micros(now), old.ID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				refresh.FamilyID, access.FamilyID = old.FamilyID, old.FamilyID
				refresh.FamilyExpiresAt, access.FamilyExpiresAt = old.FamilyExpiresAt, old.FamilyExpiresAt
				refresh.ExpiresAt = old.FamilyExpiresAt // rotation never extends the family's absolute lifetime
				refresh.AuthRequestID, access.AuthRequestID = old.AuthRequestID, old.AuthRequestID
				if err := insertToken(ctx, tx, access, ""); err != nil {
					return err
				}
				return insertToken(ctx, tx, refresh, newRaw)
			}
			// A simultaneous presentation rotated it first (PostgreSQL
			// waited for its commit, and this statement sees it).
		}
		return s.sameSuccessor(ctx, tx, old, access, refresh, newRaw, now)
	})
	if errors.Is(err, errRefreshReused) {
		_ = s.lookupAndRevokeFamily(ctx, oldRaw)
	}
	return err
}

// sameSuccessor fills access and refresh with the pair that replaced old,
// if it is still within the grace, live and unused; else it is reuse.
func (s *tokens) sameSuccessor(ctx context.Context, tx *store.Tx, old, access, refresh *token, raw string, now time.Time) error {
	next, err := scanToken(tx.QueryRow(ctx, selectToken+` WHERE t.token_hash = $1 AND t.kind = $2`, hashValue(raw), kindRefresh))
	if errors.Is(err, store.ErrNotFound) {
		return errRefreshReused
	}
	if err != nil {
		return err
	}
	if next.FamilyID != old.FamilyID || !next.UsedAt.IsZero() || !next.RevokedAt.IsZero() || now.Sub(next.CreatedAt) > refreshGrace {
		return errRefreshReused
	}
	acc, err := scanToken(tx.QueryRow(ctx, selectToken+` WHERE t.family_id = $1 AND t.kind = $2 AND t.created_at = $3`,
		next.FamilyID, kindAccess, store.Micros(next.CreatedAt)))
	if errors.Is(err, store.ErrNotFound) {
		return errRefreshReused
	}
	if err != nil {
		return err
	}
	if !acc.RevokedAt.IsZero() {
		return errRefreshReused
	}
	*access, *refresh = *acc, *next
	return nil
}

func (s *tokens) lookupAndRevokeFamily(ctx context.Context, raw string) error {
	t, err := s.byRefresh(ctx, raw)
	if err != nil {
		return err
	}
	return s.revokeFamily(ctx, t.FamilyID)
}

// tokenRetention is how long a token row is kept once it has expired (a
// refresh token's expiry is its family's): nothing reads it any more, and
// a little slack spares nodes whose clocks run behind.
const tokenRetention = 5 * time.Minute

// prune deletes the tokens that expired more than tokenRetention ago, in
// batches: machines may have had millions since the last prune, and one
// statement deleting them all would hold SQLite's writer (or PostgreSQL's
// locks) that long.
func (s *tokens) prune(ctx context.Context) (int64, error) {
	n, err := s.db.DeleteInBatches(ctx, `DELETE FROM oauth_tokens WHERE id IN
		(SELECT id FROM oauth_tokens WHERE expires_at < $2 LIMIT $1)`, store.Micros(s.now().Add(-tokenRetention)))
	if err != nil {
		return n, fmt.Errorf("oidc: prune tokens: %w", err)
	}
	return n, nil
}

// machineEventWindow is how often, at most, a machine client's tokens
// from one network are recorded in the event log on one node.
const machineEventWindow = time.Minute

// machineEvents keeps the event log from recording every client_credentials
// token — machines can ask for thousands a second, and an event per token
// doubled the storage and the writes of each. It remembers which clients
// and networks got an oauth.client_credentials event in the current
// window on this node: the first token of each in a window commits the
// event with it, the others none.
type machineEvents struct {
	mu     sync.Mutex
	window time.Time
	seen   map[string]struct{} // client id and network
}

func machineEventKey(e event.Event) string { return e.ClientID + " " + e.IP }

// take reports whether e, of a token issued at now, is the first of its
// client and network in now's window, and if so takes the window's event
// for it.
func (m *machineEvents) take(e event.Event, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if w := now.Truncate(machineEventWindow); !w.Equal(m.window) {
		m.window = w
		clear(m.seen)
	}
	if m.seen == nil {
		m.seen = map[string]struct{}{}
	}
	key := machineEventKey(e)
	if _, seen := m.seen[key]; seen {
		return false
	}
	m.seen[key] = struct{}{}
	return true
}

// giveBack returns the event take gave for a token that was not stored,
// so that the next token records it.
func (m *machineEvents) giveBack(e event.Event, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.Truncate(machineEventWindow).Equal(m.window) {
		delete(m.seen, machineEventKey(e))
	}
}

func newFamilyID() string { return uuid.Must(uuid.NewV7()).String() }
