package keys

import (
	"cmp"
	"context"
	"crypto"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/foyer-id/foyer/internal/store"
)

// Rotation sets the timing of key rotation. Zero fields take the defaults.
type Rotation struct {
	// PublishBefore is how long a pending key is published in the JWKS
	// before it signs: at least as long as relying parties cache the
	// JWKS. Default 24h.
	PublishBefore time.Duration
	// RetainAfter is how long a retired key stays in the JWKS: at least
	// the longest lifetime of a token it may have signed (ID tokens, JWT
	// access tokens, logout tokens). Default 7 days.
	RetainAfter time.Duration
	// CacheFor is how long a Manager keeps the active signing keys and the
	// JWKS in memory before reading them again. It is also how long other
	// nodes may take to see a change, so it is added to both windows
	// above. Default 5s: an emergency rotation (Immediate) reaches every
	// node that quickly, for one read of the keys per node every 5 s.
	CacheFor time.Duration
}

// Default rotation timing.
const (
	DefaultPublishBefore = 24 * time.Hour
	DefaultRetainAfter   = 7 * 24 * time.Hour
	DefaultCacheFor      = 5 * time.Second
)

func (r Rotation) withDefaults() (Rotation, error) {
	var errs []error
	for _, f := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"PublishBefore", &r.PublishBefore, DefaultPublishBefore},
		{"RetainAfter", &r.RetainAfter, DefaultRetainAfter},
		{"CacheFor", &r.CacheFor, DefaultCacheFor},
	} {
		switch {
		case *f.v < 0:
			errs = append(errs, fmt.Errorf("keys: rotation %s must not be negative", f.name))
		case *f.v == 0:
			*f.v = f.def
		}
	}
	return r, errors.Join(errs...)
}

// MinSecretLength is the shortest server secret NewManager accepts, in
// bytes; config requires as much.
const MinSecretLength = 32

// Manager owns the signing keys in the signing_keys table: it creates,
// rotates, encrypts and caches them. It is safe for concurrent use, and
// several Managers (on several nodes) may share one database.
type Manager struct {
	db   *store.DB
	seal *sealer
	now  func() time.Time
	rot  Rotation

	cache atomic.Pointer[snapshot] // nil: read the database
	mu    sync.Mutex               // serialises refreshes and invalidations
	// decrypted holds the private keys of the last snapshot, by kid, so a
	// refresh decrypts only keys it has not seen. Guarded by mu.
	decrypted map[string]crypto.Signer
}

// NewManager returns a Manager for the keys in db, encrypted under a key
// derived from secret (the server secret, at least MinSecretLength bytes).
// now is the clock (nil means time.Now).
func NewManager(db *store.DB, secret []byte, now func() time.Time, cfg Rotation) (*Manager, error) {
	if db == nil {
		return nil, errors.New("keys: no database")
	}
	if len(secret) < MinSecretLength {
		return nil, fmt.Errorf("keys: the server secret must be at least %d bytes", MinSecretLength)
	}
	rot, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s, err := newSealer(secret)
	if err != nil {
		return nil, fmt.Errorf("keys: derive encryption key: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &Manager{db: db, seal: s, now: now, rot: rot}, nil
}

// Rotation returns the timing in effect, defaults filled in.
func (m *Manager) Rotation() Rotation { return m.rot }

// snapshot is what a Manager caches: the keys as read at one moment.
type snapshot struct {
	loadedAt time.Time
	signers  map[string]signerEntry // by algorithm; active keys only
	public   []Key                  // pending, active and unexpired retired keys
	jwks     jose.JSONWebKeySet
}

type signerEntry struct {
	key SigningKey
	err error // the key could not be decrypted
}

func (s *snapshot) fresh(now time.Time, ttl time.Duration) bool {
	return s != nil && !now.Before(s.loadedAt) && now.Before(s.loadedAt.Add(ttl))
}

// Signer returns the active signing key for alg. It reads the database
// at most once per CacheFor; otherwise it costs a map lookup.
func (m *Manager) Signer(ctx context.Context, alg string) (SigningKey, error) {
	s, err := m.snapshot(ctx)
	if err != nil {
		return SigningKey{}, fmt.Errorf("keys: signer %s: %w", alg, err)
	}
	e, ok := s.signers[alg]
	if !ok {
		if err := checkAlg(alg); err != nil {
			return SigningKey{}, err
		}
		return SigningKey{}, fmt.Errorf("keys: signer %s: no active key (Ensure creates one at start-up): %w", alg, store.ErrNotFound)
	}
	if e.err != nil {
		return SigningKey{}, e.err
	}
	return e.key, nil
}

// PublicKeys returns the keys to publish: pending, active and retired but
// not yet expired, of every algorithm; active keys first, then pending,
// then retired, newest first within each. Relying parties that take the
// first key of the set thus get the signing one.
func (m *Manager) PublicKeys(ctx context.Context) ([]Key, error) {
	s, err := m.snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: public keys: %w", err)
	}
	return slices.Clone(s.public), nil
}

// JWKS returns PublicKeys as a JSON Web Key Set, ready to marshal.
func (m *Manager) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	s, err := m.snapshot(ctx)
	if err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("keys: jwks: %w", err)
	}
	return jose.JSONWebKeySet{Keys: slices.Clone(s.jwks.Keys)}, nil
}

