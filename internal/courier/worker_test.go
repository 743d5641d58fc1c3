package courier

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/courier/smtptest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// logBuffer collects log output from concurrent deliveries, and lets a
// test wait for a line.
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{} // closed and replaced on each write
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.written != nil {
		close(b.written)
		b.written = nil
	}
	return b.buf.Write(p)
}

// waitFor waits until the logs hold s at least n times: a worker's event
// ("event":"mail_held") is how a test learns that it got so far.
func (b *logBuffer) waitFor(t *testing.T, s string, n int) {
	t.Helper()
	ctx := waitCtx(t)
	for {
		b.mu.Lock()
		if strings.Count(b.buf.String(), s) >= n {
			b.mu.Unlock()
			return
		}
		if b.written == nil {
			b.written = make(chan struct{})
		}
		written := b.written
		b.mu.Unlock()
		select {
		case <-written:
		case <-ctx.Done():
			t.Fatalf("no %d× %s in the logs:\n%s", n, s, b.String())
		}
	}
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// senderFunc adapts a function to Sender, for worker logic that does not
// need a mail server.
type senderFunc func(ctx context.Context, m Mail) error

func (f senderFunc) Send(ctx context.Context, m Mail) error { return f(ctx, m) }

// newTestWorker returns a worker on db with a fake clock and a
// deterministic backoff (5 s, 15 s, 45 s …) whose logs go to the returned
// buffer.
func newTestWorker(t *testing.T, db *store.DB, clk *clock, sender Sender) (*Worker, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	w := NewWorker(NewOutbox(db, clk.Now), sender, slog.New(slog.NewJSONHandler(logs, nil)))
	w.Backoff = func(attempt int) time.Duration { return backoff(attempt, 0.5) }
	return w, logs
}

func newSMTPSender(t *testing.T, srv *smtptest.Server) *SMTPSender {
	t.Helper()
	s, err := NewSMTPSender(srv.URL(), "Acme <no-reply@example.com>")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func deliverDue(t *testing.T, w *Worker) int {
	t.Helper()
	n, err := w.DeliverDue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitCtx bounds a wait for mail so that a broken test fails instead of
// hanging; it is not a timing assertion.
func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestDeliversOverSMTPAndErasesBodies(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		srv := smtptest.Start(t)
		clk := newClock()
		w, _ := newTestWorker(t, db, clk, newSMTPSender(t, srv))
		m := codeMessage("alice@example.com", "428197")
		id := mustEnqueue(t, w.Outbox, m)
		if n := deliverDue(t, w); n != 1 {
			t.Fatalf("DeliverDue = %d, want 1", n)
		}
		got, err := srv.WaitForMessage(waitCtx(t), "alice@example.com")
		if err != nil {
			t.Fatal(err)
		}
		want, _ := Render(m)
		if got.Subject != want.Subject || got.Text != want.Text || got.HTML != want.HTML {
			t.Errorf("delivered mail differs from the rendered one:\nsubject %q\ntext %q\nhtml %q", got.Subject, got.Text, got.HTML)
		}
		if got.From != "no-reply@example.com" || got.MailFrom != "no-reply@example.com" {
			t.Errorf("From = %q, envelope %q", got.From, got.MailFrom)
		}
		if got.MessageID != id+"@example.com" {
			t.Errorf("Message-ID = %q, want %q", got.MessageID, id+"@example.com")
		}
		if got.Header.Get("Auto-Submitted") != "auto-generated" {
			t.Errorf("Auto-Submitted = %q", got.Header.Get("Auto-Submitted"))
		}
		e := mustGet(t, w.Outbox, id)
		if e.Status != StatusSent || e.Attempts != 1 || e.Text != "" || e.HTML != "" || !e.SentAt.Equal(clk.Now()) {
			t.Errorf("after delivery: status %s, attempts %d, text %d bytes, html %d bytes, sent %v",
				e.Status, e.Attempts, len(e.Text), len(e.HTML), e.SentAt)
		}
		if e.Subject == "" {
			t.Error("the subject was erased; the mailbox list needs it")
		}
	})
}

func TestDeliversAfterServerRecovers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		srv := smtptest.Start(t)
		srv.FailNext(2)
		clk := newClock()
		w, logs := newTestWorker(t, db, clk, newSMTPSender(t, srv))
		id := mustEnqueue(t, w.Outbox, codeMessage("alice@example.com", "428197"))

		deliverDue(t, w)
		e := mustGet(t, w.Outbox, id)
		if e.Status != StatusQueued || e.Attempts != 1 || !e.NextAttemptAt.Equal(clk.Now().Add(5*time.Second)) ||
			!strings.Contains(e.LastError, "451") {
			t.Fatalf("after a rejection: status %s, attempts %d, next %v, error %q", e.Status, e.Attempts, e.NextAttemptAt, e.LastError)
		}
		if n := deliverDue(t, w); n != 0 {
			t.Fatalf("retried %d mails before their time", n)
		}
		clk.Advance(5 * time.Second)
		deliverDue(t, w)
		e = mustGet(t, w.Outbox, id)
		if e.Status != StatusQueued || e.Attempts != 2 || !e.NextAttemptAt.Equal(clk.Now().Add(15*time.Second)) {
			t.Fatalf("after a second rejection: status %s, attempts %d, next %v", e.Status, e.Attempts, e.NextAttemptAt)
		}
		clk.Advance(15 * time.Second)
		deliverDue(t, w)
		if _, err := srv.WaitForMessage(waitCtx(t), "alice@example.com"); err != nil {
			t.Fatal(err)
		}
		if e := mustGet(t, w.Outbox, id); e.Status != StatusSent || e.Attempts != 3 {
			t.Fatalf("status %s after %d attempts, want sent after 3", e.Status, e.Attempts)
		}
		if n := len(srv.Messages()); n != 1 {
			t.Fatalf("server got %d mails, want 1", n)
		}
		out := logs.String()
		for _, secret := range []string{"428197", "alice@example.com"} {
			if strings.Contains(out, secret) {
				t.Errorf("logs contain %q:\n%s", secret, out)
			}
		}
		for _, field := range []string{`"message_id":"` + id + `"`, `"template":"verification_code"`, `"attempt":2`, `"event":"mail_retry"`, `"event":"mail_sent"`} {
			if !strings.Contains(out, field) {
				t.Errorf("logs lack %s:\n%s", field, out)
			}
		}
	})
}

