package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// Behind trusted proxies the client's address comes from X-Forwarded-For
// (the last hop that is not a trusted proxy); from anyone else the header
// is ignored. Events and throttles see that address.
func TestClientAddressBehindProxies(t *testing.T) {
	startFlow := func(t *testing.T, env *servertest.Env, xff ...string) string {
		t.Helper()
		req, _ := http.NewRequest("POST", env.URL+"/api/login", strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		for _, h := range xff {
			req.Header.Add("X-Forwarded-For", h)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("start a login: %d", resp.StatusCode)
		}
		evs, err := env.Server.Events.List(t.Context(), event.Query{Type: event.LoginStarted})
		if err != nil || len(evs) == 0 {
			t.Fatalf("login.started events: %v %v", evs, err)
		}
		return evs[len(evs)-1].IP
	}

	t.Run("untrusted", func(t *testing.T) {
		env := servertest.Start(t, storetest.NewSQLite(t))
		if ip := startFlow(t, env, "203.0.113.7"); ip != "127.0.0.1" {
			t.Fatalf("no trusted proxies: client %q, want the TCP peer", ip)
		}
	})
	t.Run("trusted", func(t *testing.T) {
		env := servertest.Start(t, storetest.NewSQLite(t), func(c *config.Config) {
			c.TrustedProxies = []string{"127.0.0.1", "10.0.0.0/8"}
		})
		for _, tt := range []struct {
			xff  []string
			want string
		}{
			{nil, "127.0.0.1"},
			{[]string{"203.0.113.7"}, "203.0.113.7"},
			// What the client wrote itself is left of the first untrusted hop.
			{[]string{"198.51.100.9, 203.0.113.7, 10.1.2.3"}, "203.0.113.7"},
			{[]string{"198.51.100.9", "203.0.113.7, 10.1.2.3"}, "203.0.113.7"},
			{[]string{"2001:db8::1"}, "2001:db8::1"},
			{[]string{"not-an-address"}, "127.0.0.1"},
			{[]string{"10.0.0.1, 10.0.0.2"}, "10.0.0.1"},
		} {
			if ip := startFlow(t, env, tt.xff...); ip != tt.want {
				t.Errorf("X-Forwarded-For %q: client %q, want %q", tt.xff, ip, tt.want)
			}
		}
	})
}
