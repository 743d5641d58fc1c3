package courier

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// clock is a fake clock for tests: it only moves when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func codeMessage(to, code string) Message {
	return Message{Domain: "default", Template: "verification_code", To: to, Data: map[string]any{
		"Code": code, "ExpiresInMinutes": 15, "ProductName": "Acme"}}
}

func mustEnqueue(t *testing.T, o *Outbox, m Message) string {
	t.Helper()
	id, err := o.Enqueue(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func mustGet(t *testing.T, o *Outbox, id string) Entry {
	t.Helper()
	e, err := o.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEnqueueStoresRenderedMail(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clk := newClock()
		o := NewOutbox(db, clk.Now)
		id := mustEnqueue(t, o, codeMessage("alice@example.com", "428197"))
		e := mustGet(t, o, id)
		want, _ := Render(codeMessage("alice@example.com", "428197"))
		if e.Status != StatusQueued || e.Attempts != 0 || e.To != "alice@example.com" || e.Domain != "default" ||
			e.Template != "verification_code" || e.Subject != want.Subject || e.Text != want.Text || e.HTML != want.HTML ||
			!e.CreatedAt.Equal(clk.Now()) || !e.NextAttemptAt.Equal(clk.Now()) || !e.SentAt.IsZero() {
			t.Fatalf("stored entry = %+v", e)
		}
		select {
		case <-o.wake:
		default:
			t.Fatal("Enqueue did not wake the worker")
		}
		if _, err := o.Get(context.Background(), "missing"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get(missing) = %v, want ErrNotFound", err)
		}
		if _, err := o.Enqueue(context.Background(), Message{Template: "verification_code", To: "a@example.com"}); err == nil {
			t.Fatal("Enqueue without a domain succeeded")
		}
		if _, err := o.Enqueue(context.Background(), Message{Domain: "d", Template: "verification_code", To: "a@example.com"}); err == nil {
			t.Fatal("Enqueue without data succeeded")
		}
	})
}

func TestEnqueueTxRollsBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		o := NewOutbox(db, newClock().Now)
		var id string
		boom := errors.New("boom")
		err := db.InTx(ctx, func(tx *store.Tx) error {
			var err error
			if id, err = o.EnqueueTx(ctx, tx, codeMessage("a@example.com", "1")); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if _, err := o.Get(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("rolled back mail: %v, want ErrNotFound", err)
		}
	})
}

func TestClaimLeasesDueMail(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := newClock()
		o := NewOutbox(db, clk.Now)
		a := mustEnqueue(t, o, codeMessage("a@example.com", "1"))
		clk.Advance(time.Second)
		b := mustEnqueue(t, o, codeMessage("b@example.com", "2"))

		got, err := o.Claim(ctx, 1, time.Minute)
		if err != nil || len(got) != 1 || got[0].ID != a || got[0].Attempts != 1 || got[0].Text == "" {
			t.Fatalf("first claim = %v, %v; want the oldest mail, attempt 1", entryIDs(got), err)
		}
		clk.Advance(30 * time.Second)
		got, err = o.Claim(ctx, 10, time.Minute)
		if err != nil || len(got) != 1 || got[0].ID != b {
			t.Fatalf("second claim = %v, %v; want only b", entryIDs(got), err)
		}
		if got, _ := o.Claim(ctx, 10, time.Minute); len(got) != 0 {
			t.Fatalf("claimed leased mail again: %v", entryIDs(got))
		}
		// The claimer of a dies; its lease runs out and a is due again,
		// while b's lease still holds.
		clk.Advance(30 * time.Second)
		got, err = o.Claim(ctx, 10, time.Minute)
		if err != nil || len(got) != 1 || got[0].ID != a || got[0].Attempts != 2 {
			t.Fatalf("claim after lease = %v, %v; want a, attempt 2", entryIDs(got), err)
		}
		// The first claimer comes back: its claim is gone.
		if err := o.MarkSent(ctx, a, 1); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("MarkSent with a lost claim = %v, want ErrConflict", err)
		}
		if err := o.MarkSent(ctx, a, 2); err != nil {
			t.Fatal(err)
		}
		if err := o.MarkSent(ctx, "missing", 1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("MarkSent(missing) = %v, want ErrNotFound", err)
		}
	})
}

