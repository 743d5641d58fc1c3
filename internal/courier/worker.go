package courier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/foyer-id/foyer/internal/store"
)

// Worker delivers the mail in an Outbox through a Sender: it claims due
// entries in batches, sends them concurrently, and marks each sent or
// schedules a retry with exponential backoff. Any number of workers, in
// one process or on several nodes, may run on one database.
//
// Just before each attempt the worker checks that the mail is still
// wanted (a newer mail may have replaced it, see Outbox.SupersedeTx) and
// that no attempt of another mail to the same address is under way, so
// that a customer never gets an old code after a newer one. After a
// failure that says the mail server is away (any temporary error but a
// Deferred one), the next successful delivery makes the mail waiting for
// a retry due at once: the queue drains as soon as the server is back
// instead of when each mail's backoff runs out.
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
	// once. Run sends up to BatchSize handed-over mails at once, and up
	// to BatchSize mails it claimed beside them.
	BatchSize int
	// PollInterval is how often Run looks for due mail in the database
	// (an Enqueue on the same Outbox also makes it look at once, when the
	// mail could not be handed over).
	PollInterval time.Duration
	// SendTimeout bounds one delivery attempt. No other mail to the same
	// address leaves while an attempt may still be under way.
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
	// ExpireInterval is how often Run gives up mail past its NotAfter
	// (Outbox.Expire); such mail is never claimed meanwhile.
	ExpireInterval time.Duration
	// HandoffDelay is how long mail handed over at commit waits before
	// its attempt starts: its delivery (a database write, the sender's
	// work) then does not share the CPU and the database with the end of
	// the request that queued it, so that a step that mails takes as long
	// as one that does not — a step that must not tell whether an address
	// has an account (see Outbox.DecoyTx). NewWorker sets 25ms.
	HandoffDelay time.Duration
	// ProbeInterval is how often Run asks a Sender that is a Prober
	// whether its server is back, while mail waits for it.
	ProbeInterval time.Duration
	// Observe, when set, hears how each delivery attempt ended — one of
	// the Delivery results — and of mail given up for its age by the
	// expiry sweep (Expired, n at once). The metrics count delivery
	// failures with it. It must be quick, and safe to call from several
	// deliveries at once.
	Observe func(result string, n int)

	lastPrune, lastExpire time.Time
	// resumed is true while no attempt has failed for want of the mail
	// server since the mail waiting for a retry was last made due. It
	// starts false, so that the first success also resumes what a former
	// process left waiting.
	resumed atomic.Bool
}

// NewWorker returns a Worker with the defaults: 10 attempts, batches of 8,
// a poll every second, 30 s per attempt, a 5-minute lease, exponential
// backoff from 5 s to 15 min with jitter, expired mail given up every
// 30 s, the server probed every 10 s after an outage, and pruning of
// entries older than 7 days every hour. It reads the
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
		HandoffDelay:   25 * time.Millisecond,
		SendTimeout:    30 * time.Second,
		Lease:          5 * time.Minute,
		Backoff:        ExponentialBackoff,
		Retention:      7 * 24 * time.Hour,
		PruneInterval:  time.Hour,
		ExpireInterval: 30 * time.Second,
		ProbeInterval:  10 * time.Second,
	}
}

// The results of a delivery attempt, as Worker.Observe hears them.
const (
	// DeliverySent: the server took the mail.
	DeliverySent = "sent"
	// DeliveryRetry: it failed for now; the mail waits for a retry.
	DeliveryRetry = "retry"
	// DeliveryFailed: it failed for good, or on the last attempt; the
	// mail is given up.
	DeliveryFailed = "failed"
	// DeliveryExpired: the mail waited too long (past its NotAfter) and
	// is given up unsent.
	DeliveryExpired = "expired"
)

