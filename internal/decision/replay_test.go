package decision

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/policy/rules"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// fixture is a hand-made window of recorded decisions:
//
//	flow f1: login.submit allow; session.issue step_up (A); session.issue allow (A) — a step-up passed
//	flow f2: login.submit challenge; login.submit allow — a challenge passed
//	flow f3: session.issue step_up (B), never passed
//	flow f4: login.submit challenge, never passed
//	flow f5: registration.submit allow, a disposable address
//	flow f6: registration.submit allow, a lasting address
//
// so the pass rates are 1/2 for session.issue's step-ups and for
// login.submit's challenges. The first record also carries a shadow
// decision (deny).
func fixture(base time.Time) []Record {
	rec := func(i int, flow string, a policy.Action, id string, e policy.Effect, in policy.Input) Record {
		in.Domain, in.Action, in.FlowID, in.IdentityID = "customers", a, flow, id
		in.Time = base.Add(time.Duration(i) * time.Second)
		r := Record{At: in.Time, Domain: "customers", Action: a, FlowID: flow, IdentityID: id, Effect: e, Policy: "builtin/default@1", Input: in}
		if e == policy.StepUp {
			r.Require = []string{policy.StepSecondFactor}
		}
		return r
	}
	rs := []Record{
		rec(1, "f1", policy.LoginSubmit, "", policy.Allow, policy.Input{Email: "a@example.com"}),
		rec(2, "f1", policy.SessionIssue, "A", policy.StepUp, policy.Input{SecondFactor: true, Methods: []string{"password"}}),
		rec(3, "f1", policy.SessionIssue, "A", policy.Allow, policy.Input{SecondFactor: true, Methods: []string{"password", "totp"}}),
		rec(4, "f2", policy.LoginSubmit, "", policy.Challenge, policy.Input{Signals: policy.Signals{NetworkWait: time.Second}}),
		rec(5, "f2", policy.LoginSubmit, "", policy.Allow, policy.Input{Signals: policy.Signals{ChallengeSolved: true}}),
		rec(6, "f3", policy.SessionIssue, "B", policy.StepUp, policy.Input{SecondFactor: true, Methods: []string{"password"}}),
		rec(7, "f4", policy.LoginSubmit, "", policy.Challenge, policy.Input{Signals: policy.Signals{NetworkWait: time.Second}}),
		rec(8, "f5", policy.RegistrationSubmit, "", policy.Allow, policy.Input{Email: "x@mailinator.test"}),
		rec(9, "f6", policy.RegistrationSubmit, "", policy.Allow, policy.Input{Email: "y@example.com"}),
	}
	rs[0].Shadow = &Shadow{Effect: policy.Deny, Reason: "no", Policy: "candidate.yaml@1234"}
	return rs
}

// candidate refuses disposable addresses and otherwise allows everything.
const candidate = `version: 1
fallback: allow
rules:
  - name: block-disposable
    when: 'action == "registration.submit" && identity.email.endsWith("@mailinator.test")'
    then: {effect: deny, reason: "Please use a permanent email address."}
`

func rate(r float64) *float64 { return &r }