func TestMarkResults(t *testing.T) {
	for _, keep := range []bool{false, true} {
		name := "scrub"
		if keep {
			name = "keep bodies"
		}
		t.Run(name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				ctx := context.Background()
				clk := newClock()
				o := NewOutbox(db, clk.Now)
				o.KeepBodies = keep
				sent := mustEnqueue(t, o, codeMessage("a@example.com", "1"))
				retry := mustEnqueue(t, o, codeMessage("b@example.com", "2"))
				failed := mustEnqueue(t, o, codeMessage("c@example.com", "3"))
				if got, err := o.Claim(ctx, 10, time.Minute); err != nil || len(got) != 3 {
					t.Fatalf("claim = %d, %v", len(got), err)
				}
				if err := o.MarkSent(ctx, sent, 1); err != nil {
					t.Fatal(err)
				}
				at := clk.Now().Add(5 * time.Second)
				if err := o.MarkRetry(ctx, retry, 1, errors.New("451 busy"), at); err != nil {
					t.Fatal(err)
				}
				if err := o.MarkFailed(ctx, failed, 1, errors.New("550 no such user")); err != nil {
					t.Fatal(err)
				}

				e := mustGet(t, o, sent)
				if e.Status != StatusSent || !e.SentAt.Equal(clk.Now()) || (e.Text != "") == !keep || (e.HTML != "") == !keep {
					t.Errorf("sent entry = %+v", e)
				}
				e = mustGet(t, o, retry)
				if e.Status != StatusQueued || !e.NextAttemptAt.Equal(at) || e.LastError != "451 busy" || e.Text == "" {
					t.Errorf("retried entry = %+v", e)
				}
				e = mustGet(t, o, failed)
				if e.Status != StatusFailed || e.LastError != "550 no such user" || (e.Text != "") == !keep {
					t.Errorf("failed entry = %+v", e)
				}
				// Not due before its time, due after.
				if got, _ := o.Claim(ctx, 10, time.Minute); len(got) != 0 {
					t.Fatalf("claimed %d mails before the retry time", len(got))
				}
				clk.Advance(5 * time.Second)
				if got, _ := o.Claim(ctx, 10, time.Minute); len(got) != 1 || got[0].ID != retry || got[0].Attempts != 2 {
					t.Fatalf("claim at retry time = %v", entryIDs(got))
				}
			})
		})
	}
}

func TestListAndPrune(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := newClock()
		o := NewOutbox(db, clk.Now)
		var ids []string
		for _, to := range []string{"a@example.com", "b@example.com", "c@example.com"} {
			ids = append(ids, mustEnqueue(t, o, codeMessage(to, "1")))
			clk.Advance(time.Hour)
		}
		list, err := o.List(ctx, 2)
		if err != nil || len(list) != 2 || list[0].ID != ids[2] || list[1].ID != ids[1] {
			t.Fatalf("List = %v, %v; want the two newest, newest first", entryIDs(list), err)
		}
		// a is sent, b failed, c still queued; all are old.
		claimed, _ := o.Claim(ctx, 2, time.Minute)
		if len(claimed) != 2 {
			t.Fatalf("claimed %d", len(claimed))
		}
		_ = o.MarkSent(ctx, ids[0], 1)
		_ = o.MarkFailed(ctx, ids[1], 1, errors.New("x"))
		clk.Advance(30 * 24 * time.Hour)
		n, err := o.Prune(ctx, 7*24*time.Hour)
		if err != nil || n != 2 {
			t.Fatalf("Prune = %d, %v; want 2", n, err)
		}
		list, _ = o.List(ctx, 10)
		if len(list) != 1 || list[0].ID != ids[2] {
			t.Fatalf("after prune: %v; want only the queued mail", entryIDs(list))
		}
	})
}

// entryIDs lists entries as "id#attempts" for failure messages (bodies are long).
func entryIDs(entries []Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, fmt.Sprintf("%s#%d", e.ID, e.Attempts))
	}
	return out
}

func TestErrorTextIsValidUTF8(t *testing.T) {
	long := strings.Repeat("é", maxErrorText) // 2 bytes each: the cut falls inside a rune
	got := errorText(errors.New("a\x00" + long))
	if !utf8.ValidString(got) || strings.Contains(got, "\x00") || len(got) > maxErrorText {
		t.Fatalf("errorText gave %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
	}
}

// Mail with a NotAfter that is still undelivered by then is given up, its
// code erased, instead of arriving when the code no longer works.
func TestExpiredMailIsNotDelivered(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := newClock()
		o := NewOutbox(db, clk.Now)
		late := codeMessage("late@example.com", "111111")
		late.NotAfter = clk.Now().Add(15 * time.Minute)
		lateID := mustEnqueue(t, o, late)
		keep := mustEnqueue(t, o, codeMessage("keep@example.com", "222222"))
		// The first attempt fails and is retried later...
		got, err := o.Claim(ctx, 10, time.Minute)
		if err != nil || len(got) != 2 {
			t.Fatalf("claim = %v, %v", entryIDs(got), err)
		}
		for _, e := range got {
			if err := o.MarkRetry(ctx, e.ID, e.Attempts, errors.New("421 try later"), clk.Now().Add(20*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		// ...after the code expired: only the mail without NotAfter goes.
		clk.Advance(21 * time.Minute)
		got, err = o.Claim(ctx, 10, time.Minute)
		if err != nil || len(got) != 1 || got[0].ID != keep {
			t.Fatalf("claim after expiry = %v, %v; want only %s", entryIDs(got), err, keep)
		}
		if n, err := o.Expire(ctx); err != nil || n != 1 {
			t.Fatalf("Expire = %d, %v; want 1", n, err)
		}
		e := mustGet(t, o, lateID)
		if e.Status != StatusFailed || !strings.Contains(e.LastError, "expired") || strings.Contains(e.Text, "111111") {
			t.Fatalf("expired mail: status %s, error %q, body kept: %v", e.Status, e.LastError, strings.Contains(e.Text, "111111"))
		}
	})
}
