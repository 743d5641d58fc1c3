package telemetry

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/courier"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/telemetry/telemetrytest"
)

// scrape serves m's /metrics once and parses the answer.
func scrape(t *testing.T, m *Metrics, logger *slog.Logger) telemetrytest.Metrics {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler(logger).ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", w.Code, w.Body)
	}
	return telemetrytest.Parse(t, w.Body.String())
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// passThrough is a ResponseWriter wrapper of a layer between the
// middleware and the mux, as the server has (misses, outages).
type passThrough struct{ http.ResponseWriter }

func (p passThrough) Unwrap() http.ResponseWriter { return p.ResponseWriter }

// Requests count by method, the route that matched (never the path) and
// status, whatever layers sit between the middleware and the mux, and
// what the layers outside the mux answer counts as unmatched.
func TestRequestsCountByRoute(t *testing.T) {
	m := NewMetrics(Sources{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "missing" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("item"))
	})
	mux.HandleFunc("POST /items", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	layer := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Origin") == "https://evil.example" {
				http.Error(w, "refused", http.StatusForbidden) // answered before the mux
				return
			}
			next.ServeHTTP(passThrough{w}, r.WithContext(r.Context()))
		})
	}
	h := Middleware(layer(Routes(mux)), m, nil)
	for _, req := range []struct {
		method, path, origin string
	}{
		{"GET", "/items/1", ""}, {"GET", "/items/2", ""}, {"GET", "/items/missing", ""},
		{"POST", "/items", ""}, {"GET", "/nowhere", ""}, {"BREW", "/items/1", ""},
		{"POST", "/items", "https://evil.example"},
	} {
		r := httptest.NewRequest(req.method, req.path, nil)
		if req.origin != "" {
			r.Header.Set("Origin", req.origin)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
	}

	got := scrape(t, m, discard())
	for _, tt := range []struct {
		method, route, status string
		want                  float64
	}{
		{"GET", "/items/{id}", "200", 2},
		{"GET", "/items/{id}", "404", 1},
		{"POST", "/items", "201", 1},
		{"GET", "unmatched", "404", 1},
		{"other", "unmatched", "405", 1},
		{"POST", "unmatched", "403", 1},
	} {
		if v, _ := got.Value("foyer_http_requests_total", "method", tt.method, "route", tt.route, "status", tt.status); v != tt.want {
			t.Errorf("requests %s %s %s = %v, want %v", tt.method, tt.route, tt.status, v, tt.want)
		}
	}
	if v, _ := got.Value("foyer_http_request_duration_seconds", "method", "GET", "route", "/items/{id}"); v != 3 {
		t.Errorf("latency observations of GET /items/{id}: %v, want 3", v)
	}
	if v, ok := got.Value("foyer_http_requests_in_flight"); !ok || v != 0 {
		t.Errorf("in flight after the requests: %v, %v", v, ok)
	}
	for _, route := range got.LabelValues("foyer_http_requests_total", "route") {
		if strings.Contains(route, "/items/1") || strings.Contains(route, "missing") || strings.Contains(route, "nowhere") {
			t.Errorf("a path became a route label: %q", route)
		}
	}
}

// Journey steps and decisions count by their kinds and reasons; a reason
// that is words rather than a code, or one past the limit, is "other".
func TestEventsAndDecisions(t *testing.T) {
	m := NewMetrics(Sources{})
	m.Event(event.Event{Type: event.LoginSubmitted, Outcome: event.OutcomeFailure, Reason: "invalid_credentials"})
	m.Event(event.Event{Type: event.LoginSubmitted, Outcome: event.OutcomeFailure, Reason: "invalid_credentials"})
	m.Event(event.Event{Type: event.RegistrationCompleted, Outcome: event.OutcomeSuccess})
	m.Event(event.Event{Type: event.FailureSpike, Outcome: event.OutcomeSuccess, Reason: "120 failures a minute, 3.0 before"})
	m.Decision(policy.LoginSubmit, policy.Decision{Effect: policy.Throttle, Reason: "too_many_attempts"})
	for i := range maxReasons + 5 {
		m.Decision(policy.FlowStart, policy.Decision{Effect: policy.Deny, Reason: fmt.Sprintf("rule_%d", i)})
	}
	m.Delivery(courier.DeliveryRetry, 3)

	got := scrape(t, m, discard())
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"foyer_journey_events_total", []string{"journey", "login", "step", "submitted", "outcome", "failure", "reason", "invalid_credentials"}, 2},
		{"foyer_journey_events_total", []string{"journey", "registration", "step", "completed", "outcome", "success", "reason", ""}, 1},
		{"foyer_journey_events_total", []string{"journey", "risk", "step", "failure_spike", "reason", "other"}, 1},
		{"foyer_policy_decisions_total", []string{"action", "login.submit", "effect", "throttle", "reason", "too_many_attempts"}, 1},
		{"foyer_policy_decisions_total", []string{"action", "flow.start", "effect", "deny"}, maxReasons + 5},
		{"foyer_courier_deliveries_total", []string{"result", "retry"}, 3},
		{"foyer_courier_deliveries_total", []string{"result", "failed"}, 0},
	} {
		if v, ok := got.Value(tt.name, tt.labels...); !ok || v != tt.want {
			t.Errorf("%s%v = %v (found %v), want %v", tt.name, tt.labels, v, ok, tt.want)
		}
	}
	// Every reason counted, the first ones by name, the rest together.
	reasons := got.LabelValues("foyer_policy_decisions_total", "reason")
	if n := len(reasons); n > maxReasons+1 {
		t.Errorf("%d reasons: the label is not bounded", n)
	}
	if v, _ := got.Value("foyer_policy_decisions_total", "action", "flow.start", "reason", "other"); v < 5 {
		t.Errorf("reasons past the limit: %v counted as other, want at least 5", v)
	}
}

