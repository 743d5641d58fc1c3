package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/decision"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/store"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// check names each fault as FILE:LINE:COL and fails; a good file passes.
func TestPolicyCheck(t *testing.T) {
	if code, out, errOut := run(t, nil, "policy", "check", "../../policies/default.yaml"); code != 0 || !strings.Contains(out, "ok, 27 rules") {
		t.Fatalf("default.yaml: %d %q %q", code, out, errOut)
	}
	bad := writeFile(t, "bad.yaml", "version: 1\nrules:\n  - name: r\n    when: 'device.knwon'\n    then: {effect: deny}\n")
	code, _, errOut := run(t, nil, "policy", "check", bad)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{bad + ":4:18: rule \"r\": when: undeclared reference to 'device.knwon'", bad + ":5:20: rule \"r\": a deny needs a reason"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr does not say %q:\n%s", want, errOut)
		}
	}
}

// test runs the shipped default's cases, and names a case that fails.
func TestPolicyTest(t *testing.T) {
	code, out, errOut := run(t, nil, "policy", "test", "../../policies/default.yaml", "../../policies/default.cases.yaml")
	if code != 0 || !strings.Contains(out, "cases pass") {
		t.Fatalf("default cases: %d %q %q", code, out, errOut)
	}
	cases := writeFile(t, "cases.yaml", `cases:
  - name: new devices need a second factor
    input: {action: session.issue, state: active, methods: [password]}
    expect: {effect: step_up}
  - name: disabled accounts are refused
    input: {action: session.issue, state: disabled}
    expect: {effect: deny, reason: identity_disabled}
`)
	code, out, _ = run(t, nil, "policy", "test", "../../policies/default.yaml", cases)
	if code != 1 || !strings.Contains(out, "FAIL "+cases+":2: new devices need a second factor: effect allow, want step_up") ||
		strings.Contains(out, "disabled accounts") || !strings.Contains(out, "1 of 2 cases failed") {
		t.Fatalf("failing case: %d %q", code, out)
	}
}

// replay reads a server's recorded decisions and reports, as JSON, what a
// candidate changes.
func TestPolicyReplay(t *testing.T) {
	data := t.TempDir()
	if code, _, errOut := run(t, nil, "migrate", "--data", data); code != 0 {
		t.Fatal(errOut)
	}
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(data, "foyer.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	rec := func(at time.Duration, a policy.Action, e policy.Effect, in policy.Input) decision.Record {
		in.Action, in.Domain, in.Time = a, "customers", now.Add(-at)
		return decision.Record{At: in.Time, Domain: "customers", Action: a, Effect: e, Policy: "builtin/default@1", Input: in}
	}
	err = decision.InsertAll(ctx, db, []decision.Record{
		rec(time.Hour, policy.RegistrationSubmit, policy.Allow, policy.Input{Email: "a@mailinator.test"}),
		rec(time.Hour, policy.RegistrationSubmit, policy.Allow, policy.Input{Email: "b@example.com"}),
		rec(30*time.Minute, policy.LoginSubmit, policy.Allow, policy.Input{Email: "b@example.com"}),
		rec(200*time.Hour, policy.RegistrationSubmit, policy.Allow, policy.Input{Email: "old@mailinator.test"}), // before --since
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	candidate := writeFile(t, "candidate.yaml", `version: 1
rules:
  - name: block-disposable
    when: 'action == "registration.submit" && identity.email.endsWith("@mailinator.test")'
    then: {effect: deny, reason: "Please use a permanent email address."}
`)
	code, out, errOut := run(t, nil, "policy", "replay", "--data", data, "--policy", candidate, "--json")
	if code != 0 {
		t.Fatalf("replay: %d %s", code, errOut)
	}
	var rep struct {
		Decisions   int            `json:"decisions"`
		Changed     int            `json:"changed"`
		Transitions map[string]int `json:"transitions"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if rep.Decisions != 3 || rep.Changed != 1 || rep.Transitions["allow->deny"] != 1 || len(rep.Transitions) != 1 {
		t.Errorf("report %s", out)
	}
	code, out, _ = run(t, nil, "policy", "replay", "--data", data, "--policy", candidate, "--action", "login.submit", "--since", "1h")
	if code != 0 || !strings.Contains(out, "1 decisions, 0 change") {
		t.Errorf("one action: %d %s", code, out)
	}
	if code, _, errOut := run(t, nil, "policy", "replay", "--data", data); code != 1 || !strings.Contains(errOut, "--policy CANDIDATE, or --shadow") {
		t.Errorf("no candidate: %d %s", code, errOut)
	}
}
