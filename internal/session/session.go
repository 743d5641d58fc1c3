package session

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/store"
)

// TokenPrefix starts every session token, so secret scanners and humans can
// tell what a leaked string is.
const TokenPrefix = "fys_"

// Assurance levels.
const (
	AAL1 = "aal1"
	AAL2 = "aal2"
)

// Session is a signed-in session of one identity.
type Session struct {
	ID              string    `json:"id"`
	Domain          string    `json:"domain"`
	IdentityID      string    `json:"identity_id"`
	AAL             string    `json:"aal"`
	Methods         []string  `json:"methods"`
	DeviceID        string    `json:"-"`
	IP              string    `json:"-"`
	UserAgent       string    `json:"-"`
	AuthenticatedAt time.Time `json:"authenticated_at"`
	CreatedAt       time.Time `json:"issued_at"`
	SeenAt          time.Time `json:"-"`
	IdleExpiresAt   time.Time `json:"idle_expires_at"`
	ExpiresAt       time.Time `json:"expires_at"`
	// IdleTimeout is the session's own idle timeout (a policy's session
	// outcome), 0 for the domain's.
	IdleTimeout time.Duration `json:"-"`
}

// ErrInvalid is returned for an unknown, expired or revoked token.
var ErrInvalid = errors.New("session: invalid or expired")

// Lifetimes bound how long a session lives.
type Lifetimes struct {
	Absolute time.Duration // from sign-in, never extended
	Idle     time.Duration // extended by use, at most up to Absolute
}

// Manager issues, checks and revokes sessions.
type Manager struct {
	db       *store.DB
	life     Lifetimes
	now      func() time.Time
	random   io.Reader
	touchGap time.Duration
	// Replaced, when set, is told in the same transaction that session
	// to took over from session from for the same identity (a step-up,
	// or a sign-in again in the same browser, Replace), so that what is
	// bound to a session — apps' tokens — carries on with it.
	Replaced func(ctx context.Context, db store.Execer, from, to, identityID string) error
}

// NewManager returns a Manager. random is the source of session tokens
// (crypto/rand.Reader outside tests).
func NewManager(db *store.DB, life Lifetimes, now func() time.Time, random io.Reader) *Manager {
	if random == nil {
		random = rand.Reader
	}
	// Use is written at most once a minute, or, for idle lifetimes under
	// ten minutes, once a tenth of it, so that a session in use never
	// runs out for want of a write.
	return &Manager{db: db, life: life, now: now, random: random, touchGap: min(time.Minute, life.Idle/10)}
}

// HashToken returns the stored form of a token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Params describe a sign-in that becomes a session.
type Params struct {
	Domain          string
	IdentityID      string
	Methods         []string // "password", "email_code", "totp", …
	AAL             string   // AAL1 when empty
	DeviceID        string
	IP              string
	UserAgent       string
	AuthenticatedAt time.Time // zero means now
	// Lifetime and Idle, when set, replace the domain's lifetimes for this
	// session (a policy's session outcome).
	Lifetime, Idle time.Duration
}

// Issue creates a session and returns its token, which is never stored.
func (m *Manager) Issue(ctx context.Context, p Params) (string, *Session, error) {
	return m.issue(ctx, m.db, p)
}

// IssueTx is Issue inside tx: the session exists once tx commits.
func (m *Manager) IssueTx(ctx context.Context, tx *store.Tx, p Params) (string, *Session, error) {
	return m.issue(ctx, tx, p)
}

