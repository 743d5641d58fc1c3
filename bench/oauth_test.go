package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	foyerclient "github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// TestOAuthScenarios runs oauth-setup and refresh against a real server:
// the browser hops of the code flow, the exchange, and rotations that
// continue from the tokens file without tripping reuse detection.
func TestOAuthScenarios(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t), func(c *config.Config) {
		no := false
		c.Domains[config.DefaultDomain].Registration.RequireVerification = &no
	})
	ctx := context.Background()
	redirect := []string{"http://127.0.0.1:9/callback"}
	web, secret, err := env.Server.Clients.Create(ctx, config.DefaultDomain, foyerclient.Spec{
		Name: new("bench-web"), RedirectURIs: &redirect, FirstParty: new(true)})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("FOYER_CLIENT_ID", web.ID)
	t.Setenv("FOYER_CLIENT_SECRET", secret)
	tokens := filepath.Join(t.TempDir(), "oauth.jsonl")
	bench := func(args ...string) (int, string) {
		var out, errs bytes.Buffer
		code := runMain(ctx, append(args, "-url", env.URL, "-tokens", tokens), &out, &errs)
		return code, out.String() + errs.String()
	}

	if code, out := bench("oauth-setup", "-n", "3", "-c", "2"); code != 0 {
		t.Fatalf("oauth-setup: exit %d\n%s", code, out)
	}
	first, err := readChains(tokens)
	if err != nil || len(first) != 3 {
		t.Fatalf("chains after oauth-setup: %d, %v", len(first), err)
	}
	if code, out := bench("refresh", "-c", "4"); code != 2 && !strings.Contains(out, "run oauth-setup -n 4") {
		t.Errorf("refresh with more workers than chains: exit %d\n%s", code, out)
	}
	if code, out := bench("refresh", "-c", "3", "-n", "30"); code != 0 {
		t.Fatalf("refresh: exit %d\n%s", code, out)
	}
	// A second run continues the rotated chains from the file.
	if code, out := bench("refresh", "-c", "2", "-n", "10"); code != 0 {
		t.Fatalf("second refresh: exit %d\n%s", code, out)
	}
	last, err := readChains(tokens)
	if err != nil || len(last) != 3 {
		t.Fatalf("chains after refresh: %d, %v", len(last), err)
	}
	for i := range last {
		if last[i].RefreshToken == first[i].RefreshToken || last[i].AccessToken == first[i].AccessToken {
			t.Errorf("chain %d did not rotate", i)
		}
	}

	// The access tokens are live, for the client they were issued to, as
	// introspect.lua needs.
	req, _ := http.NewRequest(http.MethodPost, env.URL+"/oauth/introspect", strings.NewReader(url.Values{"token": {last[0].AccessToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(web.ID, secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got struct {
		Active bool `json:"active"`
	}
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil || !got.Active {
		t.Errorf("introspection of a chain's access token: %d, active=%v, %v", res.StatusCode, got.Active, err)
	}

	// A third-party client stops at the consent page, which the tool
	// names.
	third, thirdSecret, err := env.Server.Clients.Create(ctx, config.DefaultDomain, foyerclient.Spec{Name: new("third"), RedirectURIs: &redirect})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("FOYER_CLIENT_ID", third.ID)
	t.Setenv("FOYER_CLIENT_SECRET", thirdSecret)
	tokens = filepath.Join(t.TempDir(), "third.jsonl")
	if code, out := bench("oauth-setup", "-n", "1"); code != 1 || !strings.Contains(out, "continue 200 consent") {
		t.Errorf("oauth-setup with a third-party client: exit %d\n%s", code, out)
	}
}
