package courier

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/courier/smtptest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// codeRE finds the 6-digit code in a mail.
var codeRE = regexp.MustCompile(`\b\d{6}\b`)

// newRunWorker returns a worker on a new Outbox named node, on the real
// clock, whose logs go to the returned buffer.
func newRunWorker(db *store.DB, node string, sender Sender) (*Worker, *logBuffer) {
	logs := &logBuffer{}
	o := NewOutbox(db, time.Now)
	if node != "" {
		o.Node = node
	}
	return NewWorker(o, sender, slog.New(slog.NewJSONHandler(logs, nil))), logs
}

// runDuringOutage runs a worker whose mail server is down (srv, closed),
// with retries and polls an hour apart, so that only a resume sends the
// mail that waits for the server, and a probe of the server every probe
// (0: none).
func runDuringOutage(t *testing.T, db *store.DB, probe time.Duration) (*smtptest.Server, *Worker, *logBuffer) {
	t.Helper()
	srv := smtptest.Start(t)
	srv.Close()
	w, logs := newRunWorker(db, "", newSMTPSender(t, srv))
	w.Backoff = func(int) time.Duration { return time.Hour }
	w.PollInterval = time.Hour
	w.ProbeInterval = probe
	startRun(t, w)
	return srv, w, logs
}

// startRun runs w until the test ends (or until the returned stop is
// called, which waits for Run to return).
func startRun(t *testing.T, w *Worker) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := runWorker(ctx, w)
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	t.Cleanup(stop)
	waitForHandoff(t, w)
	return stop
}

// gate is a channel a test closes to let held-up deliveries go on; it is
// closed at the end of the test at the latest, so that a failed test does
// not leave Run waiting for them. Make it after startRun.
func gate(t *testing.T) (ch chan struct{}, open func()) {
	ch = make(chan struct{})
	var once sync.Once
	open = func() { once.Do(func() { close(ch) }) }
	t.Cleanup(open)
	return ch, open
}

// wait waits for ch to close, or fails the test.
func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-waitCtx(t).Done():
		t.Fatalf("%s did not happen", what)
	}
}

// A node that restarts under its name takes back at once the mail handed
// over to it before it died, instead of waiting out the lease; mail
// another node holds is left to it.
func TestRestartedNodeTakesBackItsMailAtOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		srv := smtptest.Start(t)
		// Node a hands a mail over to its worker, and dies before the
		// worker sends it.
		before := NewOutbox(db, time.Now)
		before.Node = "node-a"
		h := before.openHandoff(4, 5*time.Minute)
		mine := enqueueTx(t, before, codeMessage("mine@example.com", "111111"), false)
		if got := received(h); len(got) != 1 || got[0].ID != mine {
			t.Fatalf("handed over %v, want %s", entryIDs(got), mine)
		}
		// Node b, alive, is sending another one.
		other := NewOutbox(db, time.Now)
		other.Node = "node-b"
		theirs := mustEnqueue(t, other, codeMessage("theirs@example.com", "222222"))
		if got, err := other.Claim(ctx, 10, 5*time.Minute); err != nil || len(got) != 1 || got[0].ID != theirs {
			t.Fatalf("node b claimed %v, %v", entryIDs(got), err)
		}

		// Node a starts again, long before the lease runs out.
		w, logs := newRunWorker(db, "node-a", newSMTPSender(t, srv))
		w.PollInterval = time.Hour
		stop := startRun(t, w)
		if _, err := srv.WaitForMessage(waitCtx(t), "mine@example.com"); err != nil {
			t.Fatalf("the restarted node did not send its mail: %v", err)
		}
		stop()
		if e := mustGet(t, w.Outbox, mine); e.Status != StatusSent {
			t.Fatalf("mine: %s, want sent", e.Status)
		}
		if e := mustGet(t, w.Outbox, theirs); e.Status != StatusSending || e.Attempts != 1 {
			t.Fatalf("theirs: %s, attempt %d; want left to node b", e.Status, e.Attempts)
		}
		if n := len(srv.Messages()); n != 1 {
			t.Fatalf("%d mails sent, want 1", n)
		}
		if !strings.Contains(logs.String(), `"event":"mail_reclaimed"`) || !strings.Contains(logs.String(), `"count":1`) {
			t.Errorf("no mail_reclaimed log for one mail:\n%s", logs.String())
		}
	})
}

