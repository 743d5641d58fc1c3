package oidc_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// storedBytes is what the tokens' and the events' tables take, indexes
// included, in whole pages.
func storedBytes(t *testing.T, db *store.DB) int64 {
	t.Helper()
	var n int64
	var err error
	if db.Dialect == store.Postgres {
		err = db.QueryRow(context.Background(), `SELECT pg_total_relation_size('oauth_tokens') + pg_total_relation_size('events')`).Scan(&n)
	} else {
		err = db.QueryRow(context.Background(), `SELECT COALESCE(SUM(d.pgsize), 0) FROM dbstat d JOIN sqlite_master m ON m.name = d.name
			WHERE m.tbl_name IN ('oauth_tokens', 'events')`).Scan(&n)
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// machine is a client_credentials client.
type machine struct {
	t      *testing.T
	env    *servertest.Env
	id     string
	secret string
}

func newMachine(t *testing.T, env *servertest.Env) *machine {
	t.Helper()
	c, secret, err := env.Server.Clients.Create(context.Background(), "customers", client.Spec{
		Name: ptr("Nightly job"), GrantTypes: &[]string{"client_credentials"}, Scopes: &[]string{"reports:read"}})
	if err != nil {
		t.Fatal(err)
	}
	return &machine{t: t, env: env, id: c.ID, secret: secret}
}

// tokens gets n tokens, 8 requests at a time.
func (m *machine) tokens(n int) {
	m.t.Helper()
	var wg sync.WaitGroup
	work := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			for range work {
				req, _ := http.NewRequest("POST", m.env.URL+"/oauth/token", strings.NewReader("grant_type=client_credentials&scope=reports%3Aread"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(url.QueryEscape(m.id), url.QueryEscape(m.secret))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					m.t.Error(err)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					m.t.Errorf("token: %d", resp.StatusCode)
				}
			}
		})
	}
	for range n {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
}

func (m *machine) events() int {
	m.t.Helper()
	list, err := m.env.Server.Events.List(context.Background(), event.Query{Type: "oauth.client_credentials"})
	if err != nil {
		m.t.Fatal(err)
	}
	return len(list)
}

// A machine token costs its row (and its share of the indexes) while it
// lives, and nothing once it has expired: the event log records a
// client's tokens from one network once a minute, not each of them, and
// expired tokens are pruned. (Before: about 680 bytes per token on SQLite
// and 780 on PostgreSQL, for ever.)
func TestClientCredentialsStorage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		m := newMachine(t, env)
		m.tokens(1)
		if got := m.events(); got != 1 {
			t.Fatalf("%d events after the first token, want 1", got)
		}
		m.tokens(99)
		before, events := storedBytes(t, db), m.events()
		const n = 1000
		m.tokens(n)
		perToken := (storedBytes(t, db) - before) / n
		t.Logf("%s: %d bytes per client_credentials token", db.Dialect, perToken)
		if perToken > 450 {
			t.Errorf("%d bytes per client_credentials token", perToken)
		}
		// Within a minute, one more event at most (if the minute turned).
		if got := m.events(); got > events+1 {
			t.Errorf("%d events for %d tokens", got-events, n)
		}
		// The next minute's first token is recorded.
		env.Clock.Advance(time.Minute)
		events = m.events()
		m.tokens(3)
		if got := m.events(); got != events+1 {
			t.Errorf("%d events for a new minute's tokens, want 1", got-events)
		}

		// Expired (5 minutes) and past the retention (5 more): pruned.
		env.Clock.Advance(11 * time.Minute)
		m.tokens(1) // still alive at the next prune
		if err := env.Server.OIDC.Prune(context.Background()); err != nil {
			t.Fatal(err)
		}
		var left int
		if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM oauth_tokens`).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left != 1 {
			t.Fatalf("%d tokens left after pruning, want the 1 alive", left)
		}
	})
}
