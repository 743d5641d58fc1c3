package telemetry

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/courier"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/policy"
)

// metricName matches the names of Foyer's, Go's and the process's
// metrics in a text.
var metricName = regexp.MustCompile(`\b(?:foyer|go|process)_[a-z_]+[a-z]\b`)

// families returns the names of every metric family a server serves.
func families(t *testing.T) map[string]bool {
	m := NewMetrics(Sources{Pools: fakePools{{Pool: "write"}}, Outbox: fakeQueue{d: courier.Depth{}}, Now: time.Now})
	// Vectors show up once they have a series.
	m.Event(event.Event{Type: event.LoginSubmitted, Outcome: event.OutcomeFailure})
	m.Decision(policy.LoginSubmit, policy.Decision{Effect: policy.Allow})
	m.requests.WithLabelValues("GET", "/", "200")
	m.duration.WithLabelValues("GET", "/")
	out := map[string]bool{}
	for name := range scrape(t, m, discard()) {
		out[name] = true
	}
	return out
}

// The operations guide and the dashboard name only metrics that exist,
// and the guide names every one of Foyer's.
func TestDocsNameRealMetrics(t *testing.T) {
	real := families(t)
	known := func(name string) bool {
		if real[name] {
			return true
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && real[base] {
				return true
			}
		}
		return false
	}

	guide, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range metricName.FindAllString(string(guide), -1) {
		if !known(name) && !strings.HasSuffix(name, "_") {
			t.Errorf("docs/operations.md names %s, which no server serves", name)
		}
	}
	for name := range real {
		if strings.HasPrefix(name, "foyer_") && !strings.Contains(string(guide), "`"+name+"`") {
			t.Errorf("docs/operations.md does not describe %s", name)
		}
	}

	raw, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("docs/grafana-dashboard.json: %v", err)
	}
	exprs := 0
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, target := range p.Targets {
			exprs++
			names := metricName.FindAllString(target.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q: %s names no metric", p.Title, target.Expr)
			}
			for _, name := range names {
				if !known(name) {
					t.Errorf("panel %q queries %s, which no server serves", p.Title, name)
				}
			}
			if strings.Count(target.Expr, "(") != strings.Count(target.Expr, ")") || strings.Count(target.Expr, "{") != strings.Count(target.Expr, "}") {
				t.Errorf("panel %q: unbalanced %s", p.Title, target.Expr)
			}
		}
	}
	if exprs < 20 {
		t.Errorf("the dashboard has %d queries", exprs)
	}
}