func TestDeliversAfterServerStarts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		srv := smtptest.Start(t)
		srv.Close()
		clk := newClock()
		w, _ := newTestWorker(t, db, clk, newSMTPSender(t, srv))
		id := mustEnqueue(t, w.Outbox, codeMessage("bob@example.com", "111222"))

		deliverDue(t, w)
		if e := mustGet(t, w.Outbox, id); e.Status != StatusQueued || e.LastError == "" {
			t.Fatalf("with the server down: status %s, error %q", e.Status, e.LastError)
		}
		srv.Restart()
		clk.Advance(5 * time.Second)
		deliverDue(t, w)
		m, err := srv.WaitForMessage(waitCtx(t), "bob@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Text, "111222") {
			t.Fatalf("delivered text %q lacks the code", m.Text)
		}
	})
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		srv := smtptest.Start(t)
		srv.FailNext(100)
		clk := newClock()
		w, logs := newTestWorker(t, db, clk, newSMTPSender(t, srv))
		w.MaxAttempts = 3
		id := mustEnqueue(t, w.Outbox, codeMessage("carol@example.com", "1"))
		for range 3 {
			if n := deliverDue(t, w); n != 1 {
				t.Fatalf("DeliverDue = %d, want 1", n)
			}
			clk.Advance(time.Hour)
		}
		e := mustGet(t, w.Outbox, id)
		if e.Status != StatusFailed || e.Attempts != 3 || e.Text != "" || e.HTML != "" {
			t.Fatalf("after 3 failures: status %s, attempts %d, bodies %d+%d bytes", e.Status, e.Attempts, len(e.Text), len(e.HTML))
		}
		if n := deliverDue(t, w); n != 0 {
			t.Fatalf("a failed mail was claimed again")
		}
		if !strings.Contains(logs.String(), `"event":"mail_failed"`) {
			t.Errorf("no mail_failed log:\n%s", logs.String())
		}
	})
}

func TestPermanentFailureIsNotRetried(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clk := newClock()
		calls := 0
		w, _ := newTestWorker(t, db, clk, senderFunc(func(ctx context.Context, m Mail) error {
			calls++
			return Permanent(errors.New("550 5.1.1 <" + m.To + ">: no such user"))
		}))
		id := mustEnqueue(t, w.Outbox, codeMessage("dave@example.com", "1"))
		deliverDue(t, w)
		clk.Advance(time.Hour)
		deliverDue(t, w)
		e := mustGet(t, w.Outbox, id)
		if calls != 1 || e.Status != StatusFailed {
			t.Fatalf("%d attempts, status %s; want 1 attempt, failed", calls, e.Status)
		}
		if strings.Contains(e.LastError, "dave@example.com") || !strings.Contains(e.LastError, "[recipient]") {
			t.Fatalf("stored error %q does not hide the recipient", e.LastError)
		}
	})
}

