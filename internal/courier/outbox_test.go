package courier

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// enqueueTx runs EnqueueTx in a transaction that commits unless fail.
func enqueueTx(t *testing.T, o *Outbox, m Message, fail bool) string {
	t.Helper()
	var id string
	rollback := errors.New("rollback")
	err := o.db.InTx(context.Background(), func(tx *store.Tx) error {
		var err error
		if id, err = o.EnqueueTx(context.Background(), tx, m); err != nil {
			return err
		}
		if fail {
			return rollback
		}
		return nil
	})
	if fail != errors.Is(err, rollback) || (!fail && err != nil) {
		t.Fatalf("InTx = %v", err)
	}
	return id
}

// received returns the mail waiting in h, without waiting.
func received(h *handoff) []Entry {
	var got []Entry
	for {
		select {
		case e := <-h.mail:
			got = append(got, e)
		default:
			return got
		}
	}
}

// Mail enqueued while a worker takes the handoff is stored claimed for it
// and handed over once its transaction commits, with no claim of its own;
// should the worker never send it, it is due again when the lease runs
// out. A rolled-back transaction hands nothing over and gives its slot
// back; with no slot free, mail is queued for any worker to claim.
func TestHandoff(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := newClock()
		o := NewOutbox(db, clk.Now)
		h := o.openHandoff(2, time.Minute)
		if o.openHandoff(2, time.Minute) != nil {
			t.Fatal("a second worker took the handoff too")
		}

		a := enqueueTx(t, o, codeMessage("a@example.com", "1"), false)
		got := received(h)
		if len(got) != 1 || got[0].ID != a || got[0].Status != StatusSending || got[0].Attempts != 1 ||
			got[0].To != "a@example.com" || !strings.Contains(got[0].Text, "1") {
			t.Fatalf("handed over %+v; want a, claimed, attempt 1", got)
		}
		stored := mustGet(t, o, a)
		if stored.Status != StatusSending || stored.Attempts != 1 || !stored.NextAttemptAt.Equal(clk.Now().Add(time.Minute).Truncate(time.Microsecond)) {
			t.Fatalf("stored %s, attempt %d, leased until %v; want sending, 1, a minute from now",
				stored.Status, stored.Attempts, stored.NextAttemptAt)
		}
		if got, err := o.Claim(ctx, 10, time.Minute); err != nil || len(got) != 0 {
			t.Fatalf("Claim = %v, %v; handed-over mail is leased", entryIDs(got), err)
		}

		// Rolled back: nothing stored, nothing handed over, the slot is
		// free again.
		enqueueTx(t, o, codeMessage("gone@example.com", "2"), true)
		if got := received(h); len(got) != 0 {
			t.Fatalf("a rolled-back enqueue handed over %v", entryIDs(got))
		}
		b := enqueueTx(t, o, codeMessage("b@example.com", "3"), false)
		// Both slots are taken (a and b are not done): c is queued.
		c := enqueueTx(t, o, codeMessage("c@example.com", "4"), false)
		if got := received(h); len(got) != 1 || got[0].ID != b {
			t.Fatalf("handed over %v, want b", entryIDs(got))
		}
		if e := mustGet(t, o, c); e.Status != StatusQueued || e.Attempts != 0 {
			t.Fatalf("c is %s, attempt %d; want queued", e.Status, e.Attempts)
		}
		if got, err := o.Claim(ctx, 10, time.Minute); err != nil || len(got) != 1 || got[0].ID != c {
			t.Fatalf("Claim = %v, %v; want c", entryIDs(got), err)
		}
		if err := o.MarkSent(ctx, c, 1); err != nil {
			t.Fatal(err)
		}

		// a is done: its slot is free again.
		if err := o.MarkSent(ctx, a, 1); err != nil {
			t.Fatal(err)
		}
		h.release()
		d := enqueueTx(t, o, codeMessage("d@example.com", "5"), false)
		if got := received(h); len(got) != 1 || got[0].ID != d {
			t.Fatalf("handed over %v, want d", entryIDs(got))
		}

		// The worker holding b and d dies: the lease runs out and any
		// worker claims them, for their second attempt.
		o.closeHandoff(h)
		e := enqueueTx(t, o, codeMessage("e@example.com", "6"), false)
		if mustGet(t, o, e).Status != StatusQueued {
			t.Fatal("mail was handed over after the handoff closed")
		}
		clk.Advance(time.Minute)
		got, err := o.Claim(ctx, 10, time.Minute)
		slices.SortFunc(got, func(x, y Entry) int { return strings.Compare(x.To, y.To) })
		if err != nil || len(got) != 3 || got[0].ID != b || got[0].Attempts != 2 || got[1].ID != d || got[1].Attempts != 2 || got[2].ID != e {
			t.Fatalf("Claim after the lease = %v, %v; want b and d (attempt 2) and e", entryIDs(got), err)
		}
	})
}
