package keys_test

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/keys"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// published returns the kids in the JWKS.
func published(t *testing.T, m *keys.Manager) []string {
	t.Helper()
	set, err := m.JWKS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	return kids
}

func signerID(t *testing.T, m *keys.Manager, alg string) string {
	t.Helper()
	sk, err := m.Signer(context.Background(), alg)
	if err != nil {
		t.Fatal(err)
	}
	return sk.ID()
}

// states returns kid → state for every stored key.
func states(t *testing.T, m *keys.Manager) map[string]keys.Info {
	t.Helper()
	list, err := m.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]keys.Info{}
	for _, i := range list {
		out[i.ID] = i
	}
	return out
}

func maintain(t *testing.T, m *keys.Manager) {
	t.Helper()
	if err := m.Maintain(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestRotationLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := newClock()
		m := newManager(t, db, c, secret)
		if err := m.Ensure(ctx, keys.ES256); err != nil {
			t.Fatal(err)
		}
		k1 := signerID(t, m, keys.ES256)
		old := sign(t, mustSigner(t, m, keys.ES256))

		c.Advance(time.Hour)
		k2key, err := m.Rotate(ctx, keys.ES256)
		if err != nil {
			t.Fatal(err)
		}
		k2 := k2key.ID()
		if i := k2key.Info(); i.State != keys.Pending || !i.ActivatedAt.IsZero() || !i.CreatedAt.Equal(c.Now()) {
			t.Fatalf("rotated key %+v", i)
		}
		// Pending: published at once (active key first), not signing.
		if got := published(t, m); !slices.Equal(got, []string{k1, k2}) {
			t.Fatalf("JWKS %v, want [%s %s]", got, k1, k2)
		}
		if signerID(t, m, keys.ES256) != k1 {
			t.Fatal("a pending key signs")
		}

		// Publication lasts PublishBefore plus CacheFor (for other nodes).
		for _, step := range []time.Duration{time.Hour, testRotation.PublishBefore - time.Hour, testRotation.CacheFor - time.Microsecond} {
			c.Advance(step)
			maintain(t, m)
			if signerID(t, m, keys.ES256) != k1 || states(t, m)[k2].State != keys.Pending {
				t.Fatalf("promoted after %v of %v", c.Now().Sub(k2key.Info().CreatedAt), testRotation.PublishBefore+testRotation.CacheFor)
			}
		}
		c.Advance(time.Microsecond)
		maintain(t, m)
		now := c.Now()
		if signerID(t, m, keys.ES256) != k2 {
			t.Fatal("the pending key was not promoted")
		}
		st := states(t, m)
		wantExpiry := now.Add(testRotation.RetainAfter + testRotation.CacheFor)
		if st[k1].State != keys.Retired || !st[k1].RetiredAt.Equal(now) || !st[k1].ExpiresAt.Equal(wantExpiry) {
			t.Fatalf("old key %+v, want retired now, expiring %v", st[k1], wantExpiry)
		}
		if st[k2].State != keys.Active || !st[k2].ActivatedAt.Equal(now) {
			t.Fatalf("new key %+v", st[k2])
		}
		// The retired key stays published: tokens it signed still verify.
		if got := published(t, m); !slices.Equal(got, []string{k2, k1}) {
			t.Fatalf("JWKS %v, want [%s %s]", got, k2, k1)
		}
		if err := verify(t, m, old); err != nil {
			t.Fatalf("token from the retired key: %v", err)
		}
		maintain(t, m) // idempotent
		if got := states(t, m); len(got) != 2 || got[k2].State != keys.Active || got[k1].State != keys.Retired {
			t.Fatalf("second Maintain changed %v", got)
		}

		// Retention lasts RetainAfter plus CacheFor.
		c.Advance(testRotation.RetainAfter)
		maintain(t, m)
		if got := published(t, m); !slices.Contains(got, k1) {
			t.Fatal("retired key dropped before RetainAfter+CacheFor")
		}
		c.Advance(testRotation.CacheFor)
		maintain(t, m)
		if got := published(t, m); !slices.Equal(got, []string{k2}) {
			t.Fatalf("JWKS %v after retention, want [%s]", got, k2)
		}
		if got := states(t, m); len(got) != 1 {
			t.Fatalf("stored keys %v after retention, want only %s", got, k2)
		}
		if err := verify(t, m, old); err == nil {
			t.Fatal("a token of a deleted key verifies")
		}
		maintain(t, m)
		if signerID(t, m, keys.ES256) != k2 {
			t.Fatal("signer changed")
		}
	})
}

