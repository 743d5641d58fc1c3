package rules

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/policies"
)

// randomInput is a decision's input drawn to reach every branch of the
// built-in policy: each signal is zero half the time.
func randomInput(r *rand.Rand, now time.Time) policy.Input {
	pick := func(l ...string) string { return l[r.IntN(len(l))] }
	coin := func() bool { return r.IntN(2) == 0 }
	wait := func() time.Duration {
		if coin() {
			return 0
		}
		return time.Duration(r.IntN(600)+1) * time.Second
	}
	count := func(n int) int {
		if coin() {
			return 0
		}
		return r.IntN(n)
	}
	var methods []string
	for _, m := range []string{"password", "email_code", "totp", "recovery_code", "passkey", "sms_code"} {
		if r.IntN(4) == 0 {
			methods = append(methods, m)
		}
	}
	var authAt time.Time
	if coin() {
		authAt = now.Add(-time.Duration(r.IntN(40)) * time.Minute)
	}
	return policy.Input{
		Domain: "customers", Action: policy.Actions[r.IntN(len(policy.Actions))], Time: now,
		IdentityID: pick("", "id-1"), IdentityState: pick("", "active", "disabled"), EmailVerified: coin(),
		SecondFactor: coin(), Methods: methods, AAL: pick("", "aal1", "aal2"), AuthenticatedAt: authAt,
		ClientAAL: pick("", "aal1", "aal2"), RequestedAAL: pick("", "aal1", "aal2"),
		Change: pick("", policy.ChangePassword, policy.ChangeEmail, policy.ChangePhone, policy.ChangeTraits,
			policy.ChangeRemoveFactor, policy.ChangeAddFactor, policy.ChangeOnlyPasskey),
		Signals: policy.Signals{
			NetworkWait: wait(), IdentifierWait: wait(), IdentifierWideWait: wait(), DeviceWait: wait(),
			NetworkFailures: count(64), IdentifierFailures: count(8), NetworkSpread: count(20),
			KnownDevice: coin(), RecentlyRecovered: coin(), OriginalFactor: coin(), Protected: r.IntN(4) == 0,
			BreachedPassword: coin(), SiteSpike: r.IntN(4) == 0, ChallengeSolved: coin(),
			ClonedAuthenticator: r.IntN(4) == 0, NewCountry: coin(), FirstDevice: coin(),
			TravelKmh: float64(count(3000)),
		},
	}
}

// The shipped default.yaml decides as the built-in policy does, under
// every setting that changes a decision.
func TestDefaultFileMatchesBuiltin(t *testing.T) {
	settings := []policy.Default{
		{},
		{RequireVerifiedEmail: true, AllowClonedPasskeys: true, ChallengeBits: 12, FreshFor: 30 * time.Minute,
			AppAAL: policy.AAL2, SpreadLimit: 3, MaxTravelKmh: 500},
	}
	r := rand.New(rand.NewPCG(1, 2))
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	reasons := map[string]bool{}
	for _, set := range settings {
		file, err := Parse("policies/default.yaml", policies.Default, Options{Settings: set, OnError: func(rule string, err error) {
			t.Errorf("rule %s: %v", rule, err)
		}})
		if err != nil {
			t.Fatal(err)
		}
		for range 100_000 {
			in := randomInput(r, now)
			want := set.Decide(context.Background(), in)
			got := file.Decide(context.Background(), in)
			if got.Effect != want.Effect || got.Reason != want.Reason || !slices.Equal(got.Require, want.Require) ||
				got.RetryAfter != want.RetryAfter || got.Difficulty != want.Difficulty {
				t.Fatalf("settings %+v, input %+v:\nfile (rule %q): %+v\nbuilt-in: %+v", set, in, got.Rule, got, want)
			}
			reasons[string(want.Effect)+" "+want.Reason] = true
		}
	}
	// The corpus reached every outcome the built-in policy has.
	for _, want := range []string{"throttle too_many_challenges", "throttle too_many_flows", "throttle too_many_attempts",
		"challenge network_busy", "challenge identifier_busy", "challenge credential_stuffing", "challenge site_under_attack",
		"deny identity_disabled", "deny recently_recovered", "step_up sign_in_not_fresh", "step_up second_factor_required",
		"step_up app_requires_aal2", "step_up aal2_requested", "deny second_factor_not_set_up", "deny passkey_cloned",
		"step_up email_not_verified", "step_up account_protected", "step_up impossible_travel", "step_up new_device_new_country",
		"step_up recent_failures", "step_up second_factor_enrolled", "step_up breached_password", "allow "} {
		if !reasons[want] {
			t.Errorf("the corpus never reached %q", want)
		}
	}
}

