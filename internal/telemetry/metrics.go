package telemetry

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/foyer-id/foyer/internal/courier"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/store"
)

// Metrics are a server's Prometheus metrics and the registry they are
// served from: one per server, so that servers in one process (tests)
// count apart.
type Metrics struct {
	registry *prometheus.Registry

	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	inFlight   prometheus.Gauge
	events     *prometheus.CounterVec
	decisions  *prometheus.CounterVec
	deliveries *prometheus.CounterVec

	// Label values that come from data rather than code: a policy
	// file's reasons, an event type a later version adds.
	reasons, kinds labelSet
}

// Pools is what the database pool metrics read: store.DB.
type Pools interface {
	PoolStats() []store.PoolStats
}

// Queue is what the outbox metrics read: courier.Outbox.
type Queue interface {
	Depth(ctx context.Context) (courier.Depth, error)
}

// Sources are what the metrics read when they are scraped.
type Sources struct {
	Pools  Pools
	Outbox Queue
	// Now is the clock the outbox's oldest mail is aged by (the
	// outbox's own).
	Now func() time.Time
}

// NewMetrics registers Foyer's metrics, reading src at scrape time, with
// the Go runtime's, the process's and the build's.
func NewMetrics(src Sources) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "foyer_http_requests_total",
			Help: "HTTP requests answered, by method, route (the pattern that matched; unmatched for none) and status code.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "foyer_http_request_duration_seconds",
			Help:    "Time from a request's arrival to the end of its answer, by method and route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "foyer_http_requests_in_flight",
			Help: "HTTP requests being answered now.",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "foyer_journey_events_total",
			Help: "Journey steps (the event log's events, sampled floods counted whole), by journey, step, outcome and reason.",
		}, []string{"journey", "step", "outcome", "reason"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "foyer_policy_decisions_total",
			Help: "The policy's decisions, by action, effect (allow, step_up, throttle, challenge, deny) and reason.",
		}, []string{"action", "effect", "reason"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "foyer_courier_deliveries_total",
			Help: "Mail and text message delivery attempts by result: sent, retry (failed for now), failed (given up), expired (given up unsent, too old).",
		}, []string{"result"}),
		reasons: labelSet{max: maxReasons},
		kinds:   labelSet{max: maxKinds},
	}
	for _, r := range []string{courier.DeliverySent, courier.DeliveryRetry, courier.DeliveryFailed, courier.DeliveryExpired} {
		m.deliveries.WithLabelValues(r) // 0 from the start, so that rates exist
	}
	m.registry.MustRegister(m.requests, m.duration, m.inFlight, m.events, m.decisions, m.deliveries,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector())
	if src.Pools != nil {
		m.registry.MustRegister(poolCollector{src.Pools})
	}
	if src.Outbox != nil {
		now := src.Now
		if now == nil {
			now = time.Now
		}
		m.registry.MustRegister(outboxCollector{src.Outbox, now})
	}
	return m
}

// Limits of the label values taken from data.
const (
	maxReasons = 200
	maxKinds   = 100
)

// Event counts a journey step: the event log's Observe.
func (m *Metrics) Event(e event.Event) {
	journey, step, _ := strings.Cut(e.Type, ".")
	m.events.WithLabelValues(m.kinds.value(journey), m.kinds.value(step), m.kinds.value(e.Outcome), m.reasons.value(e.Reason)).Inc()
}

// Decision counts a decision: the decision point's Observe.
func (m *Metrics) Decision(action policy.Action, d policy.Decision) {
	m.decisions.WithLabelValues(m.kinds.value(string(action)), m.kinds.value(string(d.Effect)), m.reasons.value(d.Reason)).Inc()
}

// Delivery counts n delivery attempts that ended with result: the
// courier worker's Observe.
func (m *Metrics) Delivery(result string, n int) {
	m.deliveries.WithLabelValues(m.kinds.value(result)).Add(float64(n))
}

// Handler serves the metrics in Prometheus's text format (or
// OpenMetrics, when the scraper asks). A source that fails (the outbox's
// database, say) is logged and left out; the rest is served.
func (m *Metrics) Handler(logger *slog.Logger) http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// RequireToken serves next only to requests that carry
// Authorization: Bearer token; the others get 401. The token is compared
// in constant time (of its hash: nor does the time tell its length).
func RequireToken(token string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="foyer metrics"`)
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "401 unauthorized: /metrics needs Authorization: Bearer <metrics.token>", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