// Reclaim makes due now what a former process of the node held and had
// not started; an attempt it had under way is due once the attempt's
// deadline has passed. The former holder, should it still run,
// sends none of it.
func TestReclaim(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := newClock()
		before := NewOutbox(db, clk.Now)
		before.Node = "node-a"
		claimed := mustEnqueue(t, before, codeMessage("claimed@example.com", "1"))
		got, err := before.Claim(ctx, 10, time.Hour)
		if err != nil || len(got) != 1 {
			t.Fatalf("claim = %v, %v", entryIDs(got), err)
		}
		held := got[0]
		h := before.openHandoff(4, time.Hour)
		idle := enqueueTx(t, before, codeMessage("idle@example.com", "2"), false)
		onWire := enqueueTx(t, before, codeMessage("wire@example.com", "3"), false)
		handed := received(h)
		if len(handed) != 2 {
			t.Fatalf("handed over %v", entryIDs(handed))
		}
		deadline := clk.Now().Add(30 * time.Second)
		if s, err := before.begin(ctx, handed[1], deadline); err != nil || s != started {
			t.Fatalf("begin = %v, %v", s, err)
		}
		other := NewOutbox(db, clk.Now)
		other.Node = "node-b"
		theirs := mustEnqueue(t, other, codeMessage("theirs@example.com", "4"))
		if got, err := other.Claim(ctx, 10, time.Hour); err != nil || len(got) != 1 {
			t.Fatalf("node b claimed %v, %v", entryIDs(got), err)
		}

		clk.Advance(2 * time.Second)
		after := NewOutbox(db, clk.Now)
		after.Node = "node-a"
		if n, err := after.Reclaim(ctx); err != nil || n != 3 {
			t.Fatalf("Reclaim = %d, %v; want 3", n, err)
		}
		for _, id := range []string{claimed, idle} {
			if e := mustGet(t, after, id); e.Status != StatusSending || e.Attempts != 1 || !e.NextAttemptAt.Equal(clk.Now()) {
				t.Errorf("%s: %s, attempt %d, due %v; want the lease ended now", e.To, e.Status, e.Attempts, e.NextAttemptAt)
			}
		}
		if e := mustGet(t, after, onWire); e.Status != StatusSending || e.Attempts != 1 || !e.NextAttemptAt.Equal(deadline) {
			t.Errorf("%s: %s, attempt %d, due %v; want due at the attempt's deadline %v", e.To, e.Status, e.Attempts, e.NextAttemptAt, deadline)
		}
		if e := mustGet(t, after, theirs); e.Status != StatusSending || !e.NextAttemptAt.Equal(clk.Now().Add(-2*time.Second).Add(time.Hour)) {
			t.Errorf("node b's mail changed: %s, due %v", e.Status, e.NextAttemptAt)
		}
		got, err = after.Claim(ctx, 10, time.Hour)
		if err != nil || len(got) != 2 || got[0].Attempts != 2 || got[1].Attempts != 2 {
			t.Fatalf("claim after Reclaim = %v, %v; want the two not started", entryIDs(got), err)
		}
		// The former holder is still running after all: it sends neither.
		for _, e := range []Entry{held, handed[0]} {
			if s, err := before.begin(ctx, e, clk.Now().Add(30*time.Second)); err != nil || s != unwanted {
				t.Errorf("%s: the former holder's begin = %v, %v; want unwanted", e.To, s, err)
			}
		}
		clk.Advance(30 * time.Second)
		if got, err := after.Claim(ctx, 10, time.Hour); err != nil || len(got) != 1 || got[0].ID != onWire || got[0].Attempts != 2 {
			t.Fatalf("claim after the deadline = %v, %v; want %s, attempt 2", entryIDs(got), err, onWire)
		}
	})
}

