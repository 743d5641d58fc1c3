package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/courier"
	"github.com/foyer-id/foyer/internal/server"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
	"github.com/foyer-id/foyer/internal/telemetry/telemetrytest"
)

var metricsToken = strings.Repeat("m", 40)

// scrapeMetrics GETs url (a /metrics) with the bearer token, if any, and
// returns the status and the body.
func scrapeMetrics(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// An operator's scrape after a sign-up and a failed sign-in: /metrics on
// the main listener wants the token, on its own listener none, and
// holds the requests by route, the journey's steps with their reasons,
// the policy's decisions, the mail delivered and waiting, the database's
// pools and the Go runtime's numbers.
func TestMetrics(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, func(c *config.Config) {
			c.Metrics.Token = metricsToken
			c.Metrics.Addr = "127.0.0.1:0"
		})
		const email = "metrics@example.com"
		signUp(t, env, email, goodPassword)
		r, p := signInFrom(t, env, nil, email, "not the password at all")
		if r.StatusCode != http.StatusBadRequest {
			t.Fatalf("a wrong password: %d %+v", r.StatusCode, p)
		}
		var start api.FlowResponse
		env.JSON(t, "POST", "/api/login", "", nil, &start)
		// The sign-up's mail is counted as sent once it is marked so.
		env.WaitForOutbox(t, email, func(m []courier.Entry) bool { return len(m) == 1 && m[0].Status == courier.StatusSent })

		for _, token := range []string{"", metricsToken[1:], "x" + metricsToken} {
			if status, body := scrapeMetrics(t, env.URL+"/metrics", token); status != http.StatusUnauthorized || strings.Contains(body, "foyer_") {
				t.Fatalf("/metrics with token %q: %d\n%s", token, status, body)
			}
		}
		status, body := scrapeMetrics(t, env.URL+"/metrics", metricsToken)
		if status != http.StatusOK {
			t.Fatalf("/metrics with the token: %d\n%s", status, body)
		}
		got := telemetrytest.Parse(t, body)
		pool := map[store.Dialect]string{store.SQLite: "write", store.Postgres: "main"}[db.Dialect]
		for _, tt := range []struct {
			name   string
			labels []string
			least  float64
		}{
			{"foyer_http_requests_total", []string{"method", "POST", "route", "/registration", "status", "303"}, 1},
			{"foyer_http_requests_total", []string{"method", "POST", "route", "/api/login/{id}", "status", "400"}, 1},
			{"foyer_http_request_duration_seconds", []string{"method", "GET", "route", "/registration"}, 1},
			{"foyer_journey_events_total", []string{"journey", "login", "step", "submitted", "outcome", "failure", "reason", "invalid_credentials"}, 1},
			{"foyer_journey_events_total", []string{"journey", "registration", "step", "completed", "outcome", "success"}, 1},
			{"foyer_policy_decisions_total", []string{"action", "login.submit", "effect", "allow"}, 1},
			{"foyer_courier_deliveries_total", []string{"result", "sent"}, 1},
			{"foyer_courier_deliveries_total", []string{"result", "failed"}, 0},
			{"foyer_outbox_depth", []string{"state", "due"}, 0},
			{"foyer_outbox_oldest_age_seconds", nil, 0},
			{"foyer_db_connections", []string{"pool", pool, "state", "idle"}, 0},
			{"foyer_db_connections_max", []string{"pool", pool}, 1},
			{"go_goroutines", nil, 1},
			{"process_resident_memory_bytes", nil, 1},
		} {
			v, ok := got.Value(tt.name, tt.labels...)
			if !ok || v < tt.least {
				t.Errorf("%s%v = %v (found: %v), want at least %v", tt.name, tt.labels, v, ok, tt.least)
			}
		}
		if v, _ := got.Value("foyer_journey_events_total", "reason", "invalid_credentials"); v != 1 {
			t.Errorf("invalid_credentials counted %v times, want 1", v)
		}
		// Routes are patterns: no flow id, no address.
		for _, leak := range []string{start.Flow.ID, email} {
			if strings.Contains(body, leak) {
				t.Errorf("the metrics hold %q", leak)
			}
		}

		// The listener of their own serves them without a token.
		status, body = scrapeMetrics(t, "http://"+env.Server.MetricsAddr().String()+"/metrics", "")
		if status != http.StatusOK || !strings.Contains(body, "foyer_http_requests_total") {
			t.Fatalf("metrics.addr: %d\n%s", status, body)
		}
	})
}

// Outside dev mode the metrics are served only where configured, and
// nowhere without a setting.
func TestMetricsOnlyWhereConfigured(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		plain := servertest.Start(t, db, servertest.Production())
		if status, _ := scrapeMetrics(t, plain.URL+"/metrics", ""); status != http.StatusNotFound {
			t.Errorf("production without metrics settings: /metrics %d, want 404", status)
		}
		if plain.Server.MetricsAddr() != nil {
			t.Errorf("a metrics listener nobody asked for: %v", plain.Server.MetricsAddr())
		}
		own := servertest.Start(t, db, servertest.Production(), func(c *config.Config) { c.Metrics.Addr = "127.0.0.1:0" })
		if status, _ := scrapeMetrics(t, own.URL+"/metrics", ""); status != http.StatusNotFound {
			t.Errorf("production with metrics.addr: /metrics on the main listener %d, want 404", status)
		}
		if status, _ := scrapeMetrics(t, "http://"+own.Server.MetricsAddr().String()+"/metrics", ""); status != http.StatusOK {
			t.Errorf("production with metrics.addr: %d there", status)
		}
	})
}

// With tracing, a request is a span named after its route, and the
// database calls it makes are its children.
func TestTracing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		cfg := config.Default()
		cfg.Dev = true
		cfg.Data = t.TempDir()
		cfg.Addr = "127.0.0.1:4455"
		cfg.Password.MemoryKiB, cfg.Password.Iterations = 1024, 1
		if err := cfg.Finish(); err != nil {
			t.Fatal(err)
		}
		spans := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
		srv, err := server.New(context.Background(), cfg, server.Options{DB: db, TracerProvider: tp,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })

		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, httptest.NewRequest("POST", "/api/login", nil))
		var start api.FlowResponse
		if w.Code != http.StatusCreated || json.Unmarshal(w.Body.Bytes(), &start) != nil {
			t.Fatalf("POST /api/login: %d %s", w.Code, w.Body)
		}
		w = httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/api/flows/"+start.Flow.ID, nil))
		if w.Code != http.StatusOK {
			t.Fatalf("GET /api/flows/{id}: %d %s", w.Code, w.Body)
		}
		for name, child := range map[string]string{"POST /api/login": "transaction", "GET /api/flows/{id}": "SELECT flows"} {
			var request sdktrace.ReadOnlySpan
			for _, s := range spans.Ended() {
				if s.Name() == name {
					request = s
				}
			}
			if request == nil {
				t.Fatalf("no span %s among %d", name, len(spans.Ended()))
			}
			var children []string
			for _, s := range spans.Ended() {
				if s.Parent().SpanID() == request.SpanContext().SpanID() {
					children = append(children, s.Name())
					if attrOf(s, "db.system.name") == "" {
						t.Errorf("child span %s of %s is not a database call", s.Name(), name)
					}
				}
			}
			if !slices.Contains(children, child) {
				t.Errorf("%s: child spans %q, want a %s", name, children, child)
			}
		}
	})
}

func attrOf(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}
