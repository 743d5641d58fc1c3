package cli

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func run(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, env, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCommands(t *testing.T) {
	if code, out, _ := run(t, nil, "version"); code != 0 || !strings.HasPrefix(out, "foyer ") {
		t.Fatalf("version: %d %q", code, out)
	}
	if code, _, errOut := run(t, nil); code != 2 || !strings.Contains(errOut, "Commands:") {
		t.Fatalf("no command: %d %q", code, errOut)
	}
	if code, _, errOut := run(t, nil, "frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Fatalf("unknown: %d %q", code, errOut)
	}
	for _, cmd := range []string{"serve", "migrate"} {
		if code, _, errOut := run(t, nil, cmd, "--help"); code != 0 || !strings.Contains(errOut, "-dsn") {
			t.Fatalf("%s --help: %d %q", cmd, code, errOut)
		}
	}
}

func TestMigrate(t *testing.T) {
	data := t.TempDir()
	code, out, errOut := run(t, nil, "migrate", "--data", data)
	if code != 0 || !strings.Contains(out, "migrated to schema version") {
		t.Fatalf("migrate: %d %q %q", code, out, errOut)
	}
	code, out, _ = run(t, nil, "migrate", "--dsn", filepath.Join(data, "foyer.db"))
	if code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("second migrate: %d %q", code, out)
	}
}

func TestServeRefusesBadConfig(t *testing.T) {
	// Production mode without the required settings names each key.
	code, _, errOut := run(t, []string{"FOYER_DEV=false"}, "serve", "--data", t.TempDir())
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	for _, key := range []string{"public_url", "secret", "smtp.url"} {
		if !strings.Contains(errOut, key) {
			t.Errorf("error does not name %s:\n%s", key, errOut)
		}
	}
	// A production server refuses an unmigrated database.
	code, _, errOut = run(t, []string{"FOYER_DEV=false", "FOYER_PUBLIC_URL=https://id.example.com", "FOYER_SECRET=" + strings.Repeat("k", 32),
		"FOYER_SMTP_URL=smtp://127.0.0.1:1", "FOYER_ADDR=127.0.0.1:0"}, "serve", "--data", t.TempDir())
	if code != 1 || !strings.Contains(errOut, "foyer migrate") {
		t.Fatalf("unmigrated: %d %q", code, errOut)
	}
}

// Without a configuration file, dev mode is what a developer gets, also
// with a real mail server or a secret of their own; an https public URL
// means a deployment.
func TestImpliedDev(t *testing.T) {
	for env, want := range map[string]bool{
		"":                                     true,
		"FOYER_SMTP_URL=smtp://127.0.0.1:2525": true,
		"FOYER_SECRET=" + strings.Repeat("k", 32): true,
		"FOYER_PUBLIC_URL=http://localhost:4455":  true,
		"FOYER_PUBLIC_URL=https://id.example.com": false,
		"FOYER_CONFIG=/etc/foyer.yaml":            false,
		"FOYER_DEV=false":                         false,
	} {
		var environ []string
		if env != "" {
			environ = []string{env}
		}
		if got := impliedDev(&common{}, environ); got != want {
			t.Errorf("%q: dev mode %v, want %v", env, got, want)
		}
	}
	if impliedDev(&common{config: "foyer.yaml"}, nil) || impliedDev(&common{devSet: true}, nil) {
		t.Error("a --config or --dev flag still implied dev mode")
	}
}

// A stray argument is refused, not ignored: `foyer serve config.yaml`
// must not quietly start on the defaults.
func TestStrayArgumentsAreRefused(t *testing.T) {
	for _, args := range [][]string{{"serve", "foyer.yaml"}, {"migrate", "now"}} {
		code, _, errOut := run(t, nil, append(args, "--data", t.TempDir())...)
		if code == 0 || !strings.Contains(errOut, "unexpected argument") {
			t.Errorf("%v: exit %d, %q", args, code, errOut)
		}
	}
}

// A deployment configured by environment variables alone is production,
// never dev mode with its open mailbox: with its https public URL and no
// mail server it refuses to start, naming what is missing.
func TestServeEnvOnlyIsProduction(t *testing.T) {
	for _, env := range [][]string{
		{"FOYER_PUBLIC_URL=https://id.example.com", "FOYER_SECRET=" + strings.Repeat("k", 32)},
		{"FOYER_PUBLIC_URL=HTTPS://id.example.com"},
	} {
		code, out, errOut := run(t, append(env, "FOYER_ADDR=127.0.0.1:0"), "serve", "--data", t.TempDir())
		if code != 1 || !strings.Contains(errOut, "smtp.url") || strings.Contains(out, "dev mode") {
			t.Errorf("%v: exit %d\n%s%s", env, code, out, errOut)
		}
	}
}

// The README's quick start: `foyer serve` with no configuration at all
// starts in dev mode on SQLite, with the mailbox, and answers.
func TestServeQuickStart(t *testing.T) {
	t.Chdir(t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int)
	go func() {
		code := Main(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, nil, pw, io.Discard)
		pw.Close()
		done <- code
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	_, base, ok := strings.Cut(strings.TrimSpace(line), "running at ")
	if !ok || !strings.Contains(line, "dev mode") {
		t.Fatalf("start-up line %q", line)
	}
	for _, path := range []string{"/health/alive", "/health/ready", "/registration", "/login", "/dev/mailbox"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
	}
	if _, err := os.Stat(filepath.Join("data", "foyer.db")); err != nil {
		t.Errorf("no SQLite database in ./data: %v", err)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d", code)
	}
}

func TestSetCollector(t *testing.T) {
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	setCollector([]string{"HOME=/root", "GOGC=150"})
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC in the environment: GC percent %d, want it left at 100", got)
	}
	setCollector([]string{"HOME=/root", "GODEBUG=madvdontneed=0"})
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Errorf("without GOGC: GC percent %d, want %d", got, gcPercent)
	}
}