// A newer code replaces a mail a worker holds already, claimed or handed
// over, and not yet started: the worker sends the newer one alone.
func TestSupersedeReachesMailAWorkerHolds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		srv := smtptest.Start(t)
		clk := newClock()
		w, logs := newTestWorker(t, db, clk, newSMTPSender(t, srv))
		claimedOld := mustEnqueue(t, w.Outbox, codeMessage("bob@example.com", "111111"))
		claimed, err := w.Outbox.Claim(ctx, 10, time.Hour)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim = %v, %v", entryIDs(claimed), err)
		}
		h := w.Outbox.openHandoff(4, time.Hour)
		handedOld := enqueueTx(t, w.Outbox, codeMessage("alice@example.com", "222222"), false)
		// The customers ask for new codes.
		err = db.InTx(ctx, func(tx *store.Tx) error {
			for _, id := range []string{claimedOld, handedOld} {
				if err := w.Outbox.SupersedeTx(ctx, tx, id); err != nil {
					return err
				}
			}
			if _, err := w.Outbox.EnqueueTx(ctx, tx, codeMessage("bob@example.com", "333333")); err != nil {
				return err
			}
			_, err := w.Outbox.EnqueueTx(ctx, tx, codeMessage("alice@example.com", "444444"))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		w.deliverAll(ctx, append(claimed, received(h)...))
		w.Outbox.closeHandoff(h)

		var codes []string
		for _, m := range srv.Messages() {
			codes = append(codes, codeRE.FindString(m.Text))
		}
		if len(codes) != 2 || strings.Contains(strings.Join(codes, " "), "111111") || strings.Contains(strings.Join(codes, " "), "222222") {
			t.Fatalf("sent codes %v; want the two new ones alone", codes)
		}
		for _, id := range []string{claimedOld, handedOld} {
			e := mustGet(t, w.Outbox, id)
			if e.Status != StatusFailed || e.LastError != errSuperseded.Error() || e.Text != "" {
				t.Errorf("%s: %s, %q, body %d bytes; want failed, superseded, erased", e.To, e.Status, e.LastError, len(e.Text))
			}
			if f, err := w.Outbox.Fate(ctx, id); err != nil || f.GivenUp {
				t.Errorf("Fate(%s) = %+v, %v; a replaced mail is not given up", e.To, f, err)
			}
		}
		if n := strings.Count(logs.String(), `"event":"mail_dropped"`); n != 2 {
			t.Errorf("%d mail_dropped logs, want 2:\n%s", n, logs.String())
		}
	})
}

// An old code whose attempt is under way when the customer asks for a new
// one is not overtaken by it: the new one waits until the old attempt is
// over, so the customer never gets the old code after the new.
func TestNoOldCodeArrivesAfterANewerOne(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		srv := smtptest.Start(t)
		smtp := newSMTPSender(t, srv)
		onWire := make(chan struct{})
		var release chan struct{}
		sender := senderFunc(func(ctx context.Context, m Mail) error {
			if strings.Contains(m.Text, "111111") {
				close(onWire) // a slow mail server takes its time
				<-release
			}
			return smtp.Send(ctx, m)
		})
		w, logs := newRunWorker(db, "", sender)
		w.SendTimeout = time.Hour // the new code waits for the old attempt, not for its deadline
		w.PollInterval = 10 * time.Millisecond
		startRun(t, w)
		release, open := gate(t)
		old := mustEnqueue(t, w.Outbox, codeMessage("alice@example.com", "111111"))
		wait(t, onWire, "the old code's attempt")

		err := db.InTx(ctx, func(tx *store.Tx) error {
			if err := w.Outbox.SupersedeTx(ctx, tx, old); err != nil {
				return err
			}
			_, err := w.Outbox.EnqueueTx(ctx, tx, codeMessage("alice@example.com", "222222"))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		logs.waitFor(t, `"event":"mail_held"`, 1)
		open()
		got, err := srv.WaitForMessages(waitCtx(t), "alice@example.com", 2)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(got[0].Text, "111111") || !strings.Contains(got[1].Text, "222222") {
			t.Fatalf("codes arrived as %q then %q; want the old before the new", codeRE.FindString(got[0].Text), codeRE.FindString(got[1].Text))
		}
		if e := mustGet(t, w.Outbox, old); e.Status != StatusFailed || e.LastError != errSuperseded.Error() {
			t.Fatalf("old: %s, %q; want failed, superseded", e.Status, e.LastError)
		}
	})
}