func (m *Manager) issue(ctx context.Context, db store.Execer, p Params) (string, *Session, error) {
	var raw [32]byte
	if _, err := io.ReadFull(m.random, raw[:]); err != nil {
		return "", nil, fmt.Errorf("session: random: %w", err)
	}
	token := TokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	now := m.now().UTC()
	authAt := p.AuthenticatedAt
	if authAt.IsZero() {
		authAt = now
	}
	s := &Session{
		ID:              uuid.Must(uuid.NewV7()).String(),
		Domain:          p.Domain,
		IdentityID:      p.IdentityID,
		AAL:             cmp.Or(p.AAL, AAL1),
		Methods:         p.Methods,
		DeviceID:        p.DeviceID,
		IP:              p.IP,
		UserAgent:       truncate(p.UserAgent, 512),
		AuthenticatedAt: authAt,
		CreatedAt:       now,
		SeenAt:          now,
		ExpiresAt:       now.Add(cmp.Or(p.Lifetime, m.life.Absolute)),
		IdleTimeout:     p.Idle,
	}
	s.IdleExpiresAt = minTime(now.Add(m.idleOf(s)), s.ExpiresAt)
	methods, _ := json.Marshal(s.Methods)
	_, err := db.Exec(ctx, `INSERT INTO sessions (id, domain, token_hash, identity_id, aal, methods, device_id, ip, user_agent,
			authenticated_at, created_at, seen_at, idle_expires_at, expires_at, idle_timeout)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13, $14)`,
		s.ID, s.Domain, HashToken(token), s.IdentityID, s.AAL, string(methods), s.DeviceID, s.IP, s.UserAgent,
		store.Micros(s.AuthenticatedAt), store.Micros(now), store.Micros(s.IdleExpiresAt), store.Micros(s.ExpiresAt), s.IdleTimeout.Microseconds())
	if err != nil {
		return "", nil, fmt.Errorf("session: issue: %w", err)
	}
	return token, s, nil
}

// idleOf is how long s may go unused: its own timeout, or the domain's.
func (m *Manager) idleOf(s *Session) time.Duration { return cmp.Or(s.IdleTimeout, m.life.Idle) }

// Authenticate returns the live session for a token, or ErrInvalid when
// the token is unknown, revoked, idle too long or past its absolute
// lifetime. Use extends the idle lifetime, written at most once a minute
// so that busy sessions do not turn every read into a write.
func (m *Manager) Authenticate(ctx context.Context, token string) (*Session, error) {
	s, _, err := m.lookup(ctx, token, false)
	return s, err
}

// Whoami is Authenticate that also returns the session's identity with
// its identifiers, read in the same query: it answers GET
// /sessions/whoami, the most frequent request of all.
func (m *Manager) Whoami(ctx context.Context, token string) (*Session, *identity.Identity, error) {
	return m.lookup(ctx, token, true)
}

const sessionColumns = `s.id, s.domain, s.identity_id, s.aal, s.methods, s.device_id, s.ip, s.user_agent,
	s.authenticated_at, s.created_at, s.seen_at, s.idle_expires_at, s.expires_at, s.revoked_at, s.idle_timeout`

const (
	authenticateQuery = `SELECT ` + sessionColumns + ` FROM sessions s WHERE s.token_hash = $1`
	whoamiQuery       = `SELECT ` + sessionColumns + `,
			i.state, i.schema_id, i.traits, i.created_at, i.updated_at, i.recovered_at, i.restricted_until,
			x.id, x.kind, x.value, x.verified_at
		FROM sessions s
		JOIN identities i ON i.id = s.identity_id
		LEFT JOIN identifiers x ON x.identity_id = i.id
		WHERE s.token_hash = $1`
)