func TestExpiredLeaseIsDeliveredByAnotherWorker(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		srv := smtptest.Start(t)
		clk := newClock()
		w, _ := newTestWorker(t, db, clk, newSMTPSender(t, srv))
		id := mustEnqueue(t, w.Outbox, codeMessage("erin@example.com", "1"))
		// Another node claims the mail and dies.
		crashed := NewOutbox(db, clk.Now)
		if got, err := crashed.Claim(ctx, 10, w.Lease); err != nil || len(got) != 1 {
			t.Fatalf("claim = %d, %v", len(got), err)
		}
		if n := deliverDue(t, w); n != 0 {
			t.Fatalf("claimed a leased mail")
		}
		clk.Advance(w.Lease)
		if n := deliverDue(t, w); n != 1 {
			t.Fatalf("DeliverDue after the lease = %d, want 1", n)
		}
		if e := mustGet(t, w.Outbox, id); e.Status != StatusSent || e.Attempts != 2 {
			t.Fatalf("status %s, attempts %d; want sent on attempt 2", e.Status, e.Attempts)
		}
		if err := crashed.MarkSent(ctx, id, 1); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("late MarkSent from the dead node = %v, want ErrConflict", err)
		}
	})
}

// Two workers, as on two nodes, share one database: every mail is
// delivered, and exactly once.
func TestConcurrentWorkersDeliverEachMailOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		srv := smtptest.Start(t)
		clk := newClock()
		const mails = 30
		var workers []*Worker
		for range 2 {
			w, _ := newTestWorker(t, db, clk, newSMTPSender(t, srv))
			w.BatchSize = 3
			workers = append(workers, w)
		}
		want := map[string]bool{}
		for i := range mails {
			want[mustEnqueue(t, workers[i%2].Outbox, codeMessage("user"+string(rune('a'+i))+"@example.com", "1"))] = true
		}
		var wg sync.WaitGroup
		errs := make(chan error, len(workers))
		for _, w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					n, err := w.DeliverDue(context.Background())
					if err != nil {
						errs <- err
						return
					}
					if n == 0 {
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, m := range srv.Messages() {
			seen[strings.TrimSuffix(m.MessageID, "@example.com")]++
		}
		for id := range want {
			if seen[id] != 1 {
				t.Errorf("mail %s delivered %d times", id, seen[id])
			}
		}
		if len(seen) != mails {
			t.Errorf("server got %d distinct mails, want %d", len(seen), mails)
		}
		list, _ := workers[0].Outbox.List(context.Background(), 100)
		for _, e := range list {
			if e.Status != StatusSent || e.Attempts != 1 {
				t.Errorf("mail %s: status %s, attempts %d", e.ID, e.Status, e.Attempts)
			}
		}
	})
}

// runWorker runs w.Run(ctx) and returns a channel closed once Run has
// returned.
func runWorker(ctx context.Context, w *Worker) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	return done
}

// waitForHandoff waits until Run has opened w's handoff, which it does
// once it has sent what was due when it started.
func waitForHandoff(t *testing.T, w *Worker) {
	t.Helper()
	ctx := waitCtx(t)
	for {
		w.Outbox.mu.Lock()
		open := w.Outbox.hand != nil
		w.Outbox.mu.Unlock()
		if open {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("Run did not open its handoff")
		case <-time.After(time.Millisecond):
		}
	}
}