// observe tells Observe, if set, of n mails that ended with result.
func (w *Worker) observe(result string, n int) {
	if w.Observe != nil && n > 0 {
		w.Observe(result, n)
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

// Run delivers mail until ctx ends. It first takes back the mail a
// former process under the same Outbox.Node held (Outbox.Reclaim). Then
// it delivers mail enqueued on this Outbox as soon as its transaction
// commits (handed over, see handoff), and every PollInterval the due mail
// in the database (mail enqueued on other nodes, retries, and mail queued
// while the handoff was full).
//
// No delivery holds up another, and nothing holds up the loop: each mail
// is sent on its own, up to BatchSize handed-over mails and BatchSize
// claimed ones at once; handed-over mail beyond that waits its turn in
// memory (it is leased to this worker), and a poll claims only as many
// mails as there are free slots for, so a mail server that hangs keeps
// no mail waiting that another node could send, and stops neither the
// polls nor the expiry of mail nor the handoff.
//
// Attempts under way when ctx ends are finished, within SendTimeout,
// before Run returns; mail handed over or claimed but not yet started is
// queued again. Database errors are logged and retried at the next poll.
func (w *Worker) Run(ctx context.Context) {
	switch w.Sender.(type) {
	case DevMailboxSender, *DevMailboxSender:
		if !w.Outbox.KeepBodies {
			w.Logger.Warn("courier: the dev mailbox sender is used but the outbox erases bodies after delivery; set Outbox.KeepBodies in dev mode")
		}
	}
	if n, err := w.Outbox.Reclaim(ctx); err != nil {
		if ctx.Err() == nil {
			w.Logger.Log(ctx, store.LogLevel(ctx, err), "courier: take back the mail of a former process; it leaves when its lease runs out",
				slog.String("error", err.Error()))
		}
	} else if n > 0 {
		w.Logger.Info("courier: took back the mail a former process of this node held",
			slog.String("event", "mail_reclaimed"), slog.String("node", w.Outbox.Node), slog.Int64("count", n))
	}
	poll := w.PollInterval
	if poll <= 0 {
		poll = time.Second
	}
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	// After an outage, until a success: is the server back? One probe
	// at a time.
	var probeTick <-chan time.Time
	prober, _ := w.Sender.(Prober)
	if prober != nil && w.ProbeInterval > 0 {
		t := time.NewTicker(w.ProbeInterval)
		defer t.Stop()
		probeTick = t.C
	}
	probing := false
	probed := make(chan struct{}, 1)

	size := max(w.BatchSize, 1)
	var inflight sync.WaitGroup
	// Free send slots, for handed-over and for claimed mail. Each
	// delivery reports on its done channel, which has room for every
	// slot so that it never blocks.
	handedFree, claimedFree := size, size
	handedDone, claimedDone := make(chan struct{}, size), make(chan struct{}, size)
	var waiting []Entry // handed over, waiting for a slot
	type claim struct {
		asked   int
		entries []Entry
	}
	claimed := make(chan claim, 1)
	// One poll at a time. again: look again once it is done; more: the
	// last poll took all it could, so more may be due.
	polling, again, more := false, false, false
	startPoll := func() {
		if polling {
			again = true
			return
		}
		polling, again = true, false
		n := claimedFree
		claimedFree -= n
		inflight.Go(func() { claimed <- claim{n, w.poll(ctx, n)} })
	}
	send := func(e Entry, done chan<- struct{}, after func(), delay time.Duration) {
		inflight.Go(func() {
			if delay > 0 {
				t := time.NewTimer(delay)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
				}
			}
			// Attempts already started run to the end even if ctx ends
			// now, so that the result is recorded.
			w.deliver(context.WithoutCancel(ctx), e)
			if after != nil {
				after()
			}
			done <- struct{}{}
		})
	}

	var handed chan Entry // nil, so never ready, if another Worker has the handoff
	h := w.Outbox.openHandoff(4*size, w.Lease)
	if h != nil {
		handed = h.mail
	}
	startPoll() // what is due already
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case e := <-handed:
			waiting = append(waiting, e)
		case <-handedDone:
			handedFree++
		case <-claimedDone:
			claimedFree++
			if more {
				startPoll()
			}
		case c := <-claimed:
			polling = false
			claimedFree += c.asked - len(c.entries)
			more = c.asked == 0 || len(c.entries) == c.asked
			for i, e := range c.entries {
				if ctx.Err() != nil {
					w.giveBackAll(ctx, c.entries[i:])
					claimedFree += len(c.entries) - i
					break
				}
				send(e, claimedDone, nil, 0)
			}
			if again || (more && claimedFree > 0) {
				startPoll()
			}
		case <-w.Outbox.wake:
			startPoll()
		case <-ticker.C:
			startPoll()
		case <-probeTick:
			if !probing && !w.resumed.Load() {
				probing = true
				inflight.Go(func() {
					if w.probe(ctx, prober) {
						w.resume(ctx)
					}
					probed <- struct{}{}
				})
			}
		case <-probed:
			probing = false
		}
		for ctx.Err() == nil && handedFree > 0 && len(waiting) > 0 {
			handedFree--
			send(waiting[0], handedDone, h.release, w.HandoffDelay)
			waiting = waiting[1:]
		}
	}

	// Stopping: nothing new starts; what was handed over or claimed and
	// not started is queued again, due now.
	if h != nil {
		w.Outbox.closeHandoff(h)
	drain:
		for {
			select {
			case e := <-h.mail:
				waiting = append(waiting, e)
			default:
				break drain
			}
		}
	}
	w.giveBackAll(ctx, waiting)
	if polling {
		w.giveBackAll(ctx, (<-claimed).entries)
	}
	inflight.Wait()
}

