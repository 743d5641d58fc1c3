package testsuites

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Skip skips t because suite cannot run, saying why, or fails it when
// require ("NAME=value", such as FOYER_TEST_POSTGRES=require) is set, to
// any of 1, true or require. Outside -v it also writes
// "foyer: <suite> skipped: <why>" once per suite and `go test` run where
// that command shows it (see the package doc).
func Skip(t testing.TB, suite, why, require string) {
	t.Helper()
	env, _, _ := strings.Cut(require, "=")
	if Required(env) {
		t.Fatalf("%s cannot run: %s (a failure because %s is set)", suite, why, env)
	}
	if !testing.Verbose() {
		announce(suite, why)
	}
	t.Skipf("%s skipped: %s; %s makes this a failure", suite, why, require)
}

// Required reports whether the environment variable env asks for its
// suite to run: 1, true or require.
func Required(env string) bool {
	switch strings.ToLower(os.Getenv(env)) {
	case "1", "true", "require":
		return true
	}
	return false
}

var announced sync.Map // suite → true, in this test binary

// announce writes the line for suite once per `go test` run: the first
// test binary of the run to get here writes it, the others find its
// mark.
func announce(suite, why string) {
	if _, dup := announced.LoadOrStore(suite, true); dup {
		return
	}
	w, run := goCommandOutput()
	if w == nil {
		return
	}
	defer w.Close()
	if run != "" && !firstInRun(run, suite) {
		return
	}
	fmt.Fprintf(w, "foyer: %s skipped: %s\n", suite, why)
}

// firstInRun reports whether this is the first call for suite in the go
// test run named run, leaving a mark in the temporary folder for the
// test binaries of the same run (marks older than a day are removed).
func firstInRun(run, suite string) bool {
	dir := filepath.Join(os.TempDir(), "foyer-test-suites")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return true
	}
	if old, err := os.ReadDir(dir); err == nil {
		for _, e := range old {
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > 24*time.Hour {
				_ = os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
	name := run + "-" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, suite)
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return false
	}
	f.Close()
	return true
}
