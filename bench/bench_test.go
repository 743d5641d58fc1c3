package main

import (
	"io"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/foyer-id/foyer/internal/credential/password"
)

func TestLatency(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- { // 1..100 ms, unsorted
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	got := latency(ds)
	want := Latency{P50: 50, P90: 90, P99: 99, Max: 100, Mean: 50.5}
	if got != want {
		t.Errorf("latency(1..100ms) = %+v, want %+v", got, want)
	}
	if got := latency(nil); got != (Latency{}) {
		t.Errorf("latency(nil) = %+v, want zero", got)
	}
	one := latency([]time.Duration{7 * time.Millisecond})
	if one.P50 != 7 || one.P99 != 7 || one.Max != 7 {
		t.Errorf("latency(7ms) = %+v", one)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
		check   func(*options) bool
	}{
		{args: []string{"login", "-c", "32", "-d", "20s"}, check: func(o *options) bool {
			return o.scenario == "login" && o.concurrency == 32 && o.duration == 20*time.Second
		}},
		{args: []string{"-c", "4", "register"}, check: func(o *options) bool { return o.scenario == "register" && o.concurrency == 4 }},
		{args: []string{"-scenario", "whoami", "-url", "http://h:1/"}, check: func(o *options) bool {
			return o.scenario == "whoami" && o.url == "http://h:1"
		}},
		{args: []string{"setup"}, check: func(o *options) bool { return o.count == 200 && o.duration == 0 }},
		{args: []string{"hash"}, check: func(o *options) bool { return o.concurrency == 0 }},
		{args: []string{"-run", "abc1", "register"}, check: func(o *options) bool { return o.runID == "abc1" }},
		{args: []string{}, wantErr: "name a scenario"},
		{args: []string{"nope"}, wantErr: "unknown scenario"},
		{args: []string{"login", "whoami"}, wantErr: "unexpected arguments"},
		{args: []string{"login", "-scenario", "whoami"}, wantErr: "two scenarios"},
		{args: []string{"login", "-c", "0"}, wantErr: "-c must be"},
		{args: []string{"login", "-d", "0"}, wantErr: "give -d or -n"},
		{args: []string{"setup", "-warmup", "1s"}, wantErr: "nothing to warm up"},
		{args: []string{"login", "-url", "127.0.0.1:4455"}, wantErr: "must start with http"},
		{args: []string{"login", "-run", "Bad+id"}, wantErr: "lower-case"},
		{args: []string{"oauth-setup", "-client-id", "a", "-client-secret", "b"}, check: func(o *options) bool {
			return o.count == 16 && o.duration == 0 && o.scope == "openid offline_access"
		}},
		{args: []string{"refresh", "-client-id", "a", "-client-secret", "b", "-c", "16"}, check: func(o *options) bool {
			return o.concurrency == 16 && o.duration == 10*time.Second
		}},
		{args: []string{"refresh", "-client-id", "a"}, wantErr: "needs an OAuth client"},
		{args: []string{"oauth-setup", "-client-id", "a", "-client-secret", "b", "-scope", "openid"}, wantErr: "offline_access"},
		{args: []string{"oauth-setup", "-client-id", "a", "-client-secret", "b", "-warmup", "1s"}, wantErr: "nothing to warm up"},
	}
	t.Setenv("FOYER_CLIENT_ID", "")
	t.Setenv("FOYER_CLIENT_SECRET", "")
	for _, tt := range tests {
		opt, err := parseFlags(tt.args, io.Discard)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseFlags(%q) error = %v, want one containing %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseFlags(%q): %v", tt.args, err)
			continue
		}
		if !tt.check(opt) {
			t.Errorf("parseFlags(%q) = %+v", tt.args, opt)
		}
	}
}

// TestPasswordsPassThePolicy: generated passwords must never be refused by
// the server's policy for the addresses they go with — also an address
// whose words random letters hit often (a one-letter word is no word, but
// "abcd" is: one password in about 13,000 holds it, spelt either way).
func TestPasswordsPassThePolicy(t *testing.T) {
	policy := password.DefaultPolicy()
	for i := range 2000 {
		for _, addr := range []string{email("0a1b2c3d", i), "abcd@example.com"} {
			pw := newPassword(addr)
			if len(pw) != 20 || strings.IndexFunc(pw, func(r rune) bool { return !unicode.IsLetter(r) }) >= 0 {
				t.Fatalf("newPassword() = %q, want 20 letters", pw)
			}
			if err := policy.Check(pw, addr); err != nil {
				t.Fatalf("policy refuses %q for %s: %v", pw, addr, err)
			}
		}
	}
}