// probe asks p whether the mail server serves again, within SendTimeout.
func (w *Worker) probe(ctx context.Context, p Prober) bool {
	ctx, cancel := context.WithTimeout(ctx, w.SendTimeout)
	defer cancel()
	if err := p.Probe(ctx); err != nil {
		if ctx.Err() == nil {
			w.Logger.Debug("courier: the mail server does not serve yet", slog.String("error", err.Error()))
		}
		return false
	}
	return true
}

// poll is one round of Run's polling: it claims up to n due mails (none
// when every slot is taken), then gives up expired mail and prunes old
// entries when their intervals have passed. Errors are logged.
func (w *Worker) poll(ctx context.Context, n int) []Entry {
	entries, err := w.Outbox.Claim(ctx, n, w.Lease)
	if err != nil && ctx.Err() == nil {
		w.Logger.Log(ctx, store.LogLevel(ctx, err), "courier: claim due mail", slog.String("error", err.Error()))
	}
	if err := w.housekeep(ctx); err != nil && ctx.Err() == nil {
		w.Logger.Log(ctx, store.LogLevel(ctx, err), "courier: expire and prune mail", slog.String("error", err.Error()))
	}
	return entries
}

// giveBackAll queues again mail this worker holds but will not send:
// handed over or claimed, not started. Mail whose transaction commits
// after the handoff closed waits until this node's next start (Reclaim)
// or until its lease runs out.
func (w *Worker) giveBackAll(ctx context.Context, entries []Entry) {
	for _, e := range entries {
		if err := w.Outbox.release(context.WithoutCancel(ctx), e.ID, e.Attempts); err != nil {
			w.Logger.Warn("courier: give back mail not sent; it leaves when its lease runs out",
				slog.String("message_id", e.ID), slog.String("error", err.Error()))
		}
	}
}

// Tick delivers due mail in batches until none is left, then gives up
// expired mail and prunes old entries when their intervals have passed.
// Tests drive it (or DeliverDue) directly with a fake clock instead of
// running Run. Do not call Tick concurrently on one Worker, nor while it
// runs Run (DeliverDue may be).
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
	return w.housekeep(ctx)
}

