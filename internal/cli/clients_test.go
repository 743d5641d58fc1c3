package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/store"
)

// runClients runs "foyer clients args…" through Main.
func runClients(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	return run(t, env, append([]string{"clients"}, args...)...)
}

type cliClient struct {
	ID           string   `json:"client_id"`
	Name         string   `json:"name"`
	RedirectURIs []string `json:"redirect_uris"`
	GrantTypes   []string `json:"grant_types"`
	AccessTTL    int      `json:"access_token_ttl"`
	Public       bool     `json:"public"`
	AuthMethod   string   `json:"auth_method"`
	HasSecret    bool     `json:"has_secret"`
	ClientSecret string   `json:"client_secret"`
}

func TestClientsCommand(t *testing.T) {
	data := t.TempDir()
	if code, out, errOut := run(t, nil, "migrate", "--data", data); code != 0 {
		t.Fatalf("migrate: %d %q %q", code, out, errOut)
	}

	code, out, errOut := runClients(t, nil, "create", "--data", data, "--name", "shop",
		"--redirect-uri", "https://shop.example/callback", "--redirect-uri", "https://shop.example/cb2", "--first-party")
	if code != 0 {
		t.Fatalf("create: %d %q %q", code, out, errOut)
	}
	var created cliClient
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("create output %q: %v", out, err)
	}
	if created.ID == "" || created.Name != "shop" || len(created.RedirectURIs) != 2 || !strings.HasPrefix(created.ClientSecret, "fcs_") ||
		created.AuthMethod != "client_secret_basic" || created.AccessTTL != 600 {
		t.Fatalf("created %+v", created)
	}
	if !strings.Contains(errOut, "shown only this once") || strings.Contains(errOut, created.ClientSecret) {
		t.Fatalf("create stderr %q", errOut)
	}

	code, out, _ = runClients(t, nil, "list", "--data", data)
	var list []cliClient
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil {
		t.Fatalf("list: %d %q %v", code, out, err)
	}
	if len(list) != 1 || list[0].ID != created.ID || list[0].ClientSecret != "" || strings.Contains(out, created.ClientSecret) || !list[0].HasSecret {
		t.Fatalf("list %s", out)
	}

	// The id may come before or after the flags.
	for _, args := range [][]string{{"get", created.ID, "--data", data}, {"get", "--data", data, created.ID}} {
		code, out, errOut = runClients(t, nil, args...)
		if code != 0 || !strings.Contains(out, created.ID) || strings.Contains(out, `"client_secret":`) {
			t.Fatalf("%v: %d %q %q", args, code, out, errOut)
		}
	}

	code, out, errOut = runClients(t, nil, "update", created.ID, "--data", data, "--name", "Shop 2", "--access-token-ttl", "5m")
	var updated cliClient
	if err := json.Unmarshal([]byte(out), &updated); code != 0 || err != nil || updated.Name != "Shop 2" || updated.AccessTTL != 300 || len(updated.RedirectURIs) != 2 {
		t.Fatalf("update: %d %q %q", code, out, errOut)
	}

	code, out, errOut = runClients(t, nil, "rotate-secret", created.ID, "--data", data)
	var rotated cliClient
	if err := json.Unmarshal([]byte(out), &rotated); code != 0 || err != nil || !strings.HasPrefix(rotated.ClientSecret, "fcs_") || rotated.ClientSecret == created.ClientSecret {
		t.Fatalf("rotate-secret: %d %q %q", code, out, errOut)
	}
	if !strings.Contains(errOut, "shown only this once") {
		t.Fatalf("rotate-secret stderr %q", errOut)
	}

	// The CLI keyed the hash with the dev secret in <data>/secret, as a
	// dev server does: the new secret verifies, the old one does not.
	raw, err := os.ReadFile(filepath.Join(data, "secret"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), filepath.Join(data, "foyer.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	reg := client.NewRegistry(db, bytes.TrimSpace(raw), nil)
	if _, err := reg.VerifySecret(context.Background(), created.ID, rotated.ClientSecret); err != nil {
		t.Fatalf("rotated secret: %v", err)
	}
	if _, err := reg.VerifySecret(context.Background(), created.ID, created.ClientSecret); err == nil {
		t.Fatal("old secret still verifies")
	}

	// A public client and a client_credentials client.
	code, out, errOut = runClients(t, nil, "create", "--data", data, "--name", "app", "--public", "--redirect-uri", "com.example.app:/callback")
	var app cliClient
	if err := json.Unmarshal([]byte(out), &app); code != 0 || err != nil || !app.Public || app.AuthMethod != "none" || app.ClientSecret != "" || strings.Contains(errOut, "shown only") {
		t.Fatalf("public: %d %q %q", code, out, errOut)
	}
	code, out, errOut = runClients(t, nil, "create", "--data", data, "--name", "batch", "--grant", "client_credentials", "--scope", "orders:read orders:write")
	var batch cliClient
	if err := json.Unmarshal([]byte(out), &batch); code != 0 || err != nil || batch.AccessTTL != 300 || len(batch.GrantTypes) != 1 || batch.ClientSecret == "" {
		t.Fatalf("client_credentials: %d %q %q", code, out, errOut)
	}
	code, out, errOut = runClients(t, nil, "update", app.ID, "--data", data, "--authorization-details-type", "payment_initiation account_information")
	if code != 0 || !strings.Contains(out, `"authorization_details_types": [
    "payment_initiation",
    "account_information"
  ]`) {
		t.Fatalf("details types: %d %q %q", code, out, errOut)
	}
	if code, _, errOut = runClients(t, nil, "update", batch.ID, "--data", data, "--authorization-details-type", "payment_initiation"); code != 1 ||
		!strings.Contains(errOut, "--authorization-details-type") {
		t.Fatalf("details types without authorization_code: %d %q", code, errOut)
	}
	if code, _, errOut = runClients(t, nil, "rotate-secret", app.ID, "--data", data); code != 1 || !strings.Contains(errOut, "has no secret") {
		t.Fatalf("rotate public: %d %q", code, errOut)
	}

	code, out, _ = runClients(t, nil, "delete", created.ID, "--data", data)
	if code != 0 || !strings.Contains(out, `"deleted": true`) {
		t.Fatalf("delete: %d %q", code, out)
	}
	if code, _, errOut = runClients(t, nil, "get", created.ID, "--data", data); code != 1 || !strings.Contains(errOut, "no client") {
		t.Fatalf("get deleted: %d %q", code, errOut)
	}
}

func TestClientsCommandErrors(t *testing.T) {
	data := t.TempDir()
	// Not migrated: say what to do.
	if code, _, errOut := runClients(t, nil, "list", "--data", data); code != 1 || !strings.Contains(errOut, "foyer migrate") {
		t.Fatalf("unmigrated: %d %q", code, errOut)
	}
	if code, _, _ := run(t, nil, "migrate", "--data", data); code != 0 {
		t.Fatal("migrate failed")
	}
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"invalid redirect", nil, []string{"create", "--data", data, "--name", "x", "--redirect-uri", "http://x.example/cb"},
			"redirect_uris[0] (--redirect-uri): must be an absolute https URL"},
		{"no name", nil, []string{"create", "--data", data, "--redirect-uri", "https://x.example/cb"}, "name (--name): is required"},
		{"public client_credentials", nil, []string{"create", "--data", data, "--name", "x", "--public", "--grant", "client_credentials"}, "grant_types (--grant)"},
		{"bad ttl", nil, []string{"create", "--data", data, "--name", "x", "--redirect-uri", "https://x.example/cb", "--access-token-ttl", "2h"}, "access_token_ttl (--access-token-ttl)"},
		{"missing jwks file", nil, []string{"create", "--data", data, "--name", "x", "--jwks-file", filepath.Join(data, "none.json")}, "--jwks-file"},
		{"no id", nil, []string{"get", "--data", data}, "name the client id"},
		{"unknown id", nil, []string{"delete", "nope", "--data", data}, `no client "nope"`},
		{"extra argument", nil, []string{"get", "a", "b", "--data", data}, "unexpected argument"},
		{"no command", nil, nil, "name a command"},
		{"unknown command", nil, []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"production without secret", []string{"FOYER_DEV=false"}, []string{"list", "--data", data}, "secret: must be set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runClients(t, tt.env, tt.args...)
			if code != 1 || !strings.Contains(errOut, tt.want) || out != "" {
				t.Fatalf("%d %q %q, want exit 1 and %q", code, out, errOut, tt.want)
			}
		})
	}
	// Nothing was created by the failures.
	if code, out, _ := runClients(t, nil, "list", "--data", data); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("list after failures: %d %q", code, out)
	}
	// Production mode works with a secret and without public URL or SMTP.
	env := []string{"FOYER_DEV=false", "FOYER_SECRET=" + strings.Repeat("s", 32)}
	if code, out, errOut := runClients(t, env, "list", "--data", data); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("production list: %d %q %q", code, out, errOut)
	}
}

func TestClientsHelp(t *testing.T) {
	if code, _, errOut := runClients(t, nil, "--help"); code != 0 || !strings.Contains(errOut, "rotate-secret ID") {
		t.Fatalf("clients --help: %d %q", code, errOut)
	}
	for _, sub := range []string{"create", "list", "get", "update", "delete", "rotate-secret"} {
		code, _, errOut := runClients(t, nil, sub, "--help")
		if code != 0 || !strings.Contains(errOut, "-dsn") || !strings.Contains(errOut, "Usage: foyer clients "+sub) {
			t.Fatalf("%s --help: %d %q", sub, code, errOut)
		}
		if (sub == "create" || sub == "update") && !strings.Contains(errOut, "-redirect-uri") {
			t.Fatalf("%s --help lacks the client flags: %q", sub, errOut)
		}
	}
}
