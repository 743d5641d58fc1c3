package rules

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/foyer-id/foyer/internal/policy"
)

// version is a policy file whose every rule denies with reason, so that a
// decision tells which version made it.
func version(reason string, rules int) string {
	var b strings.Builder
	b.WriteString("version: 1\nfallback: allow\nrules:\n")
	for i := range rules {
		// Every rule but the last never matches: a half-read file would
		// decide differently.
		when := "false"
		if i == rules-1 {
			when = "true"
		}
		fmt.Fprintf(&b, "  - name: r%d\n    when: '%s'\n    then: {effect: deny, reason: %s}\n", i, when, reason)
	}
	return b.String()
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Reloads swap whole versions: under a burst of decisions each is made by
// one version entirely, whose reason and version agree, and the last
// reload is what decides afterwards.
func TestReloadUnderLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(version("v0", 50))
	l, err := Load(path, Options{}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	// Each version's reason by its content hash.
	reasons := sync.Map{}
	reasons.Store(l.Version(), "v0")

	ctx := context.Background()
	start := make(chan struct{})
	var wg sync.WaitGroup
	var bad sync.Map
	for range 4 {
		wg.Go(func() {
			<-start
			for range 2000 {
				d := l.Decide(ctx, policy.Input{Action: policy.LoginSubmit})
				v := d.Policy[strings.LastIndex(d.Policy, "@")+1:]
				if want, ok := reasons.Load(v); ok && want != d.Reason {
					bad.Store(d.Policy, d.Reason)
				}
			}
		})
	}
	close(start)
	for i := 1; i <= 20; i++ {
		reason := fmt.Sprintf("v%d", i)
		write(version(reason, 50))
		// Register the version before it can decide.
		p, err := Parse(path, []byte(version(reason, 50)), Options{})
		if err != nil {
			t.Fatal(err)
		}
		reasons.Store(p.Version, reason)
		if _, err := l.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	bad.Range(func(k, v any) bool {
		t.Errorf("version %v decided %v", k, v)
		return true
	})
	if d := l.Decide(ctx, policy.Input{Action: policy.LoginSubmit}); d.Reason != "v20" {
		t.Errorf("after the reloads: %+v", d)
	}
}

// A broken file is refused with its faults, and the running policy stays;
// so does a file that went away.
func TestBrokenFileKeepsThePolicy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(path, []byte(version("good", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Load(path, Options{}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	good := l.Version()
	if err := os.WriteFile(path, []byte("version: 1\nrules:\n  - name: r\n    when: 'nope'\n    then: {effect: allow}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = l.Reload()
	var es Errors
	if !errors.As(err, &es) || !strings.Contains(err.Error(), "p.yaml:4:12: rule \"r\": when: undeclared reference to 'nope'") {
		t.Fatalf("reload of a broken file: %v", err)
	}
	if d := l.Decide(context.Background(), policy.Input{Action: policy.LoginSubmit}); d.Reason != "good" || l.Version() != good {
		t.Errorf("after a refused reload: %+v, version %s", d, l.Version())
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Reload(); err == nil || l.Version() != good {
		t.Errorf("reload of a missing file: %v, version %s", err, l.Version())
	}
	// At start a broken file is an error: nothing runs without a policy.
	if _, err := Load(path, Options{}, quiet()); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

// Check (what Watch does at each tick) puts a changed file in force by
// itself, and leaves a broken one out.
func TestCheckReloadsAChangedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(path, []byte(version("first", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Load(path, Options{}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	decides := func(reason string) {
		t.Helper()
		if d := l.Decide(context.Background(), policy.Input{Action: policy.LoginSubmit}); d.Reason != reason {
			t.Fatalf("decided %q, want %q", d.Reason, reason)
		}
	}
	if err := l.Check(); err != nil {
		t.Fatal(err)
	}
	decides("first")
	// Each file is longer than the one before: its size tells it apart
	// even within the file system's time resolution.
	if err := os.WriteFile(path, []byte(version("second", 2)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := l.Check(); err != nil {
		t.Fatal(err)
	}
	decides("second")
	if err := os.WriteFile(path, []byte(version("second", 2)+"  - broken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := l.Check(); err == nil {
		t.Fatal("a broken file was taken")
	}
	decides("second")
	if err := os.WriteFile(path, []byte(version("third", 3)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := l.Check(); err != nil {
		t.Fatal(err)
	}
	decides("third")
}
