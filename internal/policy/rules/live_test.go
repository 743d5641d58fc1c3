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

// Check (what Watch does at each tick) puts a changed file in force once
// it has stayed the same for a check, so a file being written is not taken
// half-way; a broken one stays out.
func TestCheckReloadsASettledFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(version("first", 1))
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
	check := func() error {
		t.Helper()
		return l.Check()
	}
	if err := check(); err != nil {
		t.Fatal(err)
	}
	decides("first")

	// Half a file, then the rest: neither half goes in force.
	whole := version("second", 3)
	write(whole[:len(whole)/2])
	if err := check(); err != nil {
		t.Fatal(err)
	}
	decides("first")
	write(whole)
	if err := check(); err != nil {
		t.Fatal(err)
	}
	decides("first") // changed since the last check: not settled yet
	if err := check(); err != nil {
		t.Fatal(err)
	}
	decides("second")

	// Same size and time, other content: still seen.
	same := strings.Replace(whole, "second", "secund", -1)
	write(same)
	_ = check()
	if err := check(); err != nil {
		t.Fatal(err)
	}
	decides("secund")

	write(same + "  - broken\n")
	_ = check()
	if err := check(); err == nil {
		t.Fatal("a broken file was taken")
	}
	decides("secund")
}

// A FIFO (or anything but a regular file) at the path is refused at once,
// not waited on.
func TestNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := mkfifo(fifo); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	if _, err := ReadFile(fifo); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("FIFO: %v", err)
	}
	if _, err := ReadFile(dir); err == nil {
		t.Fatal("a directory was read")
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, MaxFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(big); err == nil || !strings.Contains(err.Error(), "more than a policy may be") {
		t.Fatalf("big file: %v", err)
	}
}
