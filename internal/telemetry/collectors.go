package telemetry

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// poolCollector reads the database's connection pools at scrape time.
type poolCollector struct{ pools Pools }

var (
	poolConnections = prometheus.NewDesc("foyer_db_connections",
		"Open connections of a database pool, by state: in_use or idle.", []string{"pool", "state"}, nil)
	poolMax = prometheus.NewDesc("foyer_db_connections_max",
		"The most connections a database pool opens (0: no limit).", []string{"pool"}, nil)
	poolWaits = prometheus.NewDesc("foyer_db_waits_total",
		"Calls that waited for a free connection of a database pool.", []string{"pool"}, nil)
	poolWaited = prometheus.NewDesc("foyer_db_wait_seconds_total",
		"Time calls spent waiting for a free connection of a database pool.", []string{"pool"}, nil)
	poolClosed = prometheus.NewDesc("foyer_db_connections_closed_total",
		"Connections a database pool closed, by reason: max_idle, max_idle_time, max_lifetime.", []string{"pool", "reason"}, nil)
)

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolConnections, poolMax, poolWaits, poolWaited, poolClosed} {
		ch <- d
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.pools.PoolStats() {
		ch <- prometheus.MustNewConstMetric(poolConnections, prometheus.GaugeValue, float64(p.InUse), p.Pool, "in_use")
		ch <- prometheus.MustNewConstMetric(poolConnections, prometheus.GaugeValue, float64(p.Idle), p.Pool, "idle")
		ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(p.MaxOpenConnections), p.Pool)
		ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(p.WaitCount), p.Pool)
		ch <- prometheus.MustNewConstMetric(poolWaited, prometheus.CounterValue, p.WaitDuration.Seconds(), p.Pool)
		ch <- prometheus.MustNewConstMetric(poolClosed, prometheus.CounterValue, float64(p.MaxIdleClosed), p.Pool, "max_idle")
		ch <- prometheus.MustNewConstMetric(poolClosed, prometheus.CounterValue, float64(p.MaxIdleTimeClosed), p.Pool, "max_idle_time")
		ch <- prometheus.MustNewConstMetric(poolClosed, prometheus.CounterValue, float64(p.MaxLifetimeClosed), p.Pool, "max_lifetime")
	}
}

// outboxTimeout bounds the outbox's count at a scrape: a database that
// stalls must not hold the scrape, which has its own deadline (10 s by
// default), and the other metrics with it.
const outboxTimeout = 2 * time.Second

// outboxCollector counts the mail waiting in the outbox at scrape time:
// a query of the waiting mail's index, shared by every node, so every
// node reports the same numbers (aggregate with max, not sum).
type outboxCollector struct {
	queue Queue
	now   func() time.Time
}

var (
	outboxDepth = prometheus.NewDesc("foyer_outbox_depth",
		"Mail and text messages waiting to leave, on every node, by state: due, retry (its next attempt comes later), sending.", []string{"state"}, nil)
	outboxOldest = prometheus.NewDesc("foyer_outbox_oldest_age_seconds",
		"Age of the oldest mail still waiting to leave (0 when none waits).", nil, nil)
)

func (c outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxDepth
	ch <- outboxOldest
}

func (c outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), outboxTimeout)
	defer cancel()
	d, err := c.queue.Depth(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(outboxDepth, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(outboxDepth, prometheus.GaugeValue, float64(d.Due), "due")
	ch <- prometheus.MustNewConstMetric(outboxDepth, prometheus.GaugeValue, float64(d.Retry), "retry")
	ch <- prometheus.MustNewConstMetric(outboxDepth, prometheus.GaugeValue, float64(d.Sending), "sending")
	age := 0.0
	if !d.Oldest.IsZero() {
		age = max(c.now().Sub(d.Oldest).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(outboxOldest, prometheus.GaugeValue, age)
}
