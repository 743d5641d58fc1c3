package flow

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := NewStore(db)
		now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
		f := &Flow{Domain: "customers", Type: TypeLogin, Channel: ChannelBrowser, State: StateForm, Binding: "b",
			CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour), Data: Data{Email: "a@example.com"}}
		if err := s.Create(ctx, f); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, f.ID)
		if err != nil || got.Data.Email != "a@example.com" || got.Version != 1 || !got.ExpiresAt.Equal(now.Add(time.Hour)) {
			t.Fatalf("get: %+v %v", got, err)
		}
		// Optimistic locking: the second writer of the same version loses.
		a, _ := s.Get(ctx, f.ID)
		b, _ := s.Get(ctx, f.ID)
		a.State = StateVerify
		if err := s.Update(ctx, a, now); err != nil {
			t.Fatal(err)
		}
		b.State = StateDone
		if err := s.Update(ctx, b, now); !errors.Is(err, ErrChanged) {
			t.Fatalf("stale update: %v", err)
		}
		// Fail only moves a flow that still waits for a code: not one a
		// parallel submit finished since it was read.
		stale, _ := s.Get(ctx, f.ID)
		done, _ := s.Get(ctx, f.ID)
		done.State = StateDone
		if err := s.Finish(ctx, done, now); err != nil {
			t.Fatal(err)
		}
		if err := s.Fail(ctx, stale, now); !errors.Is(err, ErrWrongState) {
			t.Fatalf("failing a finished flow: %v", err)
		}
		if g, _ := s.Get(ctx, f.ID); g.State != StateDone {
			t.Fatalf("Fail undid a finished flow: %s", g.State)
		}
		if _, err := s.Get(ctx, "not-a-uuid"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("bad id: %v", err)
		}
		if n, err := s.Prune(ctx, now.Add(2*time.Hour)); err != nil || n != 1 {
			t.Fatalf("prune: %d %v", n, err)
		}
	})
}

func TestCheckCode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := NewStore(db)
		key := []byte("0123456789abcdef0123456789abcdef")
		now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
		f := &Flow{Domain: "customers", Type: TypeRegistration, Channel: ChannelAPI, State: StateVerify,
			CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := s.Create(ctx, f); err != nil {
			t.Fatal(err)
		}
		if r, _, _ := s.checkCode(ctx, key, f.ID, "123456", 5, now); r != CodeMissing {
			t.Fatalf("no code yet: %v", r)
		}
		if err := s.inTx(ctx, func(tx *store.Tx) error {
			return s.saveCode(ctx, tx, f.ID, "registration", codeHash(key, f.ID, "123456"), false, now, now.Add(15*time.Minute))
		}); err != nil {
			t.Fatal(err)
		}
		var stored string
		_ = db.QueryRow(ctx, `SELECT code_hash FROM codes WHERE flow_id = $1`, f.ID).Scan(&stored)
		if stored == "123456" || len(stored) != 64 {
			t.Fatalf("code stored as %q", stored)
		}
		if r, _, _ := s.checkCode(ctx, key, f.ID, "000000", 5, now); r != CodeWrong {
			t.Fatalf("wrong code: %v", r)
		}
		if r, _, _ := s.checkCode(ctx, key, f.ID, "123456", 5, now.Add(16*time.Minute)); r != CodeExpired {
			t.Fatalf("expired: %v", r)
		}
		// Parallel right answers: exactly one wins.
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for range 3 {
			wg.Go(func() {
				if r, _, err := s.checkCode(ctx, key, f.ID, "123456", 5, now); err == nil && r == CodeOK {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d wins", wins)
		}
		// A new code; five wrong attempts exhaust it.
		_ = s.inTx(ctx, func(tx *store.Tx) error {
			return s.saveCode(ctx, tx, f.ID, "registration", codeHash(key, f.ID, "654321"), true, now, now.Add(15*time.Minute))
		})
		results := []CodeResult{}
		for range 6 {
			r, _, _ := s.checkCode(ctx, key, f.ID, "111111", 5, now)
			results = append(results, r)
		}
		want := []CodeResult{CodeWrong, CodeWrong, CodeWrong, CodeWrong, CodeExhausted, CodeExhausted}
		for i := range want {
			if results[i] != want[i] {
				t.Fatalf("attempts: %v, want %v", results, want)
			}
		}
		if r, _, _ := s.checkCode(ctx, key, f.ID, "654321", 5, now); r != CodeExhausted {
			t.Fatalf("right code after exhaustion: %v", r)
		}
	})
}

func TestSaveCodeReplacesEarlierCodes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := NewStore(db)
		now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
		f := &Flow{Domain: "customers", Type: TypeVerification, Channel: ChannelAPI, State: StateVerify,
			CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := s.Create(ctx, f); err != nil {
			t.Fatal(err)
		}
		live := func() (n int) {
			if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM codes WHERE flow_id = $1 AND used_at IS NULL`, f.ID).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		for i, replace := range []bool{false, true, true} {
			if err := s.inTx(ctx, func(tx *store.Tx) error {
				return s.saveCode(ctx, tx, f.ID, f.Type, fmt.Sprintf("hash%d", i), replace, now, now.Add(15*time.Minute))
			}); err != nil {
				t.Fatal(err)
			}
			if n := live(); n != 1 {
				t.Fatalf("after code %d: %d live codes, want 1", i+1, n)
			}
		}
	})
}
