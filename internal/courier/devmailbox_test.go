package courier

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

func TestDevMailbox(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clk := newClock()
		w, _ := newTestWorker(t, db, clk, DevMailboxSender{Logger: slog.New(slog.DiscardHandler)})
		w.Outbox.KeepBodies = true
		m := codeMessage("alice@example.com", "428197")
		m.Data["Link"] = "https://id.acme.test/verify?code=428197"
		id := mustEnqueue(t, w.Outbox, m)
		if err := w.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		(&DevMailbox{Outbox: w.Outbox, Logger: slog.New(slog.DiscardHandler)}).Mount(mux)
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)

		tests := []struct {
			name, path string
			status     int
			csp        string
			contains   []string
			lacks      []string
		}{
			{
				name: "list", path: "/dev/mailbox", status: 200, csp: pageCSP,
				contains: []string{"alice@example.com", "Your Acme verification code", `href="/dev/mailbox/` + id + `"`, "sent", "2026-03-01 09:00:00 UTC", `href="/dev/mailbox/style.css"`},
				lacks:    []string{"428197", "<script", "style="},
			},
			{
				name: "show", path: "/dev/mailbox/" + id, status: 200, csp: pageCSP,
				contains: []string{"<pre>Hello,", "428197", `<iframe src="/dev/mailbox/` + id + `/html" sandbox=""`, `href="https://id.acme.test/verify?code=428197"`, "verification_code"},
				lacks:    []string{"<script", "style="},
			},
			{
				name: "html body", path: "/dev/mailbox/" + id + "/html", status: 200, csp: bodyCSP,
				contains: []string{"<!DOCTYPE html>", "428197"},
			},
			{
				name: "unknown", path: "/dev/mailbox/nope", status: 404, csp: pageCSP,
				contains: []string{"No such mail"},
			},
			{
				name: "stylesheet", path: "/dev/mailbox/style.css", status: 200, csp: "default-src 'none'",
				contains: []string{"iframe {"},
			},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				res, err := http.Get(srv.URL + tc.path)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != tc.status {
					t.Fatalf("status %d, want %d\n%s", res.StatusCode, tc.status, body)
				}
				if got := res.Header.Get("Content-Security-Policy"); got != tc.csp {
					t.Errorf("CSP = %q, want %q", got, tc.csp)
				}
				if res.Header.Get("X-Content-Type-Options") != "nosniff" {
					t.Error("no nosniff header")
				}
				for _, s := range tc.contains {
					if !strings.Contains(string(body), s) {
						t.Errorf("body lacks %q\n%s", s, body)
					}
				}
				for _, s := range tc.lacks {
					if strings.Contains(string(body), s) {
						t.Errorf("body contains %q", s)
					}
				}
			})
		}

		res, err := http.Post(srv.URL+"/dev/mailbox", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST /dev/mailbox = %d, want 405", res.StatusCode)
		}
	})
}

// Outside dev mode the mailbox, if mounted by mistake, shows no bodies.
func TestDevMailboxWithErasedBodies(t *testing.T) {
	db := storetest.NewSQLite(t)
	clk := newClock()
	w, _ := newTestWorker(t, db, clk, DevMailboxSender{})
	id := mustEnqueue(t, w.Outbox, codeMessage("alice@example.com", "428197"))
	if err := w.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	(&DevMailbox{Outbox: w.Outbox}).Mount(mux)
	for path, status := range map[string]int{"/dev/mailbox/" + id: 200, "/dev/mailbox/" + id + "/html": 404} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != status || strings.Contains(rec.Body.String(), "428197") {
			t.Errorf("GET %s = %d (want %d), code shown: %v", path, rec.Code, status, strings.Contains(rec.Body.String(), "428197"))
		}
	}
}
