package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/store/storetest"
)

// A server error that the database is behind becomes an outage's answer
// in the words of the path's part of Foyer; other server errors, and
// answers that are no server error, pass unchanged.
func TestOutagesNet(t *testing.T) {
	db := storetest.NewSQLite(t)
	s := &Server{health: &health{db: db, now: time.Now, logger: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	failing := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("ok") {
			w.WriteHeader(http.StatusTeapot)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"error":"server_error","error_description":"store: connection refused"}`)
	})
	page := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "try again shortly")
	}
	h := s.outages(failing, page)
	serve := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", path, nil))
		return rec
	}
	// The store works: a server error stays one.
	if rec := serve("/oauth/token"); rec.Code != http.StatusInternalServerError {
		t.Fatalf("with a working store: %d %s", rec.Code, rec.Body)
	}
	db.Close() // the store answers no more
	s.health.checked = time.Time{}
	for path, want := range map[string]string{
		"/oauth/token": `"error":"temporarily_unavailable"`,
		"/userinfo":    `"error":"temporarily_unavailable"`,
		"/api/login":   `"type":"https://foyer.dev/problems/unavailable"`,
		"/login":       "try again shortly",
	} {
		rec := serve(path)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), want) ||
			strings.Contains(rec.Body.String(), "connection refused") {
			t.Errorf("%s: %d Retry-After %q %s; want 503 with Retry-After and %s", path, rec.Code, rec.Header().Get("Retry-After"), rec.Body, want)
		}
	}
	if rec := serve("/api/login?ok"); rec.Code != http.StatusTeapot {
		t.Errorf("an answer that is no server error changed: %d", rec.Code)
	}
	// A request whose deadline passed is an outage whatever the store says.
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	rec := httptest.NewRecorder()
	s.health.checked, s.health.err = time.Now(), nil
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/login", nil).WithContext(ctx))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("past its deadline: %d %s", rec.Code, rec.Body)
	}
}