// Run sends mail enqueued on its Outbox long before its next poll: handed
// over as its transaction commits, or, when the handoff is full, queued
// and claimed as soon as the commit wakes the worker.
func TestRunSendsEnqueuedMailAtOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		srv := smtptest.Start(t)
		smtp := newSMTPSender(t, srv)
		hold := make(chan struct{})
		sender := senderFunc(func(ctx context.Context, m Mail) error {
			<-hold
			return smtp.Send(ctx, m)
		})
		w := NewWorker(NewOutbox(db, time.Now), sender, slog.New(slog.DiscardHandler))
		w.PollInterval = time.Hour
		w.BatchSize = 1 // a handoff of 4 mails
		ctx, cancel := context.WithCancel(context.Background())
		done := runWorker(ctx, w)
		waitForHandoff(t, w)

		// While the first mail is being sent, it and the next three fill
		// the handoff; the last two are queued, and the commit wakes the
		// worker, which claims one of them at once (one slot for claimed
		// mail).
		to := []string{"first@example.com", "b@example.com", "c@example.com", "d@example.com", "e@example.com", "f@example.com"}
		var ids []string
		for _, addr := range to {
			ids = append(ids, mustEnqueue(t, w.Outbox, codeMessage(addr, "1")))
		}
		if n := len(w.Outbox.hand.slots); n != 4 {
			t.Fatalf("%d mails handed over, want 4", n)
		}
		for i, id := range ids {
			e := mustGet(t, w.Outbox, id)
			if (i < 4 && (e.Status != StatusSending || e.Attempts != 1)) || (i >= 4 && e.Status != StatusQueued && e.Status != StatusSending) {
				t.Fatalf("%s is %s, attempt %d", e.To, e.Status, e.Attempts)
			}
		}
		close(hold)
		for _, addr := range to {
			if _, err := srv.WaitForMessage(waitCtx(t), addr); err != nil {
				t.Fatal(err)
			}
		}
		cancel()
		<-done
	})
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		attempt int
		r       float64
		want    time.Duration
	}{
		{1, 0.5, 5 * time.Second},
		{2, 0.5, 15 * time.Second},
		{3, 0.5, 45 * time.Second},
		{4, 0.5, 135 * time.Second},
		{5, 0.5, 405 * time.Second},
		{6, 0.5, 15 * time.Minute},
		{50, 0.5, 15 * time.Minute},
		{1, 0, 4 * time.Second},
		{1, 0.999999, 5999998 * time.Microsecond},
		{50, 0, 12 * time.Minute},
	}
	for _, tc := range tests {
		got := backoff(tc.attempt, tc.r).Round(time.Microsecond)
		if got != tc.want {
			t.Errorf("backoff(%d, %v) = %v, want %v", tc.attempt, tc.r, got, tc.want)
		}
	}
	for range 100 {
		if d := ExponentialBackoff(1); d < 4*time.Second || d > 6*time.Second {
			t.Fatalf("ExponentialBackoff(1) = %v, want 5s ± 20%%", d)
		}
	}
}

func TestTickPrunesOldMail(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clk := newClock()
		w, _ := newTestWorker(t, db, clk, DevMailboxSender{})
		w.Retention = 24 * time.Hour
		id := mustEnqueue(t, w.Outbox, codeMessage("a@example.com", "1"))
		if err := w.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
		if e := mustGet(t, w.Outbox, id); e.Status != StatusSent {
			t.Fatalf("status %s, want sent", e.Status)
		}
		clk.Advance(25 * time.Hour)
		if err := w.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Outbox.Get(context.Background(), id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("old mail not pruned: %v", err)
		}
	})
}

// Mail handed over to a worker that stops before sending it is queued
// again, due at once, as if never claimed; the attempt under way finishes.
func TestRunQueuesHandedOverMailAgainWhenItStops(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sending := make(chan string, 10)
		unblock := make(chan struct{})
		sender := senderFunc(func(ctx context.Context, m Mail) error {
			sending <- m.To
			<-unblock
			return nil
		})
		w := NewWorker(NewOutbox(db, time.Now), sender, slog.New(slog.DiscardHandler))
		w.BatchSize = 1
		w.PollInterval = time.Hour
		ctx, cancel := context.WithCancel(context.Background())
		done := runWorker(ctx, w)
		waitForHandoff(t, w)
		a := mustEnqueue(t, w.Outbox, codeMessage("a@example.com", "1"))
		select {
		case <-sending:
		case <-waitCtx(t).Done():
			t.Fatal("a was not sent")
		}
		// The worker is busy with a: b and c wait in its handoff.
		b := mustEnqueue(t, w.Outbox, codeMessage("b@example.com", "2"))
		c := mustEnqueue(t, w.Outbox, codeMessage("c@example.com", "3"))
		for _, id := range []string{b, c} {
			if e := mustGet(t, w.Outbox, id); e.Status != StatusSending || e.Attempts != 1 {
				t.Fatalf("%s is %s, attempt %d; want handed over", e.To, e.Status, e.Attempts)
			}
		}
		cancel()
		close(unblock)
		<-done
		if e := mustGet(t, w.Outbox, a); e.Status != StatusSent {
			t.Fatalf("a is %s, want sent", e.Status)
		}
		for _, id := range []string{b, c} {
			if e := mustGet(t, w.Outbox, id); e.Status != StatusQueued || e.Attempts != 0 || e.NextAttemptAt.After(time.Now()) {
				t.Fatalf("%s is %s, attempt %d, due %v; want queued again, due now", e.To, e.Status, e.Attempts, e.NextAttemptAt)
			}
		}
		if len(sending) != 0 {
			t.Fatalf("%s was sent after the worker stopped", <-sending)
		}
	})
}

