package keys

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/foyer-id/foyer/internal/store"
)

// advisoryLock is the PostgreSQL advisory lock that serialises key changes
// across nodes (store's migrations use 4455001). On SQLite the single
// writer connection (BEGIN IMMEDIATE) serialises them.
const advisoryLock = 4455002

// RotateOption changes how Rotate introduces the new key.
type RotateOption int

const (
	// Immediate makes the new key active at once and retires the active
	// one, for emergencies (a compromised key). The trade-off: relying
	// parties that cached the JWKS before the new key was published reject
	// tokens signed with it until they fetch the JWKS again (most refetch
	// on an unknown kid; some only when their cache expires). The retired
	// key stays published for RetainAfter, so tokens it signed — and, if
	// it leaked, tokens forged with it — keep verifying until then.
	Immediate RotateOption = iota + 1
)

// newKey is a freshly generated key, ready to insert.
type newKey struct {
	kid, alg, sealed, jwk string
	pub                   crypto.PublicKey
}

func (m *Manager) generate(alg string) (newKey, error) {
	priv, err := generate(alg)
	if err != nil {
		return newKey{}, err
	}
	k := newKey{kid: newKID(), alg: alg, pub: priv.Public()}
	if k.sealed, err = m.seal.seal(k.kid, priv); err != nil {
		return newKey{}, err
	}
	if k.jwk, err = marshalPublic(k.kid, alg, k.pub); err != nil {
		return newKey{}, err
	}
	return k, nil
}

// insert writes k in state; an active key gets activated_at = now.
func (k newKey) insert(ctx context.Context, tx *store.Tx, state State, now time.Time) (Key, error) {
	info := Info{ID: k.kid, Algorithm: k.alg, State: state, CreatedAt: store.FromMicros(store.Micros(now))}
	if state == Active {
		info.ActivatedAt = info.CreatedAt
	}
	_, err := tx.Exec(ctx, `INSERT INTO signing_keys
		(id, alg, state, private_key, public_jwk, created_at, activated_at, retired_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL)`,
		k.kid, k.alg, string(state), k.sealed, k.jwk, store.Micros(now), store.NullMicros(info.ActivatedAt))
	if err != nil {
		return Key{}, fmt.Errorf("insert %s: %w", k.kid, err)
	}
	return Key{info: info, pub: k.pub}, nil
}

// lockedTx runs fn in a write transaction that holds the key lock.
func (m *Manager) lockedTx(ctx context.Context, fn func(tx *store.Tx) error) error {
	return m.db.InTx(ctx, func(tx *store.Tx) error {
		if tx.Dialect == store.Postgres {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(advisoryLock)); err != nil {
				return fmt.Errorf("lock: %w", err)
			}
		}
		return fn(tx)
	})
}

// retireActive retires the active keys of alg.
func (m *Manager) retireActive(ctx context.Context, tx *store.Tx, alg string, now time.Time) error {
	expires := now.Add(m.rot.RetainAfter + m.rot.CacheFor)
	_, err := tx.Exec(ctx, `UPDATE signing_keys SET state = 'retired', retired_at = $1, expires_at = $2
		WHERE alg = $3 AND state = 'active'`, store.Micros(now), store.Micros(expires), alg)
	if err != nil {
		return fmt.Errorf("retire %s: %w", alg, err)
	}
	return nil
}