func (m *Manager) lookup(ctx context.Context, token string, withIdentity bool) (*Session, *identity.Identity, error) {
	if !strings.HasPrefix(token, TokenPrefix) || len(token) != len(TokenPrefix)+43 {
		return nil, nil, ErrInvalid
	}
	query := authenticateQuery
	if withIdentity {
		query = whoamiQuery
	}
	rows, err := m.db.Query(ctx, query, HashToken(token))
	if err != nil {
		return nil, nil, fmt.Errorf("session: authenticate: %w", err)
	}
	defer rows.Close()
	var (
		s                                Session
		ident                            *identity.Identity
		methods                          string
		authAt, created, seen, idle, exp int64
		idleTimeout                      int64
		revoked                          sql.NullInt64
		found                            bool
	)
	for rows.Next() {
		dest := []any{&s.ID, &s.Domain, &s.IdentityID, &s.AAL, &methods, &s.DeviceID, &s.IP, &s.UserAgent,
			&authAt, &created, &seen, &idle, &exp, &revoked, &idleTimeout}
		var (
			state, schemaID, traits string
			iCreated, iUpdated      int64
			recovered, until        int64
			xID, xKind, xValue      sql.NullString
			xVerified               sql.NullInt64
		)
		if withIdentity {
			dest = append(dest, &state, &schemaID, &traits, &iCreated, &iUpdated, &recovered, &until, &xID, &xKind, &xValue, &xVerified)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, nil, fmt.Errorf("session: authenticate: %w", err)
		}
		found = true
		if !withIdentity {
			break
		}
		if ident == nil {
			ident = &identity.Identity{ID: s.IdentityID, Domain: s.Domain, State: state, SchemaID: schemaID,
				Traits: json.RawMessage(traits), CreatedAt: store.FromMicros(iCreated), UpdatedAt: store.FromMicros(iUpdated),
				Identifiers: []identity.Identifier{}}
			if recovered != 0 {
				ident.RecoveredAt, ident.RestrictedUntil = store.FromMicros(recovered), store.FromMicros(until)
			}
		}
		if xID.Valid {
			ident.Identifiers = append(ident.Identifiers, identity.Identifier{ID: xID.String, Kind: xKind.String, Value: xValue.String,
				Verified: xVerified.Valid, VerifiedAt: store.FromNullMicros(xVerified)})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("session: authenticate: %w", err)
	}
	if !found {
		return nil, nil, ErrInvalid
	}
	if ident != nil {
		// Sorted here rather than by SQL, which would need a temporary
		// b-tree on the hottest query.
		slices.SortFunc(ident.Identifiers, func(a, b identity.Identifier) int {
			return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Value, b.Value))
		})
	}
	now := m.now().UTC()
	if revoked.Valid || now.UnixMicro() >= idle || now.UnixMicro() >= exp {
		return nil, nil, ErrInvalid
	}
	_ = json.Unmarshal([]byte(methods), &s.Methods)
	s.AuthenticatedAt, s.CreatedAt, s.SeenAt = store.FromMicros(authAt), store.FromMicros(created), store.FromMicros(seen)
	s.IdleExpiresAt, s.ExpiresAt = store.FromMicros(idle), store.FromMicros(exp)
	s.IdleTimeout = time.Duration(idleTimeout) * time.Microsecond
	if now.Sub(s.SeenAt) >= m.touchGap {
		s.SeenAt = now
		s.IdleExpiresAt = minTime(now.Add(m.idleOf(&s)), s.ExpiresAt)
		if _, err := m.db.Exec(ctx, `UPDATE sessions SET seen_at = $1, idle_expires_at = $2 WHERE id = $3 AND revoked_at IS NULL`,
			store.Micros(now), store.Micros(s.IdleExpiresAt), s.ID); err != nil {
			return nil, nil, fmt.Errorf("session: touch: %w", err)
		}
	}
	return &s, ident, nil
}

// Revoke ends the session holding token. Unknown tokens are not an error:
// signing out twice is fine.
func (m *Manager) Revoke(ctx context.Context, token string) (*Session, error) {
	var id, identityID string
	err := m.db.WriteRow(ctx, `UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL RETURNING id, identity_id`,
		store.Micros(m.now()), HashToken(token)).Scan(&id, &identityID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("session: revoke: %w", err)
	}
	return &Session{ID: id, IdentityID: identityID}, nil
}