// Replay's numbers are those worked out by hand for the fixture.
func TestReplayReportsWhatACandidateChanges(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		l := NewLog(db)
		if err := InsertAll(ctx, db, fixture(base)); err != nil {
			t.Fatal(err)
		}
		// A record outside the window is left out.
		if err := InsertAll(ctx, db, []Record{{At: base.Add(-time.Hour), Domain: "customers", Action: policy.SessionIssue,
			Effect: policy.StepUp, Policy: "p"}}); err != nil {
			t.Fatal(err)
		}
		p, err := rules.Parse("candidate.yaml", []byte(candidate), rules.Options{})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := l.Replay(ctx, Query{Domain: "customers", From: base}, p, "candidate.yaml")
		if err != nil {
			t.Fatal(err)
		}
		// Accounts A and B, and the address tried at a sign-up.
		if rep.Decisions != 9 || rep.Changed != 5 || rep.Identities != 3 || len(rep.StepChanges) != 0 ||
			!reflect.DeepEqual(rep.Transitions, map[string]int{"step_up->allow": 2, "challenge->allow": 2, "allow->deny": 1}) {
			t.Errorf("report %+v", rep)
		}
		// session.issue: 2 step-ups (pass rate 1/2) become allows: +1;
		// login.submit: 2 challenges (1/2) become allows: +1;
		// registration.submit: an allow becomes a deny: -1.
		if rep.CompletionDelta != 1 {
			t.Errorf("completion delta %v, want 1", rep.CompletionDelta)
		}
		want := map[policy.Action]ActionReport{
			policy.RegistrationSubmit: {Decisions: 2, Changed: 1, Transitions: map[string]int{"allow->deny": 1}, Identities: 1, CompletionDelta: -1},
			policy.LoginSubmit: {Decisions: 4, Changed: 2, Transitions: map[string]int{"challenge->allow": 2},
				ChallengePassRate: rate(0.5), CompletionDelta: 1},
			policy.SessionIssue: {Decisions: 3, Changed: 2, Transitions: map[string]int{"step_up->allow": 2}, Identities: 2,
				StepUpPassRate: rate(0.5), CompletionDelta: 1},
		}
		var order []policy.Action
		for _, a := range rep.Actions {
			order = append(order, a.Action)
			w := want[a.Action]
			if a.Decisions != w.Decisions || a.Changed != w.Changed || a.Identities != w.Identities ||
				!reflect.DeepEqual(a.Transitions, w.Transitions) || fmt.Sprint(deref(a.StepUpPassRate)) != fmt.Sprint(deref(w.StepUpPassRate)) ||
				fmt.Sprint(deref(a.ChallengePassRate)) != fmt.Sprint(deref(w.ChallengePassRate)) || a.CompletionDelta != w.CompletionDelta {
				t.Errorf("%s: %+v, want %+v", a.Action, a, w)
			}
		}
		if !reflect.DeepEqual(order, []policy.Action{policy.RegistrationSubmit, policy.LoginSubmit, policy.SessionIssue}) {
			t.Errorf("actions in order %v", order)
		}

		// One action alone.
		rep, err = l.Replay(ctx, Query{Domain: "customers", From: base, Action: policy.SessionIssue}, p, "candidate.yaml")
		if err != nil || rep.Decisions != 3 || rep.Changed != 2 || rep.CompletionDelta != 1 {
			t.Errorf("session.issue alone: %+v, %v", rep, err)
		}

		// The same effect asking for another step is a change too.
		other, err := rules.Parse("other.yaml", []byte(`version: 1
fallback: allow
rules:
  - name: mailbox-instead
    when: 'action == "session.issue" && !("totp" in session.methods)'
    then: {effect: step_up, require: [email_code]}
`), rules.Options{})
		if err != nil {
			t.Fatal(err)
		}
		rep, err = l.Replay(ctx, Query{Domain: "customers", From: base, Action: policy.SessionIssue}, other, "other.yaml")
		if err != nil || rep.Changed != 2 || len(rep.Transitions) != 0 ||
			!reflect.DeepEqual(rep.StepChanges, map[string]int{"step_up(second_factor)->step_up(email_code)": 2}) {
			t.Errorf("another step: %+v, %v", rep, err)
		}

		// The live comparison of shadow mode: only the record with a
		// shadow decision counts.
		rep, err = l.ReplayShadow(ctx, Query{Domain: "customers", From: base})
		if err != nil || rep.Decisions != 1 || rep.Changed != 1 || !reflect.DeepEqual(rep.Transitions, map[string]int{"allow->deny": 1}) ||
			rep.Policy != "candidate.yaml@1234" {
			t.Errorf("shadow report %+v, %v", rep, err)
		}
	})
}

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

// BenchmarkReplay replays a million recorded decisions with the shipped
// default policy (set FOYER_BENCH_REPLAY=N for another count). It reports
// the time per decision; the whole replay is N times that.
func BenchmarkReplay(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, db *store.DB) {
		ctx := context.Background()
		n := 1_000_000
		base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		rs := fixture(base)
		batch := make([]Record, 0, 500)
		for i := 0; i < n; i += len(batch) {
			batch = batch[:0]
			for j := 0; j < 500 && i+j < n; j++ {
				r := rs[(i+j)%len(rs)]
				r.FlowID = fmt.Sprintf("%s-%d", r.FlowID, (i+j)/len(rs))
				r.At = base.Add(time.Duration(i+j) * time.Millisecond)
				batch = append(batch, r)
			}
			if err := db.InTx(ctx, func(tx *store.Tx) error { return InsertAll(ctx, tx, batch) }); err != nil {
				b.Fatal(err)
			}
		}
		p, err := rules.Parse("candidate.yaml", []byte(candidate), rules.Options{})
		if err != nil {
			b.Fatal(err)
		}
		l := NewLog(db)
		b.ResetTimer()
		for b.Loop() {
			rep, err := l.Replay(ctx, Query{Domain: "customers", From: base}, p, "candidate.yaml")
			if err != nil || rep.Decisions != n {
				b.Fatalf("%+v, %v", rep, err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N), "s/replay")
	})
}
