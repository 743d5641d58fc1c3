package cli

import (
	"bufio"
	"context"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// serve and migrate against a PostgreSQL that accepts the connection and
// then says nothing fail within the connect timeout, saying where they
// could not get an answer, instead of waiting forever.
func TestStalledDatabaseStopsTheCommand(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	u, _ := url.Parse(dsn)
	proxy := storetest.StartProxy(t, u.Host)
	proxy.Stall()
	stalled := proxy.DSN(dsn)
	for _, args := range [][]string{
		{"serve", "--addr", "127.0.0.1:0", "--dsn", stalled},
		{"migrate", "--dsn", stalled},
	} {
		t.Run(args[0], func(t *testing.T) {
			t.Parallel()
			done := make(chan struct{})
			var code int
			var errOut string
			go func() {
				defer close(done)
				code, _, errOut = run(t, nil, append(args, "--data", t.TempDir())...)
			}()
			select {
			case <-done:
			case <-time.After(time.Minute): // a safety net, far beyond the timeout
				t.Fatal("still waiting for the database")
			}
			want := "cannot reach PostgreSQL at " + proxy.Addr() + " (no answer within " + store.DefaultConnectTimeout.String()
			if code != 1 || !strings.Contains(errOut, want) {
				t.Fatalf("exit %d, %q; want 1 and an error saying %q", code, errOut, want)
			}
		})
	}
}

// Dev mode that nobody asked for (no configuration at all) does not open
// the mailbox to the network: on an address other machines can reach,
// serve refuses and says what to do, before it opens a database.
func TestServeRefusesImpliedDevOffLoopback(t *testing.T) {
	for _, env := range [][]string{nil, {"FOYER_ADDR=0.0.0.0:0"}} {
		data := t.TempDir()
		args := []string{"serve", "--data", data}
		if env == nil {
			args = append(args, "--addr", "0.0.0.0:0")
		}
		// A server that starts anyway stops at this safety net's end.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		var outBuf, errBuf strings.Builder
		code := Main(ctx, args, env, &outBuf, &errBuf)
		cancel()
		out, errOut := outBuf.String(), errBuf.String()
		if code != 1 || !strings.Contains(errOut, "refusing to start in dev mode on every address of this machine, port") || !strings.Contains(errOut, "--dev") ||
			!strings.Contains(errOut, "127.0.0.1") || strings.Contains(out, "running") {
			t.Errorf("%v %v: exit %d\n%s%s", env, args, code, out, errOut)
		}
		if _, err := os.Stat(filepath.Join(data, "foyer.db")); err == nil {
			t.Errorf("%v: a database was opened before refusing", env)
		}
	}
}

// Asked for explicitly — --dev, FOYER_DEV=true or dev: true in a
// configuration file — dev mode starts on any address.
func TestServeExplicitDevOffLoopback(t *testing.T) {
	file := filepath.Join(t.TempDir(), "foyer.yaml")
	if err := os.WriteFile(file, []byte("dev: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tt := range map[string]struct {
		env  []string
		args []string
	}{
		"flag":        {nil, []string{"--dev"}},
		"environment": {[]string{"FOYER_DEV=true"}, nil},
		"file":        {nil, []string{"--config", file}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			ctx, cancel := context.WithCancel(context.Background())
			pr, pw := io.Pipe()
			done := make(chan int)
			go func() {
				code := Main(ctx, append([]string{"serve", "--addr", "0.0.0.0:0"}, tt.args...), tt.env, pw, io.Discard)
				pw.Close()
				done <- code
			}()
			line, err := bufio.NewReader(pr).ReadString('\n')
			go io.Copy(io.Discard, pr)
			cancel()
			if code := <-done; code != 0 || err != nil || !strings.Contains(line, "dev mode") {
				t.Fatalf("exit %d, start-up line %q, %v", code, line, err)
			}
		})
	}
}