// snapshot returns the cached snapshot, reading the database when it is
// older than CacheFor. One caller reads; the others wait for it.
func (m *Manager) snapshot(ctx context.Context) (*snapshot, error) {
	if s := m.cache.Load(); s.fresh(m.now(), m.rot.CacheFor) {
		return s, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if s := m.cache.Load(); s.fresh(now, m.rot.CacheFor) {
		return s, nil
	}
	s, err := m.load(ctx, now)
	if err != nil {
		return nil, err
	}
	m.cache.Store(s)
	return s, nil
}

// invalidate drops the cache after this Manager changed the keys, so that
// it sees its own change at once. Other Managers see it within CacheFor.
func (m *Manager) invalidate() {
	m.mu.Lock()
	m.cache.Store(nil)
	m.mu.Unlock()
}

// row is one signing_keys row.
type row struct {
	Info
	sealed string // the encrypted private key; empty when not selected
	jwk    string
}

const selectColumns = `id, alg, state, public_jwk, created_at, activated_at, retired_at, expires_at`

func scanRow(sc interface{ Scan(...any) error }, r *row, extra ...any) error {
	var created int64
	var activated, retired, expires sql.NullInt64
	var state string
	dest := append([]any{&r.ID, &r.Algorithm, &state, &r.jwk, &created, &activated, &retired, &expires}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return err
	}
	r.State = State(state)
	r.CreatedAt = store.FromMicros(created)
	r.ActivatedAt = store.FromNullMicros(activated)
	r.RetiredAt = store.FromNullMicros(retired)
	r.ExpiresAt = store.FromNullMicros(expires)
	return nil
}

// load reads the published keys and decrypts the active ones. Called with
// m.mu held.
func (m *Manager) load(ctx context.Context, now time.Time) (*snapshot, error) {
	rows, err := m.db.Query(ctx, `SELECT `+selectColumns+`,
		CASE WHEN state = 'active' THEN private_key ELSE '' END
		FROM signing_keys WHERE state <> 'retired' OR expires_at > $1`, store.Micros(now))
	if err != nil {
		return nil, fmt.Errorf("read keys: %w", err)
	}
	var all []row
	for rows.Next() {
		var r row
		if err := scanRow(rows, &r, &r.sealed); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read keys: %w", store.Classify(err))
		}
		all = append(all, r)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("read keys: %w", store.Classify(err))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read keys: %w", store.Classify(err))
	}
	rank := map[State]int{Active: 0, Pending: 1, Retired: 2}
	slices.SortFunc(all, func(a, b row) int {
		return cmp.Or(
			cmp.Compare(rank[a.State], rank[b.State]),
			b.ActivatedAt.Compare(a.ActivatedAt),
			b.CreatedAt.Compare(a.CreatedAt),
			cmp.Compare(a.ID, b.ID),
		)
	})

	s := &snapshot{loadedAt: now, signers: map[string]signerEntry{}}
	decrypted := map[string]crypto.Signer{}
	for _, r := range all {
		pub, err := parsePublic(r.ID, r.Algorithm, r.jwk)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", r.ID, err)
		}
		k := Key{info: r.Info, pub: pub}
		s.public = append(s.public, k)
		s.jwks.Keys = append(s.jwks.Keys, k.JWK())
		if r.State != Active {
			continue
		}
		if _, done := s.signers[r.Algorithm]; done {
			continue // an older active key of the same algorithm
		}
		priv := m.decrypted[r.ID]
		if priv == nil {
			priv, err = m.seal.open(r.ID, r.Algorithm, r.sealed, pub)
			if err != nil {
				s.signers[r.Algorithm] = signerEntry{err: fmt.Errorf("keys: %s key %s: %w", r.Algorithm, r.ID, err)}
				continue
			}
		}
		decrypted[r.ID] = priv
		s.signers[r.Algorithm] = signerEntry{key: SigningKey{id: r.ID, alg: r.Algorithm, priv: priv}}
	}
	m.decrypted = decrypted
	return s, nil
}

// List returns every stored key, newest first, for operators. It reads the
// database (no cache) and returns no private material.
func (m *Manager) List(ctx context.Context) ([]Info, error) {
	rows, err := m.db.Query(ctx, `SELECT `+selectColumns+` FROM signing_keys ORDER BY created_at DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("keys: list: %w", err)
	}
	defer rows.Close()
	var out []Info
	for rows.Next() {
		var r row
		if err := scanRow(rows, &r); err != nil {
			return nil, fmt.Errorf("keys: list: %w", store.Classify(err))
		}
		out = append(out, r.Info)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("keys: list: %w", store.Classify(err))
	}
	return out, nil
}