// A mail server that hangs holds up neither the worker's polls nor mail
// the worker can send beside the hanging attempts: handed-over mail
// beyond the free slots waits its turn without stopping the loop.
func TestHangingServerStopsNoPolls(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		srv := smtptest.Start(t)
		smtp := newSMTPSender(t, srv)
		var mu sync.Mutex
		hanging := map[string]chan struct{}{}
		var release chan struct{}
		sender := senderFunc(func(ctx context.Context, m Mail) error {
			if strings.HasPrefix(m.To, "slow") {
				mu.Lock()
				close(hanging[m.To])
				mu.Unlock()
				<-release
			}
			return smtp.Send(ctx, m)
		})
		hangs := func(to string) <-chan struct{} {
			mu.Lock()
			defer mu.Unlock()
			hanging[to] = make(chan struct{})
			return hanging[to]
		}
		w, _ := newRunWorker(db, "", sender)
		w.BatchSize = 2
		w.PollInterval = 10 * time.Millisecond
		startRun(t, w)
		release, open := gate(t)
		other := NewOutbox(db, time.Now) // another node, whose mail this worker polls for

		// Both slots for handed-over mail hang; a third mail waits.
		slow1, slow2 := hangs("slow1@example.com"), hangs("slow2@example.com")
		mustEnqueue(t, w.Outbox, codeMessage("slow1@example.com", "1"))
		mustEnqueue(t, w.Outbox, codeMessage("slow2@example.com", "2"))
		wait(t, slow1, "slow1's attempt")
		wait(t, slow2, "slow2's attempt")
		mustEnqueue(t, w.Outbox, codeMessage("later@example.com", "3"))
		// One claimed mail hangs too: a claimed slot is left.
		slow3 := hangs("slow3@example.com")
		mustEnqueue(t, other, codeMessage("slow3@example.com", "4"))
		wait(t, slow3, "slow3's attempt")
		mustEnqueue(t, other, codeMessage("other@example.com", "5"))
		if _, err := srv.WaitForMessage(waitCtx(t), "other@example.com"); err != nil {
			t.Fatalf("another node's mail waited for the hanging ones: %v", err)
		}
		open()
		for _, to := range []string{"slow1@example.com", "slow2@example.com", "slow3@example.com", "later@example.com"} {
			if _, err := srv.WaitForMessage(waitCtx(t), to); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// Once the mail server is back, the first success makes the mail waiting
// for a retry due at once, instead of when its backoff runs out.
func TestSuccessResumesMailWaitingForTheServer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		srv, w, logs := runDuringOutage(t, db, 0)
		waiting := []string{"a@example.com", "b@example.com", "c@example.com"}
		for _, to := range waiting {
			mustEnqueue(t, w.Outbox, codeMessage(to, "1"))
		}
		logs.waitFor(t, `"event":"mail_retry"`, 3)
		srv.Restart()
		mustEnqueue(t, w.Outbox, codeMessage("new@example.com", "2"))
		for _, to := range append(waiting, "new@example.com") {
			if _, err := srv.WaitForMessage(waitCtx(t), to); err != nil {
				t.Fatalf("%v (waiting mail not resumed)", err)
			}
		}
		if !strings.Contains(logs.String(), `"event":"mail_resumed"`) {
			t.Errorf("no mail_resumed log:\n%s", logs.String())
		}
	})
}