func mustSigner(t *testing.T, m *keys.Manager, alg string) keys.SigningKey {
	t.Helper()
	sk, err := m.Signer(context.Background(), alg)
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

// Several algorithms rotate independently, and when two pending keys are
// ripe the newest wins and the other, which never signed, goes.
func TestMaintainSeveralPending(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := newClock()
		m := newManager(t, db, c, secret)
		if err := m.Ensure(ctx, keys.ES256, keys.EdDSA); err != nil {
			t.Fatal(err)
		}
		es1, ed1 := signerID(t, m, keys.ES256), signerID(t, m, keys.EdDSA)
		rotate := func() keys.Key {
			k, err := m.Rotate(ctx, keys.ES256)
			if err != nil {
				t.Fatal(err)
			}
			return k
		}
		a := rotate()
		c.Advance(time.Minute)
		b := rotate()
		c.Advance(testRotation.PublishBefore)
		late := rotate() // not ripe yet
		c.Advance(testRotation.CacheFor)
		maintain(t, m)
		st := states(t, m)
		if _, ok := st[a.ID()]; ok {
			t.Errorf("passed-over pending key kept: %+v", st[a.ID()])
		}
		if st[b.ID()].State != keys.Active || st[es1].State != keys.Retired || st[late.ID()].State != keys.Pending {
			t.Errorf("states %+v", st)
		}
		if st[ed1].State != keys.Active || signerID(t, m, keys.EdDSA) != ed1 {
			t.Errorf("EdDSA key touched: %+v", st[ed1])
		}
		if signerID(t, m, keys.ES256) != b.ID() {
			t.Error("signer is not the promoted key")
		}
	})
}

func TestImmediateRotation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := newClock()
		m := newManager(t, db, c, secret)
		if err := m.Ensure(ctx, keys.ES256); err != nil {
			t.Fatal(err)
		}
		k1 := signerID(t, m, keys.ES256)
		old := sign(t, mustSigner(t, m, keys.ES256))
		pending, err := m.Rotate(ctx, keys.ES256)
		if err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Hour)
		k2, err := m.Rotate(ctx, keys.ES256, keys.Immediate)
		if err != nil {
			t.Fatal(err)
		}
		if k2.Info().State != keys.Active || signerID(t, m, keys.ES256) != k2.ID() {
			t.Fatalf("immediate key %+v does not sign at once", k2.Info())
		}
		st := states(t, m)
		if st[k1].State != keys.Retired || !st[k1].ExpiresAt.Equal(c.Now().Add(testRotation.RetainAfter+testRotation.CacheFor)) {
			t.Fatalf("old key %+v", st[k1])
		}
		if st[pending.ID()].State != keys.Pending {
			t.Fatalf("pending key %+v", st[pending.ID()])
		}
		if got := published(t, m); !slices.Equal(got, []string{k2.ID(), pending.ID(), k1}) {
			t.Fatalf("JWKS %v", got)
		}
		if err := verify(t, m, old); err != nil {
			t.Fatalf("token of the retired key: %v", err)
		}
		if err := verify(t, m, sign(t, mustSigner(t, m, keys.ES256))); err != nil {
			t.Fatalf("token of the new key: %v", err)
		}
	})
}

// Rotating an algorithm that has no active key makes the key active at
// once: there is nothing to sign with otherwise.
func TestRotateWithoutActiveKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		m := newManager(t, db, newClock(), secret)
		k, err := m.Rotate(context.Background(), keys.EdDSA)
		if err != nil {
			t.Fatal(err)
		}
		if k.Info().State != keys.Active || signerID(t, m, keys.EdDSA) != k.ID() {
			t.Fatalf("first key %+v", k.Info())
		}
	})
}

// Nodes starting together create exactly one active key per algorithm.
func TestEnsureConcurrent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := newClock()
		const nodes = 8
		ms := make([]*keys.Manager, nodes)
		for i := range ms {
			ms[i] = newManager(t, db, c, secret)
		}
		start := make(chan struct{})
		errs := make(chan error, nodes)
		var wg sync.WaitGroup
		for _, m := range ms {
			wg.Go(func() {
				<-start
				errs <- m.Ensure(ctx, keys.ES256, keys.EdDSA)
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		list, err := ms[0].List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		active := map[string]int{}
		for _, i := range list {
			if i.State == keys.Active {
				active[i.Algorithm]++
			}
		}
		if len(list) != 2 || active[keys.ES256] != 1 || active[keys.EdDSA] != 1 {
			t.Fatalf("keys after concurrent Ensure: %+v", list)
		}
		for _, m := range ms {
			if signerID(t, m, keys.ES256) != signerID(t, ms[0], keys.ES256) {
				t.Fatal("nodes sign with different keys")
			}
		}
	})
}

