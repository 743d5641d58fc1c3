package courier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"sync"
	"time"

	"github.com/foyer-id/foyer/internal/store"
)

// Worker delivers the mail in an Outbox through a Sender: it claims due
// entries in batches, sends them concurrently, and marks each sent or
// schedules a retry with exponential backoff. Any number of workers, in
// one process or on several nodes, may run on one database.
//
// Set the fields before calling Run or DeliverDue and do not change them
// afterwards; NewWorker fills in the defaults.
type Worker struct {
	Outbox *Outbox
	Sender Sender
	Logger *slog.Logger

	// MaxAttempts is how many delivery attempts a mail gets before it is
	// marked failed.
	MaxAttempts int
	// BatchSize is how many mails one DeliverDue claims and sends at
	// once. Run sends up to BatchSize handed-over mails at once beside the
	// batch of a poll.
	BatchSize int
	// PollInterval is how often Run looks for due mail in the database
	// (an Enqueue on the same Outbox also makes it look at once, when the
	// mail could not be handed over).
	PollInterval time.Duration
	// SendTimeout bounds one delivery attempt.
	SendTimeout time.Duration
	// Lease is how long a claimed mail stays reserved for this worker.
	// After it runs out another worker may claim the mail again, so it
	// must be well above SendTimeout (NewWorker makes it 10x).
	Lease time.Duration
	// Backoff returns the wait before the next attempt after attempt
	// number attempt (1 for the first) failed. The default is
	// ExponentialBackoff.
	Backoff func(attempt int) time.Duration
	// Retention is how long Run keeps sent and failed entries before
	// pruning them, checked every PruneInterval; 0 disables pruning.
	Retention     time.Duration
	PruneInterval time.Duration
	// ExpireInterval is how often Tick gives up mail past its NotAfter
	// (Outbox.Expire); such mail is never claimed meanwhile.
	ExpireInterval time.Duration

	lastPrune, lastExpire time.Time
}

// NewWorker returns a Worker with the defaults: 10 attempts, batches of 8,
// a poll every second, 30 s per attempt, a 5-minute lease, exponential
// backoff from 5 s to 15 min with jitter, expired mail given up every
// 30 s, and pruning of entries older than 7 days every hour. It reads the
// time from the Outbox's clock. A nil logger means slog.Default().
func NewWorker(outbox *Outbox, sender Sender, logger *slog.Logger) *Worker {
	if logger == nil {
		logger = slog.Default()
	}
	return &Worker{
		Outbox:         outbox,
		Sender:         sender,
		Logger:         logger,
		MaxAttempts:    10,
		BatchSize:      8,
		PollInterval:   time.Second,
		SendTimeout:    30 * time.Second,
		Lease:          5 * time.Minute,
		Backoff:        ExponentialBackoff,
		Retention:      7 * 24 * time.Hour,
		PruneInterval:  time.Hour,
		ExpireInterval: 30 * time.Second,
	}
}

// The ExponentialBackoff schedule.
const (
	backoffBase   = 5 * time.Second
	backoffFactor = 3
	backoffMax    = 15 * time.Minute
)

// ExponentialBackoff waits about 5 s after the first failed attempt, then
// 15 s, 45 s, 2 min 15 s …, tripling each time up to 15 min, each wait
// moved by a random ±20% so that mail held back by one outage does not
// all come back at the same instant.
func ExponentialBackoff(attempt int) time.Duration {
	return backoff(attempt, rand.Float64())
}

// backoff is ExponentialBackoff with the random number r in [0, 1) given.
func backoff(attempt int, r float64) time.Duration {
	d := backoffBase
	for i := 1; i < attempt && d < backoffMax; i++ {
		d *= backoffFactor
	}
	d = min(d, backoffMax)
	return time.Duration(float64(d) * (0.8 + 0.4*r))
}