const example = `version: 1
rules:
  - name: block-disposable
    when: 'action == "registration.submit" && identity.email.endsWith("@mailinator.test")'
    then: {effect: deny, reason: "Please use a permanent email address."}
  - name: new-device-step-up
    when: 'action == "login.submit" && !device.known'
    then: {effect: step_up, require: [second_factor]}
`

// The issue's example: the first rule that matches decides, and the
// built-in policy decides the rest.
func TestFirstMatchingRuleDecides(t *testing.T) {
	p, err := Parse("example.yaml", []byte(example), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d := p.Decide(ctx, policy.Input{Action: policy.RegistrationSubmit, Email: "x@mailinator.test"})
	if d.Effect != policy.Deny || d.Reason != "Please use a permanent email address." || d.Rule != "block-disposable" ||
		!strings.HasPrefix(d.Policy, "example.yaml@") {
		t.Errorf("disposable address: %+v", d)
	}
	if d := p.Decide(ctx, policy.Input{Action: policy.RegistrationSubmit, Email: "x@example.com"}); d.Effect != policy.Allow || d.Rule != "" {
		t.Errorf("other address: %+v", d)
	}
	if d := p.Decide(ctx, policy.Input{Action: policy.LoginSubmit}); d.Effect != policy.StepUp || !slices.Equal(d.Require, []string{"second_factor"}) {
		t.Errorf("new device: %+v", d)
	}
	// Falling back to the built-in policy: a known device past its own
	// limit waits, as without a file.
	in := policy.Input{Action: policy.LoginSubmit, Signals: policy.Signals{KnownDevice: true, DeviceWait: time.Minute}}
	if d := p.Decide(ctx, in); d.Effect != policy.Throttle || d.RetryAfter != time.Minute || d.Rule != "" {
		t.Errorf("known device past its limit: %+v", d)
	}
	if got := p.Rules(); !slices.Equal(got, []string{"block-disposable", "new-device-step-up"}) {
		t.Errorf("rules %v", got)
	}
}

// Every outcome, with literal values and expressions.
func TestOutcomes(t *testing.T) {
	p, err := Parse("outcomes.yaml", []byte(`version: 1
fallback: allow
rules:
  - name: slow
    when: 'action == "login.submit" && network.failures > 3'
    then: {effect: throttle, reason: slow_down, retry_after: 'duration(string(network.failures) + "s")'}
  - name: work
    when: 'action == "login.submit" && network.failures > 0'
    then: {effect: challenge, difficulty: 'domain.challenge_bits + network.failures'}
  - name: short-sessions-abroad
    when: 'action == "session.issue" && network.country != "FR"'
    then: {effect: session, lifetime: 8h, idle: 30m}
  - name: tell-new-devices
    when: 'action == "session.issue" && !device.known'
    then: {effect: notify, reason: new_device}
  - name: aal2-for-big-payments
    when: >-
      action == "oauth.authorize" && transaction.details.exists(d, d.type == "payment_initiation" &&
      double(d.instructedAmount.amount) > 1000.0)
    then: {effect: step_up, aal: aal2}
`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct {
		in   policy.Input
		want policy.Decision
	}{
		{policy.Input{Action: policy.LoginSubmit, Signals: policy.Signals{NetworkFailures: 5}},
			policy.Decision{Effect: policy.Throttle, Reason: "slow_down", RetryAfter: 5 * time.Second, Rule: "slow"}},
		{policy.Input{Action: policy.LoginSubmit, Signals: policy.Signals{NetworkFailures: 2}},
			policy.Decision{Effect: policy.Challenge, Difficulty: 18, Rule: "work"}},
		// Session and notify rules add to the allow that decides.
		{policy.Input{Action: policy.SessionIssue, Signals: policy.Signals{Country: "DE"}},
			policy.Decision{Effect: policy.Allow, SessionLifetime: 8 * time.Hour, SessionIdle: 30 * time.Minute, Notify: true}},
		{policy.Input{Action: policy.SessionIssue, Signals: policy.Signals{Country: "FR"}},
			policy.Decision{Effect: policy.Allow, Notify: true}},
		{policy.Input{Action: policy.SessionIssue, Signals: policy.Signals{Country: "FR", KnownDevice: true}},
			policy.Decision{Effect: policy.Allow}},
		{policy.Input{Action: policy.AuthorizeApp, Transaction: policy.TransactionOf(json.RawMessage(
			`[{"type":"account_information"},{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":"5000.00"}}]`))},
			policy.Decision{Effect: policy.StepUp, Require: []string{"second_factor"}, Rule: "aal2-for-big-payments"}},
		{policy.Input{Action: policy.AuthorizeApp, Transaction: policy.TransactionOf(json.RawMessage(
			`[{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":250}}]`))},
			policy.Decision{Effect: policy.Allow}},
		{policy.Input{Action: policy.AuthorizeApp}, policy.Decision{Effect: policy.Allow}},
	} {
		got := p.Decide(ctx, c.in)
		got.Policy = ""
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %+v: got %+v, want %+v", c.in.Action, c.in.Signals, got, c.want)
		}
	}
}

// A session or notify rule never skips a protection after it: the
// built-in policy still asks for the second factor the customer set up,
// and a disabled account gets no session.
func TestAnnotatingRulesDoNotDecide(t *testing.T) {
	p, err := Parse("a.yaml", []byte(`version: 1
rules:
  - name: tell-vips
    when: 'identity.email.endsWith("@vip.test")'
    then: {effect: notify}
  - name: short-sessions
    when: 'action == "session.issue"'
    then: {effect: session, lifetime: 8h}
`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	in := policy.Input{Action: policy.SessionIssue, Email: "boss@vip.test", IdentityState: "active", SecondFactor: true, Methods: []string{"password"}}
	if d := p.Decide(ctx, in); d.Effect != policy.StepUp || d.Reason != "second_factor_enrolled" || d.Notify || d.SessionLifetime != 0 {
		t.Errorf("password only, second factor set up: %+v", d)
	}
	in.IdentityState = "disabled"
	if d := p.Decide(ctx, in); d.Effect != policy.Deny {
		t.Errorf("disabled: %+v", d)
	}
	in.IdentityState, in.Methods = "active", []string{"password", "totp"}
	if d := p.Decide(ctx, in); d.Effect != policy.Allow || !d.Notify || d.SessionLifetime != 8*time.Hour {
		t.Errorf("both factors: %+v", d)
	}
	// At login.submit, which the notify rule also matches, the built-in
	// throttle still decides.
	lin := policy.Input{Action: policy.LoginSubmit, Email: "boss@vip.test", Signals: policy.Signals{IdentifierWait: time.Minute}}
	if d := p.Decide(ctx, lin); d.Effect != policy.Throttle {
		t.Errorf("login.submit of a throttled account: %+v", d)
	}
}

// A rule that fails to evaluate is skipped and reported, and the rules
// after it decide.
func TestRuleErrorSkipsTheRule(t *testing.T) {
	var failed []string
	p, err := Parse("e.yaml", []byte(`version: 1
rules:
  - name: reads-a-missing-trait
    when: 'identity.traits.plan == "free"'
    then: {effect: deny, reason: nope}
  - name: then-this
    when: 'true'
    then: {effect: deny, reason: second}
`), Options{OnError: func(rule string, err error) { failed = append(failed, rule) }})
	if err != nil {
		t.Fatal(err)
	}
	if d := p.Decide(context.Background(), policy.Input{Action: policy.LoginSubmit}); d.Reason != "second" {
		t.Errorf("got %+v, want the second rule's", d)
	}
	if !slices.Equal(failed, []string{"reads-a-missing-trait"}) {
		t.Errorf("reported %v", failed)
	}
}

// Faults are found at load, each at its place in the file, and the file
// is refused whole.
func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		name, src string
		want      []string
	}{
		{"no version", "rules: []\n", []string{"f.yaml:1:1: version is missing"}},
		{"bad yaml", "version: 1\nrules: [\n", []string{"f.yaml:2:1: did not find expected node content"}},
		{"unknown field", `version: 1
rules:
  - name: r
    when: 'action == "login.submit" && device.knwon'
    then: {effect: allow}
`, []string{`f.yaml:4:46: rule "r": when: undeclared reference to 'device.knwon'`}},
		{"block scalar", `version: 1
rules:
  - name: r
    when: >-
      action == "login.submit"
      && network.countyr == "FR"
    then: {effect: allow}
`, []string{`f.yaml:6:17: rule "r": when: undeclared reference to 'network.countyr'`}},
		{"not a bool", `version: 1
rules:
  - name: r
    when: 'network.failures'
    then: {effect: allow}
`, []string{`f.yaml:4:11: rule "r": when is of type int, want bool`}},
		{"unknown action", `version: 1
rules:
  - name: r
    when: 'action == "login.sumbit"'
    then: {effect: allow}
`, []string{`f.yaml:4:11: rule "r": unknown action "login.sumbit"`}},
		{"unknown effect", `version: 1
rules:
  - name: r
    when: 'true'
    then: {effect: block}
`, []string{`f.yaml:5:20: rule "r": unknown effect "block"`}},
		{"deny without reason", `version: 1
rules:
  - name: r
    when: 'true'
    then: {effect: deny}
`, []string{`f.yaml:5:20: rule "r": a deny needs a reason`}},
		{"unknown step", `version: 1
rules:
  - name: r
    when: 'true'
    then: {effect: step_up, require: [sms]}
`, []string{`f.yaml:5:39: rule "r": unknown step "sms"`}},
		{"notify elsewhere", `version: 1
rules:
  - name: r
    when: 'action == "account.change"'
    then: {effect: notify}
`, []string{`f.yaml:5:11: rule "r": effect notify is carried out at session.issue only`}},
		{"duplicate name", `version: 1
rules:
  - name: r
    when: 'true'
    then: {effect: allow}
  - name: r
    when: 'true'
    then: {effect: allow}
`, []string{`f.yaml:6:5: rule "r": a rule of this name comes earlier`}},
		{"duplicate keys", `version: 1
rules:
  - name: r
    when: 'identity.email.endsWith("@blocked.test")'
    when: 'true'
    then: {effect: deny, effect: allow, reason: x}
`, []string{`f.yaml:5:5: the key "when" comes twice`, `f.yaml:6:26: the key "effect" comes twice`}},
		{"two documents", "version: 1\nrules: []\n---\nversion: 1\n", []string{`f.yaml:3:1: a policy file holds one YAML document`}},
		{"two faults", `version: 1
rules:
  - name: a
    when: 'nope'
    then: {effect: allow}
  - name: b
    when: 'true'
    then: {effect: throttle}
`, []string{`f.yaml:4:12: rule "a": when: undeclared reference to 'nope'`, `f.yaml:8:20: rule "b": a throttle needs retry_after`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(c.src), Options{})
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\ndoes not say %q", err, w)
				}
			}
		})
	}
}