// housekeep gives up expired mail and prunes old entries when their
// intervals have passed.
func (w *Worker) housekeep(ctx context.Context) error {
	if w.ExpireInterval > 0 {
		expire := func(ctx context.Context) (int64, error) {
			n, err := w.Outbox.Expire(ctx)
			w.observe(DeliveryExpired, int(n))
			return n, err
		}
		if err := w.periodically(ctx, &w.lastExpire, w.ExpireInterval, expire,
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
		w.observe(DeliveryFailed, 1)
		if w.record(ctx, log, e, "mail_failed", w.Outbox.MarkFailed(ctx, e.ID, e.Attempts, cause)) {
			log.Error("courier: mail failed, giving up", slog.String("event", "mail_failed"), slog.String("error", cause.Error()))
		}
		return
	}

	if !e.NotAfter.IsZero() && !w.Outbox.now().Before(e.NotAfter) {
		// It waited too long (a slow mail server ahead of it): a code
		// that no longer works is no use to anyone.
		w.observe(DeliveryExpired, 1)
		if w.record(ctx, log, e, "mail_expired", w.Outbox.MarkFailed(ctx, e.ID, e.Attempts, errExpired)) {
			log.Warn("courier: mail expired before it could be sent", slog.String("event", "mail_expired"))
		}
		return
	}

	// Still wanted, still ours, and no other mail on the wire to the
	// address: from here until the deadline the attempt is under way.
	switch s, err := w.Outbox.begin(ctx, e, w.Outbox.now().Add(w.SendTimeout)); {
	case err != nil:
		log.Log(ctx, store.LogLevel(ctx, err), "courier: check mail before sending; it leaves when its lease runs out",
			slog.String("event", "mail_check_failed"), slog.String("error", err.Error()))
		return
	case s == unwanted:
		log.Info("courier: mail given up or taken over meanwhile, not sent", slog.String("event", "mail_dropped"))
		return
	case s == held:
		log.Info("courier: mail waits for an earlier mail to the same address", slog.String("event", "mail_held"))
		return
	}

	sendCtx, cancel := context.WithTimeout(ctx, w.SendTimeout)
	err := w.Sender.Send(sendCtx, Mail{
		To:        e.To,
		Subject:   e.Subject,
		Text:      e.Text,
		HTML:      e.HTML,
		Lang:      e.Lang,
		MessageID: e.ID,
		Date:      e.CreatedAt,
	})
	cancel()
	if err == nil {
		w.observe(DeliverySent, 1)
		if w.record(ctx, log, e, "mail_sent", w.Outbox.MarkSent(ctx, e.ID, e.Attempts)) {
			log.Info("courier: mail sent", slog.String("event", "mail_sent"))
		}
		w.resume(ctx)
		return
	}
	// The error may quote the recipient (servers often do); the logs
	// must not.
	msg := redact(err.Error(), e.To)
	cause := errors.New(msg)
	if IsPermanent(err) || e.Attempts >= w.MaxAttempts {
		w.observe(DeliveryFailed, 1)
		if w.record(ctx, log, e, "mail_failed", w.Outbox.MarkFailed(ctx, e.ID, e.Attempts, cause)) {
			log.Error("courier: mail failed, giving up", slog.String("event", "mail_failed"),
				slog.Bool("permanent", IsPermanent(err)), slog.String("error", msg))
		}
		return
	}
	at := w.Outbox.now().Add(w.Backoff(e.Attempts))
	w.observe(DeliveryRetry, 1)
	if w.record(ctx, log, e, "mail_retry", w.Outbox.MarkRetry(ctx, e.ID, e.Attempts, cause, at)) {
		log.Warn("courier: mail not sent, will retry", slog.String("event", "mail_retry"),
			slog.Time("retry_at", at), slog.String("error", msg))
	}
	if !IsDeferred(err) {
		// The server is away: once it is back, what waits goes at once.
		w.resumed.Store(false)
	}
}

// resume makes the mail waiting for a retry due at once, after a success,
// when an attempt failed for want of the server since the last time.
func (w *Worker) resume(ctx context.Context) {
	if w.resumed.Swap(true) {
		return
	}
	n, err := w.Outbox.resume(ctx)
	switch {
	case err != nil:
		w.resumed.Store(false)
		w.Logger.Warn("courier: make mail waiting for a retry due", slog.String("error", err.Error()))
	case n > 0:
		w.Logger.Info("courier: delivery works again; mail waiting for a retry goes now",
			slog.String("event", "mail_resumed"), slog.Int64("count", n))
		w.Outbox.notify()
	}
}

// errExpired is the last error of mail given up once past its NotAfter.
var errExpired = errors.New("expired before it could be delivered")

// record logs a failure to store the result of an attempt at e and
// reports whether it was stored.
func (w *Worker) record(ctx context.Context, log *slog.Logger, e Entry, event string, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, errGivenUp):
		// Replaced by a newer mail or expired while the attempt ran.
		log.Info("courier: mail given up while it was being sent", slog.String("event", event), slog.String("error", err.Error()))
	case errors.Is(err, store.ErrConflict):
		// Another worker claimed the mail after this one's lease ran
		// out; it may be delivered twice. Lease is too short.
		log.Warn("courier: lease lost during delivery; the mail may be sent twice (raise Worker.Lease)",
			slog.String("event", event), slog.String("error", err.Error()))
	default:
		log.Log(ctx, store.LogLevel(ctx, err), "courier: record delivery result", slog.String("event", event),
			slog.String("error", fmt.Sprint(err)))
		return false
	}
	// The attempt is over all the same: mail to the address need not
	// wait for its deadline.
	if err := w.Outbox.endAttempt(ctx, e.ID, e.Attempts); err != nil {
		log.Warn("courier: record the end of an attempt", slog.String("error", err.Error()))
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