// Mail that waited past its NotAfter after it was claimed or handed over
// (a slow mail server ahead of it) is given up, not sent: a code that no
// longer works is no use. Mail still in time goes.
func TestMailPastNotAfterIsNotSent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := newClock()
		var (
			mu   sync.Mutex
			sent []string
		)
		w, logs := newTestWorker(t, db, clk, senderFunc(func(ctx context.Context, m Mail) error {
			mu.Lock()
			defer mu.Unlock()
			sent = append(sent, m.To)
			return nil
		}))
		limited := func(to string) Message {
			m := codeMessage(to, "1")
			m.NotAfter = clk.Now().Add(15 * time.Minute)
			return m
		}
		// Claimed in time, delivered too late.
		late := mustEnqueue(t, w.Outbox, limited("late@example.com"))
		claimed, err := w.Outbox.Claim(ctx, 10, time.Hour)
		if err != nil || len(claimed) != 1 || !claimed[0].NotAfter.Equal(clk.Now().Add(15*time.Minute)) {
			t.Fatalf("Claim = %+v, %v; want late, with its NotAfter", claimed, err)
		}
		// Handed over in time, delivered too late.
		h := w.Outbox.openHandoff(4, time.Hour)
		handed := enqueueTx(t, w.Outbox, limited("handed@example.com"), false)
		// Handed over, delivered in time.
		clk.Advance(10 * time.Minute)
		fresh := enqueueTx(t, w.Outbox, limited("fresh@example.com"), false)
		clk.Advance(6 * time.Minute)
		w.deliverAll(ctx, append(claimed, received(h)...))
		w.Outbox.closeHandoff(h)

		if !slices.Equal(sent, []string{"fresh@example.com"}) {
			t.Fatalf("sent to %v; want fresh@example.com alone", sent)
		}
		for _, id := range []string{late, handed} {
			if e := mustGet(t, w.Outbox, id); e.Status != StatusFailed || e.LastError != errExpired.Error() || e.Text != "" {
				t.Fatalf("%s: status %s, last error %q, body %d bytes; want failed, expired, erased", e.To, e.Status, e.LastError, len(e.Text))
			}
		}
		if e := mustGet(t, w.Outbox, fresh); e.Status != StatusSent {
			t.Fatalf("fresh@example.com: %s, want sent", e.Status)
		}
		if !strings.Contains(logs.String(), `"event":"mail_expired"`) {
			t.Errorf("no mail_expired log:\n%s", logs.String())
		}
	})
}

// A slow mail server answer for one mail does not hold up the others:
// mail enqueued while it hangs is sent meanwhile.
func TestSlowDeliveryHoldsUpNoOther(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		srv := smtptest.Start(t)
		smtp := newSMTPSender(t, srv)
		hold, started := make(chan struct{}), make(chan struct{})
		sender := senderFunc(func(ctx context.Context, m Mail) error {
			if m.To == "slow@example.com" {
				close(started)
				<-hold
			}
			return smtp.Send(ctx, m)
		})
		w := NewWorker(NewOutbox(db, time.Now), sender, slog.New(slog.DiscardHandler))
		w.PollInterval = time.Hour
		ctx, cancel := context.WithCancel(context.Background())
		done := runWorker(ctx, w)
		waitForHandoff(t, w)
		mustEnqueue(t, w.Outbox, codeMessage("slow@example.com", "1"))
		<-started // the slow one hangs now
		mustEnqueue(t, w.Outbox, codeMessage("quick@example.com", "2"))
		if _, err := srv.WaitForMessage(waitCtx(t), "quick@example.com"); err != nil {
			t.Fatalf("the quick mail waited for the slow one: %v", err)
		}
		close(hold)
		if _, err := srv.WaitForMessage(waitCtx(t), "slow@example.com"); err != nil {
			t.Fatal(err)
		}
		cancel()
		<-done
	})
}