// BenchmarkDecideDefault is one decision by default.yaml, of the inputs
// the sign-in journeys make; it reports the 99th percentile.
func BenchmarkDecideDefault(b *testing.B) {
	p, err := Parse("default.yaml", policies.Default, Options{})
	if err != nil {
		b.Fatal(err)
	}
	benchDecide(b, p)
}

func benchDecide(b *testing.B, p policy.Decider) {
	r := rand.New(rand.NewPCG(3, 4))
	now := time.Now()
	inputs := make([]policy.Input, 1024)
	for i := range inputs {
		inputs[i] = randomInput(r, now)
	}
	ctx := context.Background()
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		p.Decide(ctx, inputs[i%len(inputs)])
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds())/1000, "p99-µs")
}

// BenchmarkDecideBuiltin is the same decisions by the built-in policy.
func BenchmarkDecideBuiltin(b *testing.B) { benchDecide(b, policy.Default{}) }

// docs/policies.md documents every field of the context.
func TestContextDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/policies.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range Fields() {
		if !strings.Contains(string(doc), "| `"+name+"` |") {
			t.Errorf("docs/policies.md does not document %s", name)
		}
	}
	for _, a := range policy.Actions {
		if !strings.Contains(string(doc), "`"+string(a)+"`") {
			t.Errorf("docs/policies.md does not list the action %s", a)
		}
	}
}

