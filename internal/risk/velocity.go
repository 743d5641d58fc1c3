package risk

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/store"
)

// Velocity watches the rate of sign-in failures across the whole site —
// all nodes together — against its own recent past, to tell credential
// stuffing spread over many sources (each too quiet for its network's
// throttle) from ordinary mistyping. Each node counts its failures in
// memory and adds them to its row of the minute (site_failures) on each
// Tick; every node reads the sum, so all see a spike within a tick.
type Velocity struct {
	db     *store.DB
	node   string
	now    func() time.Time
	events *event.Log
	logger *slog.Logger
	domain string
	// Floor is the failures a minute below which nothing is a spike, and
	// Factor how many times the baseline (the mean of the hour before)
	// a minute must reach to be one.
	Floor  int
	Factor float64

	pending atomic.Int64
	spike   atomic.Bool
	rate    atomic.Int64
}

// Defaults of Velocity.
const (
	DefaultSpikeFloor  = 100
	DefaultSpikeFactor = 5
	// TickEvery is how often a node shares its failures and reads the
	// site's.
	TickEvery = 5 * time.Second
)

// NewVelocity returns a Velocity for node (its failures are its own row;
// "" is taken as "-"), recording spikes in events for domain.
func NewVelocity(db *store.DB, node, domain string, events *event.Log, logger *slog.Logger, now func() time.Time) *Velocity {
	if node == "" {
		node = "-"
	}
	return &Velocity{db: db, node: node, now: now, events: events, logger: logger, domain: domain,
		Floor: DefaultSpikeFloor, Factor: DefaultSpikeFactor}
}

// Failed counts a failed sign-in on this node. It costs an atomic add;
// the count reaches the database with the next Tick.
func (v *Velocity) Failed() {
	if v != nil {
		v.pending.Add(1)
	}
}

// Spike reports whether the site's failures are spiking, as of the last
// Tick, and the failures of its busiest recent minute. A nil Velocity
// never spikes.
func (v *Velocity) Spike() (bool, int) {
	if v == nil {
		return false, 0
	}
	return v.spike.Load(), int(v.rate.Load())
}

// Run ticks every TickEvery until ctx ends.
func (v *Velocity) Run(ctx context.Context) {
	t := time.NewTicker(TickEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := v.Tick(ctx); err != nil && ctx.Err() == nil {
				v.logger.Log(ctx, store.LogLevel(ctx, err), "risk: failure rate not shared", "error", err)
			}
		}
	}
}

// Tick adds this node's failures since the last Tick to its row of the
// minute, reads the site's failures of the last hour, and decides whether
// they spike: the busiest of the current and the previous minute is at
// least Floor and Factor times the mean of the hour before. A spike's
// start is recorded once for the site, as the event risk.failure_spike.
func (v *Velocity) Tick(ctx context.Context) error {
	minute := v.now().Unix() / 60
	if n := v.pending.Swap(0); n > 0 {
		_, err := v.db.Exec(ctx, `INSERT INTO site_failures (node, minute, failures) VALUES ($1, $2, $3)
			ON CONFLICT (minute, node) DO UPDATE SET failures = site_failures.failures + excluded.failures`, v.node, minute, n)
		if err != nil {
			v.pending.Add(n) // shared at the next tick
			return fmt.Errorf("risk: share failures: %w", err)
		}
	}
	rows, err := v.db.Query(ctx, `SELECT minute, SUM(failures) FROM site_failures WHERE minute >= $1 AND node <> '' GROUP BY minute`, minute-61)
	if err != nil {
		return fmt.Errorf("risk: read failures: %w", err)
	}
	defer rows.Close()
	var recent, before int64
	for rows.Next() {
		var m, n int64
		if err := rows.Scan(&m, &n); err != nil {
			return fmt.Errorf("risk: read failures: %w", err)
		}
		if m >= minute-1 {
			recent = max(recent, n)
		} else {
			before += n
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("risk: read failures: %w", err)
	}
	baseline := float64(before) / 60
	spiking := recent >= int64(v.Floor) && float64(recent) >= v.Factor*baseline
	v.rate.Store(recent)
	if was := v.spike.Swap(spiking); spiking && !was {
		v.recordSpike(ctx, minute, recent, baseline)
	}
	return nil
}

// recordSpike records a spike's start once for the site: the first node
// to mark its minute (a row of node ”) records the event.
func (v *Velocity) recordSpike(ctx context.Context, minute, recent int64, baseline float64) {
	res, err := v.db.Exec(ctx, `INSERT INTO site_failures (node, minute, failures) VALUES ('', $1, $2) ON CONFLICT (minute, node) DO NOTHING`, minute, recent)
	if err != nil {
		v.logger.WarnContext(ctx, "risk: failure spike not recorded", "error", err)
		return
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return // another node recorded it
	}
	v.logger.WarnContext(ctx, "risk: sign-in failures are spiking across the site", "failures_per_minute", recent, "baseline_per_minute", baseline)
	if v.events != nil {
		_ = v.events.Append(ctx, event.Event{Domain: v.domain, Type: event.FailureSpike, Outcome: event.OutcomeSuccess,
			Reason: fmt.Sprintf("%d failures a minute, %.1f before", recent, baseline)})
	}
}

// Prune deletes the minutes before cutoff.
func (v *Velocity) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := v.db.Exec(ctx, `DELETE FROM site_failures WHERE minute < $1`, cutoff.Unix()/60)
	if err != nil {
		return 0, fmt.Errorf("risk: prune failures: %w", err)
	}
	return res.RowsAffected()
}