// Run delivers mail until ctx ends: mail enqueued on this Outbox as soon
// as its transaction commits (handed over, see handoff), and every
// PollInterval the due mail in the database (mail enqueued on other
// nodes, retries, and mail queued while the handoff was full), starting
// with what is due when it starts. Attempts
// under way when ctx ends are finished, within SendTimeout, before Run
// returns; mail handed over but not yet started is queued again. Database
// errors are logged and retried at the next poll.
func (w *Worker) Run(ctx context.Context) {
	switch w.Sender.(type) {
	case DevMailboxSender, *DevMailboxSender:
		if !w.Outbox.KeepBodies {
			w.Logger.Warn("courier: the dev mailbox sender is used but the outbox erases bodies after delivery; set Outbox.KeepBodies in dev mode")
		}
	}
	poll := w.PollInterval
	if poll <= 0 {
		poll = time.Second
	}
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	tick := func() {
		if err := w.Tick(ctx); err != nil && ctx.Err() == nil {
			w.Logger.Error("courier: deliver due mail", slog.String("error", err.Error()))
		}
	}
	// What is due already goes first; only then does new mail come
	// straight here.
	tick()
	// From here on no delivery holds up another: one slow mail server
	// answer (up to SendTimeout) must not keep a code mail waiting. Each
	// handed-over mail is sent on its own, at most BatchSize at once, and
	// the polls run beside them, one at a time. Attempts under way finish
	// before Run returns.
	var inflight sync.WaitGroup
	defer inflight.Wait()
	slots := make(chan struct{}, max(w.BatchSize, 1))
	ticked := make(chan struct{}, 1)
	ticking, again := false, false
	startTick := func() {
		if ticking {
			again = true // look again once this round is done
			return
		}
		ticking = true
		inflight.Go(func() {
			tick()
			ticked <- struct{}{}
		})
	}
	// Room for several batches: mail waits there while one is sent.
	var handed chan Entry // nil, so never ready, if another Worker has the handoff
	h := w.Outbox.openHandoff(4*max(w.BatchSize, 1), w.Lease)
	if h != nil {
		handed = h.mail
		defer w.closeHandoff(ctx, h)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-handed:
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				w.giveBack(ctx, e)
				return
			}
			inflight.Go(func() {
				defer func() { <-slots }()
				// Attempts already started run to the end even if ctx
				// ends now, so that the result is recorded.
				w.deliver(context.WithoutCancel(ctx), e)
				h.release()
			})
		case <-ticked:
			ticking = false
			if again {
				again = false
				startTick()
			}
		case <-w.Outbox.wake:
			startTick()
		case <-ticker.C:
			startTick()
		}
	}
}

// closeHandoff stops the handoff to this worker and queues again the mail
// it held, not yet started. Mail whose transaction commits after this
// waits for its lease to run out.
func (w *Worker) closeHandoff(ctx context.Context, h *handoff) {
	w.Outbox.closeHandoff(h)
	for {
		select {
		case e := <-h.mail:
			w.giveBack(ctx, e)
		default:
			return
		}
	}
}

// giveBack queues again handed-over mail this worker will not send.
func (w *Worker) giveBack(ctx context.Context, e Entry) {
	if err := w.Outbox.release(context.WithoutCancel(ctx), e.ID, e.Attempts); err != nil {
		w.Logger.Warn("courier: give back handed-over mail; it leaves when its lease runs out",
			slog.String("message_id", e.ID), slog.String("error", err.Error()))
	}
}

// Tick is one round of Run: it delivers due mail in batches until none is
// left, then gives up expired mail and prunes old entries when their
// intervals have passed. Tests drive it (or DeliverDue) directly with a
// fake clock instead of running Run.
// Do not call Tick concurrently on one Worker (DeliverDue may be).
func (w *Worker) Tick(ctx context.Context) error {
	for ctx.Err() == nil {
		n, err := w.DeliverDue(ctx)
		if err != nil {
			return err
		}
		if n == 0 || n < w.BatchSize {
			break
		}
	}
	if w.ExpireInterval > 0 {
		if err := w.periodically(ctx, &w.lastExpire, w.ExpireInterval, w.Outbox.Expire,
			slog.LevelWarn, "courier: gave up mail that expired before delivery"); err != nil {
			return err
		}
	}
	if w.Retention > 0 {
		prune := func(ctx context.Context) (int64, error) { return w.Outbox.Prune(ctx, w.Retention) }
		if err := w.periodically(ctx, &w.lastPrune, w.PruneInterval, prune,
			slog.LevelInfo, "courier: pruned old outbox entries"); err != nil {
			return err
		}
	}
	return nil
}

// periodically runs job when interval has passed since *last (and the
// first time), and logs msg at level with the count of entries job
// reports, if any.
func (w *Worker) periodically(ctx context.Context, last *time.Time, interval time.Duration,
	job func(context.Context) (int64, error), level slog.Level, msg string) error {
	now := w.Outbox.now()
	if ctx.Err() != nil || (!last.IsZero() && now.Sub(*last) < interval) {
		return nil
	}
	*last = now
	n, err := job(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		w.Logger.Log(ctx, level, msg, slog.Int64("count", n))
	}
	return nil
}