// fakePools and fakeQueue stand in for the store and the outbox.
type fakePools []store.PoolStats

func (f fakePools) PoolStats() []store.PoolStats { return f }

type fakeQueue struct {
	d   courier.Depth
	err error
}

func (f fakeQueue) Depth(context.Context) (courier.Depth, error) { return f.d, f.err }

// The pools and the outbox are read at scrape time; an outbox that
// cannot be read is left out and logged, and the rest is served.
func TestScrapeTimeSources(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	pools := fakePools{{Pool: "write", DBStats: sql.DBStats{MaxOpenConnections: 1, InUse: 1, WaitCount: 7, WaitDuration: 1500 * time.Millisecond}},
		{Pool: "read", DBStats: sql.DBStats{MaxOpenConnections: 8, Idle: 3}}}
	m := NewMetrics(Sources{Pools: pools, Outbox: fakeQueue{d: courier.Depth{Due: 4, Retry: 2, Sending: 1, Oldest: now.Add(-90 * time.Second)}},
		Now: func() time.Time { return now }})
	got := scrape(t, m, discard())
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"foyer_db_connections", []string{"pool", "write", "state", "in_use"}, 1},
		{"foyer_db_connections", []string{"pool", "read", "state", "idle"}, 3},
		{"foyer_db_connections_max", []string{"pool", "read"}, 8},
		{"foyer_db_waits_total", []string{"pool", "write"}, 7},
		{"foyer_db_wait_seconds_total", []string{"pool", "write"}, 1.5},
		{"foyer_outbox_depth", []string{"state", "due"}, 4},
		{"foyer_outbox_depth", []string{"state", "retry"}, 2},
		{"foyer_outbox_depth", []string{"state", "sending"}, 1},
		{"foyer_outbox_oldest_age_seconds", nil, 90},
	} {
		if v, ok := got.Value(tt.name, tt.labels...); !ok || v != tt.want {
			t.Errorf("%s%v = %v (found %v), want %v", tt.name, tt.labels, v, ok, tt.want)
		}
	}
	if _, ok := got.Value("go_goroutines"); !ok {
		t.Error("no Go runtime metrics")
	}

	var logs bytes.Buffer
	broken := NewMetrics(Sources{Pools: pools, Outbox: fakeQueue{err: errors.New("database unavailable")}})
	got = scrape(t, broken, slog.New(slog.NewTextHandler(&logs, nil)))
	if _, ok := got.Value("foyer_outbox_depth"); ok {
		t.Error("an outbox that failed was reported")
	}
	if _, ok := got.Value("foyer_db_connections", "pool", "write"); !ok {
		t.Error("a failing outbox took the other metrics with it")
	}
	if !strings.Contains(logs.String(), "database unavailable") {
		t.Errorf("the outbox's failure was not logged: %s", logs.String())
	}
}

// /metrics behind a token answers only requests that carry it.
func TestRequireToken(t *testing.T) {
	token := strings.Repeat("t", 40)
	h := RequireToken(token, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("metrics")) }))
	for _, tt := range []struct {
		auth string
		want int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer " + token[:39], http.StatusUnauthorized},
		{"Bearer " + token + "x", http.StatusUnauthorized},
		{"Basic " + token, http.StatusUnauthorized},
		{"Bearer " + token, http.StatusOK},
	} {
		r := httptest.NewRequest("GET", "/metrics", nil)
		if tt.auth != "" {
			r.Header.Set("Authorization", tt.auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tt.want {
			t.Errorf("Authorization %q: %d, want %d", tt.auth, w.Code, tt.want)
		}
		if w.Code == http.StatusUnauthorized && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("401 without a Bearer challenge")
		}
	}
}