func TestFailureKey(t *testing.T) {
	tests := []struct {
		f    failure
		want string
	}{
		{failure{step: "submit", status: 429}, "submit 429"},
		{failure{step: "start", reason: "timeout"}, "start timeout"},
		{failure{step: "submit", status: 200, reason: "state=verify"}, "submit 200 state=verify"},
	}
	for _, tt := range tests {
		if got := tt.f.key(); got != tt.want {
			t.Errorf("key() = %q, want %q", got, tt.want)
		}
	}
}

func TestVerdict(t *testing.T) {
	tests := []struct {
		r       Result
		backend string
		want    bool
	}{
		{r: Result{Scenario: "login", Ceiling: 98, CeilingPct: 85, Latency: Latency{P99: 400}}, want: true},
		{r: Result{Scenario: "login", Ceiling: 98, CeilingPct: 79, Latency: Latency{P99: 400}}, want: false},
		{r: Result{Scenario: "register", Ceiling: 98, CeilingPct: 90, Latency: Latency{P99: 1000}}, want: false},
		{r: Result{Scenario: "register", Ceiling: 98, CeilingPct: 90, Errors: 1}, want: false},
		{r: Result{Scenario: "register", CeilingPct: 0}, want: false},
		{r: Result{Scenario: "whoami-wrk", OpsPerSec: 16000, Latency: Latency{P99: 5}}, want: true},
		{r: Result{Scenario: "whoami-wrk", OpsPerSec: 16000, Latency: Latency{P99: 12}}, want: false},
		{r: Result{Scenario: "whoami-wrk", OpsPerSec: 10000, Latency: Latency{P99: 12}}, backend: "postgres", want: true},
		{r: Result{Scenario: "setup"}, want: true},
		{r: Result{Scenario: "client_credentials-wrk", OpsPerSec: 3100}, want: true},
		{r: Result{Scenario: "client_credentials-wrk", OpsPerSec: 2900}, want: false},
		{r: Result{Scenario: "client_credentials-wrk", OpsPerSec: 2900}, backend: "postgres", want: true},
		{r: Result{Scenario: "client_credentials-wrk", OpsPerSec: 2900, Errors: 1}, backend: "postgres", want: false},
		{r: Result{Scenario: "introspect-wrk", OpsPerSec: 10500}, want: true},
		{r: Result{Scenario: "introspect-wrk", OpsPerSec: 10500, Errors: 3}, want: false},
		{r: Result{Scenario: "refresh", OpsPerSec: 1400}, want: false},
		{r: Result{Scenario: "refresh", OpsPerSec: 1600}, want: true},
		{r: Result{Scenario: "oauth-setup", Errors: 1}, want: false},
	}
	for _, tt := range tests {
		backend := tt.backend
		if backend == "" {
			backend = "sqlite"
		}
		if got, ok := tt.r.verdict(backend); ok != tt.want {
			t.Errorf("verdict(%+v, %s) = %q, %v; want %v", tt.r, backend, got, ok, tt.want)
		}
	}
}

// A run between two hash results is compared with their mean; one with a
// hash result on one side only keeps its own -ceiling.
func TestBracketCeilings(t *testing.T) {
	results := []Result{
		{Scenario: "hash", OpsPerSec: 90},
		{Scenario: "register", OpsPerSec: 72, Ceiling: 90, CeilingPct: 80},
		{Scenario: "hash", OpsPerSec: 70},
		{Scenario: "login", OpsPerSec: 70, Ceiling: 70, CeilingPct: 100},
		{Scenario: "whoami-wrk", OpsPerSec: 15000},
	}
	bracketCeilings(results)
	if r := results[1]; r.Ceiling != 80 || r.CeilingPct != 90 {
		t.Errorf("register: ceiling %v, %v%%; want the mean 80, 90%%", r.Ceiling, r.CeilingPct)
	}
	if r := results[3]; r.Ceiling != 70 || r.CeilingPct != 100 {
		t.Errorf("login: ceiling %v, %v%%; want its own 70, 100%%", r.Ceiling, r.CeilingPct)
	}
}