func hasActive(ctx context.Context, tx *store.Tx, alg string) (bool, error) {
	var n int
	err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM signing_keys WHERE alg = $1 AND state = 'active'`, alg).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("count active %s: %w", alg, store.Classify(err))
	}
	return n > 0, nil
}

// checkSecret refuses to add keys under a secret that cannot read the keys
// already stored (a CLI run with another secret than the servers'), which
// would leave servers with a key they cannot decrypt.
func (m *Manager) checkSecret(ctx context.Context) error {
	var r row
	err := scanRow(m.db.QueryRow(ctx, `SELECT `+selectColumns+`, private_key FROM signing_keys
		ORDER BY created_at DESC, id LIMIT 1`), &r, &r.sealed)
	if errors.Is(store.Classify(err), store.ErrNotFound) {
		return nil // no keys yet
	}
	if err != nil {
		return fmt.Errorf("read newest key: %w", store.Classify(err))
	}
	pub, err := parsePublic(r.ID, r.Algorithm, r.jwk)
	if err != nil {
		return fmt.Errorf("key %s: %w", r.ID, err)
	}
	if _, err := m.seal.open(r.ID, r.Algorithm, r.sealed, pub); err != nil {
		return fmt.Errorf("key %s: %w", r.ID, err)
	}
	return nil
}

// Ensure makes sure each algorithm in algs (DefaultAlgorithm when none) has
// an active key, creating one active at once where there is none: the
// first key needs no pre-publication, as no relying party knows any key
// yet. Call it at start-up. It is safe when several nodes start together:
// exactly one active key per algorithm results. It then checks that every
// active key decrypts with this Manager's secret, so a wrong secret fails
// the start-up rather than the first token.
func (m *Manager) Ensure(ctx context.Context, algs ...string) error {
	if len(algs) == 0 {
		algs = []string{DefaultAlgorithm}
	}
	algs = slices.Compact(slices.Sorted(slices.Values(algs)))
	for _, alg := range algs {
		if err := checkAlg(alg); err != nil {
			return fmt.Errorf("keys: ensure: %w", err)
		}
	}
	var missing []string
	for _, alg := range algs {
		var n int
		err := m.db.QueryRow(ctx, `SELECT COUNT(*) FROM signing_keys WHERE alg = $1 AND state = 'active'`, alg).Scan(&n)
		if err != nil {
			return fmt.Errorf("keys: ensure %s: %w", alg, store.Classify(err))
		}
		if n == 0 {
			missing = append(missing, alg)
		}
	}
	if len(missing) > 0 {
		if err := m.checkSecret(ctx); err != nil {
			return fmt.Errorf("keys: ensure: %w", err)
		}
		// Generate outside the transaction: RSA takes a while, and on
		// SQLite every writer waits for the transaction.
		fresh := make([]newKey, len(missing))
		for i, alg := range missing {
			k, err := m.generate(alg)
			if err != nil {
				return fmt.Errorf("keys: ensure %s: generate: %w", alg, err)
			}
			fresh[i] = k
		}
		err := m.lockedTx(ctx, func(tx *store.Tx) error {
			now := m.now()
			for _, k := range fresh {
				// Another node may have created one since we looked.
				ok, err := hasActive(ctx, tx, k.alg)
				if err != nil {
					return err
				}
				if ok {
					continue
				}
				if _, err := k.insert(ctx, tx, Active, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			m.invalidate()
			return fmt.Errorf("keys: ensure: %w", err)
		}
	}
	// Read afresh: another node may have created the keys since this
	// Manager last looked.
	m.invalidate()
	for _, alg := range algs {
		if _, err := m.Signer(ctx, alg); err != nil {
			return fmt.Errorf("keys: ensure: %w", err)
		}
	}
	return nil
}

// Rotate adds a new key for alg. By default the key is pending: published
// in the JWKS at once, signing only once Maintain promotes it after
// PublishBefore (+ CacheFor), when every relying party's cached JWKS has
// it. With Immediate — or when alg has no active key — it is active at
// once and any active key of alg is retired. Rotate refuses to run with a
// secret that cannot decrypt the stored keys.
func (m *Manager) Rotate(ctx context.Context, alg string, opts ...RotateOption) (Key, error) {
	if err := checkAlg(alg); err != nil {
		return Key{}, fmt.Errorf("keys: rotate: %w", err)
	}
	immediate := slices.Contains(opts, Immediate)
	if err := m.checkSecret(ctx); err != nil {
		return Key{}, fmt.Errorf("keys: rotate %s: %w", alg, err)
	}
	k, err := m.generate(alg)
	if err != nil {
		return Key{}, fmt.Errorf("keys: rotate %s: generate: %w", alg, err)
	}
	var out Key
	err = m.lockedTx(ctx, func(tx *store.Tx) error {
		now := m.now()
		active, err := hasActive(ctx, tx, alg)
		if err != nil {
			return err
		}
		if active && !immediate {
			out, err = k.insert(ctx, tx, Pending, now)
			return err
		}
		if err := m.retireActive(ctx, tx, alg, now); err != nil {
			return err
		}
		out, err = k.insert(ctx, tx, Active, now)
		return err
	})
	m.invalidate()
	if err != nil {
		return Key{}, fmt.Errorf("keys: rotate %s: %w", alg, err)
	}
	return out, nil
}

// Maintain moves keys along their lives: for each algorithm, the newest
// pending key published for at least PublishBefore (+ CacheFor) becomes
// active and the active key is retired, to expire after RetainAfter
// (+ CacheFor); older pending keys passed over that way never signed and
// are deleted; and retired keys past their expiry are deleted. Call it
// every minute or so on every node: it is idempotent, and nodes running it
// together serialise on the database. When there is nothing to do it only
// reads.
func (m *Manager) Maintain(ctx context.Context) error {
	now := m.now()
	ripe := store.Micros(now.Add(-m.rot.PublishBefore - m.rot.CacheFor))
	var n int
	err := m.db.QueryRow(ctx, `SELECT COUNT(*) FROM signing_keys
		WHERE (state = 'pending' AND created_at <= $1) OR (state = 'retired' AND expires_at <= $2)`,
		ripe, store.Micros(now)).Scan(&n)
	if err != nil {
		return fmt.Errorf("keys: maintain: %w", store.Classify(err))
	}
	if n == 0 {
		return nil
	}
	err = m.lockedTx(ctx, func(tx *store.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, alg FROM signing_keys
			WHERE state = 'pending' AND created_at <= $1
			ORDER BY alg, created_at DESC, id DESC`, ripe)
		if err != nil {
			return fmt.Errorf("read pending: %w", err)
		}
		type pending struct{ id, alg string }
		var ps []pending
		for rows.Next() {
			var p pending
			if err := rows.Scan(&p.id, &p.alg); err != nil {
				rows.Close()
				return fmt.Errorf("read pending: %w", err)
			}
			ps = append(ps, p)
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("read pending: %w", err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read pending: %w", err)
		}
		promoted := map[string]bool{}
		for _, p := range ps {
			if promoted[p.alg] {
				// Passed over for a newer key; it never signed anything.
				if _, err := tx.Exec(ctx, `DELETE FROM signing_keys WHERE id = $1 AND state = 'pending'`, p.id); err != nil {
					return fmt.Errorf("delete passed-over %s: %w", p.id, err)
				}
				continue
			}
			promoted[p.alg] = true
			if err := m.retireActive(ctx, tx, p.alg, now); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE signing_keys SET state = 'active', activated_at = $1
				WHERE id = $2 AND state = 'pending'`, store.Micros(now), p.id); err != nil {
				return fmt.Errorf("activate %s: %w", p.id, err)
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM signing_keys WHERE state = 'retired' AND expires_at <= $1`, store.Micros(now)); err != nil {
			return fmt.Errorf("delete expired: %w", err)
		}
		return nil
	})
	m.invalidate()
	if err != nil {
		return fmt.Errorf("keys: maintain: %w", err)
	}
	return nil
}
