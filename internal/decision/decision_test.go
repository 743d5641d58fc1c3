package decision

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// A decision's record keeps the whole input, so that replaying it through
// the same policy gives the same answer.
func TestRecordKeepsTheInputForReplay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 3, 4, 5, 6, 7, 891_000, time.UTC)
		p := &Point{Domain: "customers", Policy: policy.Default{RequireVerifiedEmail: true}, Now: func() time.Time { return now }}
		in := policy.Input{Action: policy.SessionIssue, FlowID: "f-1", ClientIP: "203.0.113.9", UserAgent: "Firefox \xff", DeviceID: "d-1",
			IdentityID: "id-1", IdentityState: "active", Methods: []string{"password"},
			Signals: policy.Signals{NetworkWait: 3 * time.Second, NetworkFailures: 4, KnownDevice: true}}
		d, rec := p.Decide(ctx, in)
		if d.Effect != policy.StepUp || rec.Effect != policy.StepUp || rec.Reason != "email_not_verified" {
			t.Fatalf("decision %+v, record %+v", d, rec)
		}
		l := NewLog(db)
		if err := db.InTx(ctx, func(tx *store.Tx) error { return l.AppendTx(ctx, tx, rec) }); err != nil {
			t.Fatal(err)
		}
		got, err := l.List(ctx, Query{Domain: "customers"})
		if err != nil || len(got) != 1 {
			t.Fatalf("List = %+v, %v", got, err)
		}
		r := got[0]
		if !r.At.Equal(now.Truncate(time.Microsecond)) || r.Action != policy.SessionIssue || r.IdentityID != "id-1" || r.FlowID != "f-1" ||
			r.Policy == "" || !reflect.DeepEqual(r.Require, []string{policy.StepVerifyEmail}) {
			t.Fatalf("record = %+v", r)
		}
		if r.Input.UserAgent != "Firefox \uFFFD" || r.Input.Signals != in.Signals || r.Input.ClientIP != in.ClientIP {
			t.Fatalf("input = %+v", r.Input)
		}
		if again, _ := p.Decide(ctx, r.Input); again.Effect != d.Effect || again.Reason != d.Reason {
			t.Fatalf("replayed %+v, first %+v", again, d)
		}
	})
}

// Records are found by time, action and identity, and listed page by page.
func TestListAndPrune(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		now := base
		p := &Point{Domain: "customers", Policy: policy.Default{}, Now: func() time.Time { return now }}
		l := NewLog(db)
		actions := []policy.Action{policy.LoginSubmit, policy.SessionIssue, policy.LoginSubmit, policy.Logout, policy.SessionIssue}
		for i, a := range actions {
			now = base.Add(time.Duration(i) * time.Minute)
			_, rec := p.Decide(ctx, policy.Input{Action: a, IdentityID: []string{"", "id-1", "", "id-1", "id-2"}[i]})
			if err := l.Append(ctx, rec); err != nil {
				t.Fatal(err)
			}
		}
		// Two at the same microsecond: a page boundary between them.
		_, same := p.Decide(ctx, policy.Input{Action: policy.Logout, IdentityID: "id-2"})
		if err := l.Append(ctx, same); err != nil {
			t.Fatal(err)
		}
		check := func(name string, q Query, want ...policy.Action) []Record {
			t.Helper()
			got, err := l.List(ctx, q)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var acts []policy.Action
			for _, r := range got {
				acts = append(acts, r.Action)
			}
			if !reflect.DeepEqual(acts, want) {
				t.Fatalf("%s = %v, want %v", name, acts, want)
			}
			return got
		}
		check("all", Query{}, append(actions, policy.Logout)...)
		check("range", Query{From: base.Add(time.Minute), To: base.Add(3 * time.Minute)}, policy.SessionIssue, policy.LoginSubmit)
		check("action", Query{Action: policy.SessionIssue}, policy.SessionIssue, policy.SessionIssue)
		check("identity", Query{IdentityID: "id-1"}, policy.SessionIssue, policy.Logout)
		check("other domain", Query{Domain: "workforce"})
		var pages []policy.Action
		q := Query{Limit: 2}
		for {
			got, err := l.List(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 {
				break
			}
			for _, r := range got {
				pages = append(pages, r.Action)
			}
			last := got[len(got)-1]
			q.From, q.After = last.At, last.Seq
		}
		if want := append(actions, policy.Logout); !reflect.DeepEqual(pages, want) {
			t.Fatalf("pages = %v, want %v", pages, want)
		}
		n, err := l.Prune(ctx, base.Add(2*time.Minute))
		if err != nil || n != 2 {
			t.Fatalf("Prune = %d, %v", n, err)
		}
		check("after prune", Query{}, policy.LoginSubmit, policy.Logout, policy.SessionIssue, policy.Logout)
	})
}

