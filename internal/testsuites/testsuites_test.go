package testsuites

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRequired(t *testing.T) {
	for value, want := range map[string]bool{"": false, "0": false, "no": false, "1": true, "true": true, "require": true, "REQUIRE": true} {
		t.Setenv("FOYER_TEST_SUITES_X", value)
		if got := Required("FOYER_TEST_SUITES_X"); got != want {
			t.Errorf("%q: Required %v, want %v", value, got, want)
		}
	}
}

// Of the test binaries of one go test run, the first to skip a suite
// writes the line; the others, and other suites, are told apart.
func TestFirstInRun(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	run := "12345-" + time.Now().Format("150405.000000000")
	if !firstInRun(run, "PostgreSQL tests") {
		t.Fatal("the first call is not the first")
	}
	if firstInRun(run, "PostgreSQL tests") {
		t.Fatal("the second call for the suite writes again")
	}
	if !firstInRun(run, "browser tests") || !firstInRun(run+"x", "PostgreSQL tests") {
		t.Fatal("another suite, or another run, was taken for the same")
	}
	// Marks of old runs go.
	dir := filepath.Join(os.TempDir(), "foyer-test-suites")
	old := filepath.Join(dir, "1-1-old")
	if err := os.WriteFile(old, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	firstInRun(run, "third suite")
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatalf("a mark two days old is still there: %v", err)
	}
}