// BenchmarkDecide50Rules is a decision by a policy of 50 rules spread over
// the sign-in's actions, in front of the built-in policy.
func BenchmarkDecide50Rules(b *testing.B) {
	var src strings.Builder
	src.WriteString("version: 1\nrules:\n")
	actions := []string{"login.submit", "session.issue", "flow.start", "registration.submit", "oauth.authorize"}
	for i := range 50 {
		fmt.Fprintf(&src, "  - name: r%d\n    when: 'action == %q && network.failures > %d && !device.known && identity.email.endsWith(\"@x%d.test\")'\n    then: {effect: deny, reason: r%d}\n",
			i, actions[i%len(actions)], i, i, i)
	}
	p, err := Parse("fifty.yaml", []byte(src.String()), Options{})
	if err != nil {
		b.Fatal(err)
	}
	benchDecide(b, p)
}

// A device's age reads as a duration and as the time it was first seen.
func TestDeviceAge(t *testing.T) {
	p, err := Parse("d.yaml", []byte(`version: 1
fallback: allow
rules:
  - name: young-device
    when: 'action == "session.issue" && device.known && device.age < duration("24h") && device.first_seen > time - duration("24h")'
    then: {effect: step_up, require: [email_code]}
`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	for age, want := range map[time.Duration]policy.Effect{time.Hour: policy.StepUp, 48 * time.Hour: policy.Allow, 0: policy.Allow} {
		in := policy.Input{Action: policy.SessionIssue, Time: now, Signals: policy.Signals{KnownDevice: true, DeviceAge: age}}
		if d := p.Decide(context.Background(), in); d.Effect != want {
			t.Errorf("device age %s: %s, want %s", age, d.Effect, want)
		}
	}
}