// A record is compact: a typical sign-in decision's input is a few hundred
// bytes.
func TestRecordIsCompact(t *testing.T) {
	_, rec := (&Point{Domain: "customers", Policy: policy.Default{}, Now: time.Now}).Decide(context.Background(), policy.Input{
		Action: policy.SessionIssue, FlowID: "0193a4c2-7f1e-7b3a-9c4d-5e6f7a8b9c0d", ClientIP: "203.0.113.9",
		UserAgent:  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		DeviceID:   "8c1f4a2e9b7d4f06a3e5c2b1d0f9e8a7",
		IdentityID: "0193a4c2-7f1e-7b3a-9c4d-5e6f7a8b9c0e", IdentityState: "active", EmailVerified: true, Methods: []string{"password"}})
	args, err := rec.args()
	if err != nil {
		t.Fatal(err)
	}
	in := args[len(args)-1].(string)
	if len(in) > 400 || strings.Contains(in, "signals") {
		t.Fatalf("input is %d bytes: %s", len(in), in)
	}
}

// A record names the policy and the version of its settings: the same
// settings, the same version; other settings, another.
func TestPolicyVersion(t *testing.T) {
	a, b := policy.Default{RequireVerifiedEmail: true}, policy.Default{RequireVerifiedEmail: true}
	if Version(a) != Version(b) || Version(a) == Version(policy.Default{}) || len(Version(a)) != 16 {
		t.Fatalf("versions %s %s %s", Version(a), Version(b), Version(policy.Default{}))
	}
	p := &Point{Domain: "customers", Policy: a, Version: Version(a), Now: time.Now}
	if _, rec := p.Decide(context.Background(), policy.Input{Action: policy.Logout}); rec.Policy != "builtin/default@1#"+Version(a) {
		t.Fatalf("record's policy %q", rec.Policy)
	}
}

// A step's records go in one statement, each kept whole and apart.
func TestInsertAll(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 12, 5, 15, 0, 0, 0, time.UTC)
		p := &Point{Domain: "customers", Policy: policy.Default{}, Now: func() time.Time { return now }}
		var recs []Record
		for i, a := range []policy.Action{policy.FlowStart, policy.LoginSubmit, policy.SessionIssue} {
			_, r := p.Decide(ctx, policy.Input{Action: a, FlowID: "f-9", IdentityID: "id-9", ClientIP: "198.51.100." + string(rune('1'+i))})
			recs = append(recs, r)
		}
		if err := db.InTx(ctx, func(tx *store.Tx) error { return InsertAll(ctx, tx, recs) }); err != nil {
			t.Fatal(err)
		}
		if err := db.InTx(ctx, func(tx *store.Tx) error { return InsertAll(ctx, tx, nil) }); err != nil {
			t.Fatal(err)
		}
		got, err := NewLog(db).List(ctx, Query{Domain: "customers", FlowID: "f-9"})
		if err != nil || len(got) != 3 {
			t.Fatalf("List = %+v, %v", got, err)
		}
		for i, r := range got {
			if r.Action != recs[i].Action || r.Input.ClientIP != recs[i].Input.ClientIP || r.IdentityID != "id-9" {
				t.Fatalf("record %d = %+v, want %+v", i, r, recs[i])
			}
		}
	})
}
