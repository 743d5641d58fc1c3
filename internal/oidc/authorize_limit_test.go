package oidc_test

import (
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// Each authorization request is a stored row: a network may start only
// its share of them (flows_per_network); past it the app gets
// temporarily_unavailable at its redirect URI, and nothing is stored.
func TestAuthorizationRequestsPerNetwork(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, func(c *config.Config) { c.Domains[config.DefaultDomain].FlowsPerNetwork = 3 })
		p := newRP(t, env, client.Spec{})
		count := func() int {
			var n int
			if err := db.QueryRow(t.Context(), `SELECT COUNT(*) FROM oauth_auth_requests`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		for i := range 5 {
			r := p.browser.Get(strings.TrimPrefix(p.oauth.AuthCodeURL("state"+string(rune('a'+i)), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), env.URL))
			loc, _ := url.Parse(r.Header.Get("Location"))
			switch {
			case i < 3 && (strings.HasPrefix(loc.Path, "/login") || strings.HasPrefix(loc.Path, "/oauth/continue")):
			case i >= 3 && strings.HasPrefix(loc.String(), redirectURI) && loc.Query().Get("error") == "temporarily_unavailable":
			default:
				t.Fatalf("authorization request %d: %d %s", i+1, r.StatusCode, loc)
			}
		}
		if n := count(); n != 3 {
			t.Fatalf("%d authorization requests stored, want 3", n)
		}
	})
}