// Replace ends the session holding oldToken, which a new sign-in (next)
// replaces in the same browser. When both are the same identity's, next
// carries on where the old one stopped (Replaced); another identity's
// sign-in ends it as a sign-out would.
func (m *Manager) Replace(ctx context.Context, oldToken string, next *Session) error {
	err := m.db.InTx(ctx, func(tx *store.Tx) error {
		var id, identityID string
		err := tx.QueryRow(ctx, `UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL RETURNING id, identity_id`,
			store.Micros(m.now()), HashToken(oldToken)).Scan(&id, &identityID)
		if errors.Is(err, sql.ErrNoRows) || err == nil && (identityID != next.IdentityID || m.Replaced == nil) {
			return nil
		}
		if err != nil {
			return err
		}
		return m.Replaced(ctx, tx, id, next.ID, identityID)
	})
	if err != nil {
		return fmt.Errorf("session: replace: %w", err)
	}
	return nil
}

// RevokeIdentity ends every session of an identity.
func (m *Manager) RevokeIdentity(ctx context.Context, identityID string) (int, error) {
	var n int
	err := m.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		n, err = m.RevokeOthersTx(ctx, tx, identityID, "")
		return err
	})
	return n, err
}

// RevokeOthersTx ends, inside tx, every session of an identity but the
// one with id keep ("" for none): a recovery, a new password, or the
// customer's "sign out everywhere else". It returns how many ended.
func (m *Manager) RevokeOthersTx(ctx context.Context, tx *store.Tx, identityID, keep string) (int, error) {
	res, err := tx.Exec(ctx, `UPDATE sessions SET revoked_at = $1 WHERE identity_id = $2 AND id <> $3 AND revoked_at IS NULL`,
		store.Micros(m.now()), identityID, keep)
	if err != nil {
		return 0, fmt.Errorf("session: revoke sessions of %s: %w", identityID, err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// List returns an identity's live sessions, the most recently used
// first: the devices signed in to the account.
func (m *Manager) List(ctx context.Context, identityID string) ([]Session, error) {
	now := store.Micros(m.now())
	rows, err := m.db.Query(ctx, `SELECT `+sessionColumns+` FROM sessions s
		WHERE s.identity_id = $1 AND s.revoked_at IS NULL AND s.idle_expires_at > $2 AND s.expires_at > $2
		ORDER BY s.seen_at DESC LIMIT 100`, identityID, now)
	if err != nil {
		return nil, fmt.Errorf("session: list %s: %w", identityID, err)
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		var (
			s                                Session
			methods                          string
			authAt, created, seen, idle, exp int64
			idleTimeout                      int64
			revoked                          sql.NullInt64
		)
		if err := rows.Scan(&s.ID, &s.Domain, &s.IdentityID, &s.AAL, &methods, &s.DeviceID, &s.IP, &s.UserAgent,
			&authAt, &created, &seen, &idle, &exp, &revoked, &idleTimeout); err != nil {
			return nil, fmt.Errorf("session: list %s: %w", identityID, err)
		}
		_ = json.Unmarshal([]byte(methods), &s.Methods)
		s.AuthenticatedAt, s.CreatedAt, s.SeenAt = store.FromMicros(authAt), store.FromMicros(created), store.FromMicros(seen)
		s.IdleExpiresAt, s.ExpiresAt = store.FromMicros(idle), store.FromMicros(exp)
		s.IdleTimeout = time.Duration(idleTimeout) * time.Microsecond
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("session: list %s: %w", identityID, err)
	}
	return out, nil
}

// Live reports whether the session id is live: not revoked, idle or past
// its lifetime.
func (m *Manager) Live(ctx context.Context, id string) (bool, error) {
	now := store.Micros(m.now())
	var n int
	err := m.db.QueryRow(ctx, `SELECT COUNT(*) FROM sessions WHERE id = $1 AND revoked_at IS NULL AND idle_expires_at > $2 AND expires_at > $2`,
		id, now).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("session: live %s: %w", id, err)
	}
	return n > 0, nil
}

// RevokeID ends the session id of an identity (a device signed out from
// another); false when the identity has no such live session.
func (m *Manager) RevokeID(ctx context.Context, identityID, id string) (bool, error) {
	res, err := m.db.Exec(ctx, `UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND identity_id = $3 AND revoked_at IS NULL`,
		store.Micros(m.now()), id, identityID)
	if err != nil {
		return false, fmt.Errorf("session: revoke %s: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// TokenFromRequest returns the session token of a request: the
// "Authorization: Bearer" header first, then the session cookie. Another
// kind of Authorization header (say Basic, from a proxy in front) does not
// hide the cookie.
func TokenFromRequest(r *http.Request, cookieName string) string {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(tok)
	}
	if c, err := r.Cookie(cookieName); err == nil {
		return c.Value
	}
	return ""
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// truncate keeps at most n bytes of s, as valid UTF-8: what a client sent
// in a header may be neither short nor UTF-8, and PostgreSQL takes only
// UTF-8.
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// Upgrade records an extra authentication on a live session — a step-up —
// and rotates it: the old token stops working and a new one is returned,
// with the method added, the assurance level raised to aal, and the
// authentication time set to now. It returns ErrInvalid when the old
// token is not live.
func (m *Manager) Upgrade(ctx context.Context, token, method, aal string) (string, *Session, error) {
	old, err := m.Authenticate(ctx, token)
	if err != nil {
		return "", nil, err
	}
	var raw [32]byte
	if _, err := io.ReadFull(m.random, raw[:]); err != nil {
		return "", nil, fmt.Errorf("session: random: %w", err)
	}
	newToken := TokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	now := m.now().UTC()
	s := *old
	s.ID = uuid.Must(uuid.NewV7()).String()
	if !slices.Contains(s.Methods, method) {
		s.Methods = append(slices.Clone(s.Methods), method)
	}
	if aal > s.AAL {
		s.AAL = aal
	}
	s.AuthenticatedAt, s.SeenAt = now, now
	s.IdleExpiresAt = minTime(now.Add(m.idleOf(&s)), s.ExpiresAt)
	methods, _ := json.Marshal(s.Methods)
	err = m.db.InTx(ctx, func(tx *store.Tx) error {
		// Revoked by someone else meanwhile: ErrInvalid.
		err := tx.ExecOne(ctx, ErrInvalid, `UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, store.Micros(now), old.ID)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO sessions (id, domain, token_hash, identity_id, aal, methods, device_id, ip, user_agent,
				authenticated_at, created_at, seen_at, idle_expires_at, expires_at, idle_timeout)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $10, $12, $13, $14)`,
			s.ID, s.Domain, HashToken(newToken), s.IdentityID, s.AAL, string(methods), s.DeviceID, s.IP, s.UserAgent,
			store.Micros(now), store.Micros(s.CreatedAt), store.Micros(s.IdleExpiresAt), store.Micros(s.ExpiresAt), s.IdleTimeout.Microseconds())
		if err != nil || m.Replaced == nil {
			return err
		}
		return m.Replaced(ctx, tx, old.ID, s.ID, s.IdentityID)
	})
	if errors.Is(err, ErrInvalid) {
		return "", nil, ErrInvalid
	}
	if err != nil {
		return "", nil, fmt.Errorf("session: upgrade: %w", err)
	}
	return newToken, &s, nil
}

// Prune deletes the sessions that ended before cutoff: idle or past their
// lifetime, or signed out. Until then an ended session still tells that
// its device is known (KnownDevice).
func (m *Manager) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	idle, err := m.db.DeleteInBatches(ctx, `DELETE FROM sessions WHERE token_hash IN
		(SELECT token_hash FROM sessions WHERE idle_expires_at < $2 LIMIT $1)`, store.Micros(cutoff))
	if err != nil {
		return idle, fmt.Errorf("session: prune: %w", err)
	}
	revoked, err := m.db.DeleteInBatches(ctx, `DELETE FROM sessions WHERE token_hash IN
		(SELECT token_hash FROM sessions WHERE revoked_at < $2 LIMIT $1)`, store.Micros(cutoff))
	if err != nil {
		return idle + revoked, fmt.Errorf("session: prune: %w", err)
	}
	return idle + revoked, nil
}