// DeliverDue claims one batch of due mail, sends it, and records each
// result. It returns how many mails it claimed. Send failures are not
// errors here: they are logged and scheduled for retry.
func (w *Worker) DeliverDue(ctx context.Context) (int, error) {
	entries, err := w.Outbox.Claim(ctx, w.BatchSize, w.Lease)
	if err != nil {
		return 0, err
	}
	w.deliverAll(ctx, entries)
	return len(entries), nil
}

// deliverAll makes one attempt for each claimed entry, all at once, and
// returns when every result is recorded.
func (w *Worker) deliverAll(ctx context.Context, entries []Entry) {
	// Attempts already started run to the end even if ctx ends now, so
	// that the result is recorded instead of waiting out the lease.
	work := context.WithoutCancel(ctx)
	if len(entries) == 1 {
		w.deliver(work, entries[0])
		return
	}
	var wg sync.WaitGroup
	for _, e := range entries {
		wg.Go(func() { w.deliver(work, e) })
	}
	wg.Wait()
}

// deliver makes one attempt for a claimed entry and records the result.
func (w *Worker) deliver(ctx context.Context, e Entry) {
	log := w.Logger.With(
		slog.String("message_id", e.ID),
		slog.String("domain", e.Domain),
		slog.String("template", e.Template),
		slog.Int("attempt", e.Attempts))

	if e.Attempts > w.MaxAttempts {
		// Its last attempt's worker died holding the lease.
		cause := errors.New("courier: no attempts left (the last attempt did not report back)")
		if w.record(ctx, log, "mail_failed", w.Outbox.MarkFailed(ctx, e.ID, e.Attempts, cause)) {
			log.Error("courier: mail failed, giving up", slog.String("event", "mail_failed"), slog.String("error", cause.Error()))
		}
		return
	}

	if !e.NotAfter.IsZero() && !w.Outbox.now().Before(e.NotAfter) {
		// It waited too long (a slow mail server ahead of it): a code
		// that no longer works is no use to anyone.
		if w.record(ctx, log, "mail_expired", w.Outbox.MarkFailed(ctx, e.ID, e.Attempts, errExpired)) {
			log.Warn("courier: mail expired before it could be sent", slog.String("event", "mail_expired"))
		}
		return
	}

	sendCtx, cancel := context.WithTimeout(ctx, w.SendTimeout)
	err := w.Sender.Send(sendCtx, Mail{
		To:        e.To,
		Subject:   e.Subject,
		Text:      e.Text,
		HTML:      e.HTML,
		MessageID: e.ID,
		Date:      e.CreatedAt,
	})
	cancel()
	if err == nil {
		if w.record(ctx, log, "mail_sent", w.Outbox.MarkSent(ctx, e.ID, e.Attempts)) {
			log.Info("courier: mail sent", slog.String("event", "mail_sent"))
		}
		return
	}
	// The error may quote the recipient (servers often do); the logs
	// must not.
	msg := redact(err.Error(), e.To)
	cause := errors.New(msg)
	if IsPermanent(err) || e.Attempts >= w.MaxAttempts {
		if w.record(ctx, log, "mail_failed", w.Outbox.MarkFailed(ctx, e.ID, e.Attempts, cause)) {
			log.Error("courier: mail failed, giving up", slog.String("event", "mail_failed"),
				slog.Bool("permanent", IsPermanent(err)), slog.String("error", msg))
		}
		return
	}
	at := w.Outbox.now().Add(w.Backoff(e.Attempts))
	if w.record(ctx, log, "mail_retry", w.Outbox.MarkRetry(ctx, e.ID, e.Attempts, cause, at)) {
		log.Warn("courier: mail not sent, will retry", slog.String("event", "mail_retry"),
			slog.Time("retry_at", at), slog.String("error", msg))
	}
}

// errExpired is the last error of mail given up once past its NotAfter.
var errExpired = errors.New("expired before it could be delivered")

// record logs a failure to store the result of an attempt and reports
// whether it was stored.
func (w *Worker) record(ctx context.Context, log *slog.Logger, event string, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, store.ErrConflict):
		// Another worker claimed the mail after this one's lease ran
		// out; it may be delivered twice. Lease is too short.
		log.Warn("courier: lease lost during delivery; the mail may be sent twice (raise Worker.Lease)",
			slog.String("event", event), slog.String("error", err.Error()))
	default:
		log.ErrorContext(ctx, "courier: record delivery result", slog.String("event", event),
			slog.String("error", fmt.Sprint(err)))
	}
	return false
}

// redact replaces every occurrence of address in s, in any case, with
// "[recipient]".
func redact(s, address string) string {
	if address == "" {
		return s
	}
	return regexp.MustCompile("(?i)"+regexp.QuoteMeta(address)).ReplaceAllLiteralString(s, "[recipient]")
}
