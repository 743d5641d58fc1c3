package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/decision"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// The decisions a domain recorded are read by filter, a page at a time,
// with the input each decision saw; other domains' are not there.
func TestListDecisions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newTestAPI(t, db, testToken)
		ctx := context.Background()
		base := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
		for i, in := range []policy.Input{
			{Domain: "customers", Action: policy.LoginSubmit, ClientIP: "203.0.113.7"},
			{Domain: "customers", Action: policy.SessionIssue, IdentityID: "id-1", ClientIP: "203.0.113.7"},
			{Domain: "workforce", Action: policy.SessionIssue, IdentityID: "id-9"},
			{Domain: "customers", Action: policy.SessionIssue, IdentityID: "id-2", Signals: policy.Signals{KnownDevice: true}},
		} {
			at := base.Add(time.Duration(i) * time.Second)
			_, rec := (&decision.Point{Policy: policy.Default{}, Now: func() time.Time { return at }}).Decide(ctx, in)
			if err := a.decisions.Append(ctx, rec); err != nil {
				t.Fatal(err)
			}
		}
		list := func(query string, want int) DecisionList {
			t.Helper()
			rec := a.do("GET", "/admin/decisions?"+query, "Bearer "+testToken, "")
			if rec.Code != http.StatusOK {
				t.Fatalf("GET ?%s: %d %s", query, rec.Code, rec.Body)
			}
			var out DecisionList
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || len(out.Decisions) != want {
				t.Fatalf("GET ?%s: %d records, want %d (%v): %s", query, len(out.Decisions), want, err, rec.Body)
			}
			return out
		}
		all := list("", 3)
		if all.Next != "" || all.Decisions[0].Input.ClientIP != "203.0.113.7" || !all.Decisions[2].Input.Signals.KnownDevice {
			t.Fatalf("all = %+v", all)
		}
		if got := list("action=session.issue&identity_id=id-2", 1); got.Decisions[0].IdentityID != "id-2" {
			t.Fatalf("filtered = %+v", got)
		}
		list("from=2026-12-05T10:00:01Z&to=2026-12-05T10:00:03Z", 1) // the workforce one is in range, not in the domain
		// Page by page, with the next link.
		var seen []string
		query := "limit=1"
		for query != "" {
			page := list(query, 1)
			seen = append(seen, string(page.Decisions[0].Action))
			query = page.Next
			if len(seen) == 3 {
				if query == "" {
					t.Fatal("a full page has no next link")
				}
				list(query, 0)
				break
			}
		}
		if len(seen) != 3 || seen[0] != "login.submit" || seen[2] != "session.issue" {
			t.Fatalf("pages = %v", seen)
		}
		for _, bad := range []string{"limit=0", "limit=1001", "from=yesterday", "after=-1", "to=2026-13-01T00:00:00Z"} {
			rec := a.do("GET", "/admin/decisions?"+bad, "Bearer "+testToken, "")
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("?%s: %d, want 400", bad, rec.Code)
			}
		}
		if rec := a.do("GET", "/admin/decisions", "", ""); rec.Code != http.StatusUnauthorized {
			t.Fatalf("without the token: %d", rec.Code)
		}
	})
}