// Nodes are separate processes with their own connections to one
// database: each gets its own store.DB here, warmed up, so that their
// transactions really overlap.
func TestEnsureSeveralNodes(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "foyer.db") }},
		{"postgres", func(t *testing.T) string { return storetest.PostgresDSN(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := tc.dsn(t)
			c := newClock()
			const nodes = 6
			ms := make([]*keys.Manager, nodes)
			for i := range ms {
				db, err := store.Open(ctx, dsn)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				if i == 0 {
					if _, err := db.Migrate(ctx); err != nil {
						t.Fatal(err)
					}
				}
				ms[i] = newManager(t, db, c, secret)
				if _, err := ms[i].List(ctx); err != nil { // open a connection
					t.Fatal(err)
				}
			}
			for round, algs := range [][]string{{keys.ES256}, {keys.ES256, keys.EdDSA, keys.RS256}} {
				start := make(chan struct{})
				errs := make(chan error, nodes)
				var wg sync.WaitGroup
				for _, m := range ms {
					wg.Go(func() {
						<-start
						errs <- m.Ensure(ctx, algs...)
					})
				}
				close(start)
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						t.Fatalf("round %d: %v", round, err)
					}
				}
				list, err := ms[0].List(ctx)
				if err != nil {
					t.Fatal(err)
				}
				active := map[string]int{}
				for _, i := range list {
					if i.State == keys.Active {
						active[i.Algorithm]++
					}
				}
				if len(list) != len(algs) || len(active) != len(algs) {
					t.Fatalf("round %d: keys after concurrent Ensure(%v): %+v", round, algs, list)
				}
				for alg, n := range active {
					if n != 1 {
						t.Fatalf("round %d: %d active %s keys", round, n, alg)
					}
				}
			}

			// Every node runs Maintain when the pending key is ripe.
			before := signerID(t, ms[0], keys.ES256)
			next, err := ms[0].Rotate(ctx, keys.ES256)
			if err != nil {
				t.Fatal(err)
			}
			c.Advance(testRotation.PublishBefore + testRotation.CacheFor)
			var wg sync.WaitGroup
			for _, m := range ms {
				wg.Go(func() {
					if err := m.Maintain(ctx); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			st := states(t, ms[0])
			if len(st) != 4 || st[next.ID()].State != keys.Active || st[before].State != keys.Retired {
				t.Fatalf("after concurrent Maintain: %+v", st)
			}
			for _, m := range ms {
				if signerID(t, m, keys.ES256) != next.ID() {
					t.Fatal("a node does not sign with the promoted key")
				}
			}
		})
	}
}

// Signer and the JWKS come from memory for CacheFor: a change made by
// another node is not seen until then (so no database read happened), and
// is seen right after.
func TestCache(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := newClock()
		node1, node2 := newManager(t, db, c, secret), newManager(t, db, c, secret)
		if err := node1.Ensure(ctx, keys.ES256); err != nil {
			t.Fatal(err)
		}
		k1 := signerID(t, node1, keys.ES256)
		first := mustSigner(t, node1, keys.ES256)

		k2, err := node2.Rotate(ctx, keys.ES256, keys.Immediate)
		if err != nil {
			t.Fatal(err)
		}
		// node2 sees its own change at once.
		if signerID(t, node2, keys.ES256) != k2.ID() {
			t.Fatal("node2 does not sign with its new key")
		}
		c.Advance(testRotation.CacheFor - time.Nanosecond)
		if sk := mustSigner(t, node1, keys.ES256); sk.ID() != k1 || sk.Key() != first.Key() {
			t.Fatal("node1 read the database within CacheFor")
		}
		if got := published(t, node1); !slices.Equal(got, []string{k1}) {
			t.Fatalf("node1 JWKS %v within CacheFor", got)
		}
		c.Advance(time.Nanosecond)
		if signerID(t, node1, keys.ES256) != k2.ID() {
			t.Fatal("node1 did not refresh after CacheFor")
		}
		if got := published(t, node1); !slices.Equal(got, []string{k2.ID(), k1}) {
			t.Fatalf("node1 JWKS %v after CacheFor", got)
		}
	})
}

// Signer is safe for concurrent use while the cache expires and the keys
// rotate (run with -race).
func TestSignerConcurrent(t *testing.T) {
	ctx := context.Background()
	db := storetest.NewSQLite(t)
	c := newClock()
	m := newManager(t, db, c, secret)
	if err := m.Ensure(ctx, keys.ES256); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				if _, err := m.Signer(ctx, keys.ES256); err != nil {
					t.Error(err)
					return
				}
				if _, err := m.JWKS(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range 5 {
		c.Advance(testRotation.CacheFor)
		if _, err := m.Rotate(ctx, keys.ES256, keys.Immediate); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}
