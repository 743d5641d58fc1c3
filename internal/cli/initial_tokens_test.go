package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/store"
)

type cliInitialToken struct {
	ID        string    `json:"id"`
	Note      string    `json:"note"`
	UsesLeft  int       `json:"uses_left"`
	Used      int       `json:"used"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Token     string    `json:"token"`
}

func TestInitialTokenCommand(t *testing.T) {
	data := t.TempDir()
	if code, out, errOut := run(t, nil, "migrate", "--data", data); code != 0 {
		t.Fatalf("migrate: %d %q %q", code, out, errOut)
	}
	it := func(args ...string) (int, string, string) {
		t.Helper()
		return runClients(t, []string{"FOYER_OIDC_REGISTRATION=token"}, append([]string{"initial-token"}, append(args, "--data", data)...)...)
	}

	code, out, errOut := it("create", "--note", "OpenID conformance suite", "--uses", "50", "--expires", "72h")
	var created cliInitialToken
	if err := json.Unmarshal([]byte(out), &created); code != 0 || err != nil {
		t.Fatalf("create: %d %q %q", code, out, errOut)
	}
	if created.ID == "" || !strings.HasPrefix(created.Token, client.InitialTokenPrefix) || created.UsesLeft != 50 ||
		created.Note != "OpenID conformance suite" || created.ExpiresAt.Sub(created.CreatedAt) != 72*time.Hour {
		t.Fatalf("created %+v", created)
	}
	if !strings.Contains(errOut, "shown only this once") || strings.Contains(errOut, created.Token) || strings.Contains(errOut, "Note:") {
		t.Fatalf("create stderr %q", errOut)
	}
	// The defaults: one use, 24 hours; and a reminder when the server
	// would not ask for it.
	code, out, errOut = runClients(t, nil, "initial-token", "create", "--data", data)
	var second cliInitialToken
	if err := json.Unmarshal([]byte(out), &second); code != 0 || err != nil || second.UsesLeft != 1 ||
		second.ExpiresAt.Sub(second.CreatedAt) != 24*time.Hour || !strings.Contains(errOut, `oidc.registration is "off"`) {
		t.Fatalf("create with defaults: %d %q %q", code, out, errOut)
	}

	// The token works, keyed with the server's secret as a server would
	// check it.
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
	if err := reg.CheckInitialToken(context.Background(), "customers", created.Token); err != nil {
		t.Fatalf("the created token: %v", err)
	}

	code, out, _ = it("list")
	var list []cliInitialToken
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list) != 2 || list[0].ID != created.ID ||
		list[0].Token != "" || strings.Contains(out, created.Token) || strings.Contains(out, second.Token) {
		t.Fatalf("list: %d %q %v", code, out, err)
	}

	code, out, errOut = it("revoke", created.ID)
	if code != 0 || !strings.Contains(out, `"revoked": true`) {
		t.Fatalf("revoke: %d %q %q", code, out, errOut)
	}
	if err := reg.CheckInitialToken(context.Background(), "customers", created.Token); !errors.Is(err, client.ErrInvalidInitialToken) {
		t.Fatalf("the revoked token: %v", err)
	}
	if code, out, _ = it("list"); code != 0 || strings.Contains(out, created.ID) || !strings.Contains(out, second.ID) {
		t.Fatalf("list after revoke: %d %q", code, out)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"revoke", created.ID}, "no initial access token"},
		{[]string{"revoke"}, "name the client id"},
		{[]string{"create", "--expires", "30s"}, "--expires: must be between 1m"},
		{[]string{"create", "--uses", "0"}, "--uses: must be between 1"},
		{[]string{"list", "--uses", "2"}, "flag provided but not defined: -uses"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
	} {
		if code, out, errOut := it(c.args...); code != 1 || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: %d %q %q, want exit 1 and %q", c.args, code, out, errOut, c.want)
		}
	}
	if code, _, errOut := runClients(t, nil, "initial-token"); code != 1 || !strings.Contains(errOut, "name a command") {
		t.Errorf("no command: %d %q", code, errOut)
	}
}

func TestInitialTokenHelp(t *testing.T) {
	if code, _, errOut := runClients(t, nil, "--help"); code != 0 || !strings.Contains(errOut, "initial-token") {
		t.Fatalf("clients --help: %d %q", code, errOut)
	}
	for _, sub := range []string{"create", "list", "revoke"} {
		code, _, errOut := runClients(t, nil, "initial-token", sub, "--help")
		if code != 0 || !strings.Contains(errOut, "Usage: foyer clients initial-token "+sub) || !strings.Contains(errOut, "-dsn") ||
			strings.Contains(errOut, "-uses") != (sub == "create") {
			t.Fatalf("%s --help: %d %q", sub, code, errOut)
		}
	}
}