// Only a failure that says the server is away makes the next success
// resume waiting mail: a recipient put off (greylisting) waits out its
// backoff, so that other mail does not burn its attempts.
func TestResumeFollowsOutagesOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		srv := smtptest.Start(t)
		clk := newClock()
		w, _ := newTestWorker(t, db, clk, newSMTPSender(t, srv))
		mustEnqueue(t, w.Outbox, codeMessage("first@example.com", "1"))
		if n := deliverDue(t, w); n != 1 {
			t.Fatalf("DeliverDue = %d", n)
		}
		srv.FailNext(1)
		grey := mustEnqueue(t, w.Outbox, codeMessage("grey@example.com", "2"))
		deliverDue(t, w)
		mustEnqueue(t, w.Outbox, codeMessage("second@example.com", "3"))
		deliverDue(t, w)
		if e := mustGet(t, w.Outbox, grey); e.Status != StatusQueued || !e.NextAttemptAt.Equal(clk.Now().Add(5*time.Second)) {
			t.Fatalf("greylisted mail: %s, due %v; want waiting out its backoff", e.Status, e.NextAttemptAt)
		}

		srv.Close()
		away := mustEnqueue(t, w.Outbox, codeMessage("away@example.com", "4"))
		deliverDue(t, w)
		srv.Restart()
		mustEnqueue(t, w.Outbox, codeMessage("back@example.com", "5"))
		if n := deliverDue(t, w); n != 1 {
			t.Fatalf("DeliverDue = %d, want the new mail alone", n)
		}
		// Same instant: both waiting mails are due now.
		if n := deliverDue(t, w); n != 2 {
			t.Fatalf("DeliverDue after the server came back = %d, want 2", n)
		}
		for _, id := range []string{grey, away} {
			if e := mustGet(t, w.Outbox, id); e.Status != StatusSent {
				t.Fatalf("%s: %s, want sent", e.To, e.Status)
			}
		}
	})
}

// Fate tells sent mail from mail given up, and a replaced mail from both.
func TestFate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := newClock()
		w, _ := newTestWorker(t, db, clk, senderFunc(func(ctx context.Context, m Mail) error {
			if m.To == "gone@example.com" {
				return Permanent(errors.New("550 no such user"))
			}
			return nil
		}))
		sent := mustEnqueue(t, w.Outbox, codeMessage("a@example.com", "1"))
		gone := mustEnqueue(t, w.Outbox, codeMessage("gone@example.com", "2"))
		deliverDue(t, w)
		replaced := mustEnqueue(t, w.Outbox, codeMessage("b@example.com", "3"))
		if err := db.InTx(ctx, func(tx *store.Tx) error { return w.Outbox.SupersedeTx(ctx, tx, replaced) }); err != nil {
			t.Fatal(err)
		}
		queued := mustEnqueue(t, w.Outbox, codeMessage("c@example.com", "4"))
		for _, tc := range []struct {
			id      string
			status  Status
			givenUp bool
		}{{sent, StatusSent, false}, {gone, StatusFailed, true}, {replaced, StatusFailed, false}, {queued, StatusQueued, false}} {
			f, err := w.Outbox.Fate(ctx, tc.id)
			if err != nil || f.Status != tc.status || f.GivenUp != tc.givenUp || (tc.status == StatusSent) == f.SentAt.IsZero() {
				t.Errorf("Fate = %+v, %v; want %s, given up %v", f, err, tc.status, tc.givenUp)
			}
		}
		if _, err := w.Outbox.Fate(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Fate(missing) = %v, want ErrNotFound", err)
		}
	})
}

// Mail held back by an outage leaves once the server is back, even when
// no new mail comes to show it: the worker probes the server meanwhile.
func TestProbeResumesMailWhenTheServerIsBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		srv, w, logs := runDuringOutage(t, db, 10*time.Millisecond)
		mustEnqueue(t, w.Outbox, codeMessage("alone@example.com", "1"))
		logs.waitFor(t, `"event":"mail_retry"`, 1)
		srv.Restart()
		if _, err := srv.WaitForMessage(waitCtx(t), "alone@example.com"); err != nil {
			t.Fatalf("%v (the lone mail waits out its backoff)", err)
		}
	})
}
