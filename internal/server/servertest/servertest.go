// Package servertest starts a real Foyer server for tests: a real store
// (SQLite, or PostgreSQL through storetest), real HTTP on a loopback port,
// and real SMTP delivery to an smtptest capture server. Password hashing
// uses cheap Argon2id parameters unless a test asks for the defaults.
package servertest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/courier"
	"github.com/foyer-id/foyer/internal/courier/smtptest"
	"github.com/foyer-id/foyer/internal/server"
	"github.com/foyer-id/foyer/internal/store"
)

// Clock is a settable clock, real time plus an offset, until it is
// stopped.
type Clock struct {
	mu      sync.Mutex
	offset  time.Duration
	stopped time.Time // the time it shows once stopped (see Stop)
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stopped.IsZero() {
		return c.stopped
	}
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	if !c.stopped.IsZero() {
		c.stopped = c.stopped.Add(d)
	}
	c.mu.Unlock()
}

// Stop stops the clock at its time: from then on only Advance moves it. A
// test whose waits (a throttle's second) must last while it works, however
// slow a loaded machine makes it, stops the clock first.
func (c *Clock) Stop() {
	c.mu.Lock()
	if c.stopped.IsZero() {
		c.stopped = time.Now().Add(c.offset)
	}
	c.mu.Unlock()
}

// Env is a running test server.
type Env struct {
	URL    string
	Server *server.Server
	Config *config.Config
	SMTP   *smtptest.Server
	Clock  *Clock
	DB     *store.DB
	// Logs holds what the server logged, every level.
	Logs *Logs
}

// Logs keeps a server's log lines (slog's text format) for a test to
// read; with FOYER_TEST_LOG set they go to standard error as well.
type Logs struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	extra io.Writer
}

// Write adds log output.
func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.extra != nil {
		_, _ = l.extra.Write(p)
	}
	return l.buf.Write(p)
}

// String returns everything logged so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Option adjusts the configuration before the server starts.
type Option func(*config.Config)

// Production turns dev mode off (Secure, __Host- cookies).
func Production() Option {
	return func(c *config.Config) {
		c.Dev = false
		c.Secret = strings.Repeat("s", 40)
		// The public URL is an address here, which gives mail no domain.
		c.SMTP.From = "Foyer <no-reply@foyer.example>"
	}
}

// Localhost makes the public URL http://localhost:PORT instead of
// http://127.0.0.1:PORT: WebAuthn (passkeys) needs a domain name.
func Localhost() Option {
	return func(c *config.Config) { c.PublicURL = "http://localhost" + c.Addr[strings.LastIndex(c.Addr, ":"):] }
}

// Start runs a server on db until the test ends.
func Start(t testing.TB, db *store.DB, opts ...Option) *Env {
	t.Helper()
	mail := smtptest.Start(t)
	clock := &Clock{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Dev = true
	cfg.Data = t.TempDir()
	cfg.Addr = ln.Addr().String()
	cfg.PublicURL = "http://" + ln.Addr().String()
	cfg.SMTP.URL = mail.URL()
	cfg.Password.MemoryKiB, cfg.Password.Iterations = 1024, 1
	for _, o := range opts {
		o(cfg)
	}
	if !cfg.Dev {
		// Production mode wants https; tests still speak http on loopback.
		cfg.PublicURL = "https://" + ln.Addr().String()
	}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	logs := &Logs{}
	if os.Getenv("FOYER_TEST_LOG") != "" {
		logs.extra = os.Stderr
	}
	srv, err := server.New(context.Background(), cfg, server.Options{
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    clock.Now,
		DB:     db,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Run(ctx, ln); err != nil {
			t.Errorf("server: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	base := "http://" + ln.Addr().String()
	if strings.HasPrefix(cfg.PublicURL, "http://localhost:") {
		base = cfg.PublicURL
	}
	return &Env{URL: base, Server: srv, Config: cfg, SMTP: mail, Clock: clock, DB: db, Logs: logs}
}

var codeRE = regexp.MustCompile(`\b(\d{6})\b`)

// MailTo waits for the n-th (1-based) mail to an address and returns it.
func (e *Env) MailTo(t testing.TB, to string, n int) smtptest.Message {
	t.Helper()
	return e.nthMail(t, to, n, func(smtptest.Message) bool { return true })
}

// LatestMail waits for the delivery of the newest mail stored for an
// address with the given subject (see Outbox): what the request just
// made mailed, whatever else went to the address before or meanwhile.
func (e *Env) LatestMail(t testing.TB, to, subject string) smtptest.Message {
	t.Helper()
	n := 0
	for _, m := range e.Outbox(t, to) {
		if m.Subject == subject {
			n++
		}
	}
	if n == 0 {
		t.Fatalf("no mail %q stored for %s", subject, to)
	}
	return e.nthMail(t, to, n, func(m smtptest.Message) bool { return m.Subject == subject })
}

// nthMail waits (up to 20 s) for the n-th mail to an address that
// matches, woken by each arrival.
func (e *Env) nthMail(t testing.TB, to string, n int, match func(smtptest.Message) bool) smtptest.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := e.SMTP.WaitForMatching(ctx, to, n, match)
	if err != nil {
		t.Fatalf("mail #%d to %s: %v", n, to, err)
	}
	return got[n-1]
}

// CodeFrom extracts the 6-digit code from a mail.
func CodeFrom(t testing.TB, m smtptest.Message) string {
	t.Helper()
	c := codeRE.FindStringSubmatch(m.Text)
	if c == nil {
		t.Fatalf("no code in mail %q", m.Subject)
	}
	return c[1]
}

// Outbox returns the mail the server stored for an address (any case;
// "" for every address), oldest first, whatever became of it: queued,
// being sent, sent or given up. A journey stores its mail with the rest of its step, so right after
// a request this tells whether the request mailed anything; delivery is
// asynchronous, and MailCount may not count a mail yet.
func (e *Env) Outbox(t testing.TB, to string) []courier.Entry {
	t.Helper()
	list, err := e.Server.Outbox.List(context.Background(), 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []courier.Entry
	for i := len(list) - 1; i >= 0; i-- {
		if to == "" || strings.EqualFold(list[i].To, to) {
			out = append(out, list[i])
		}
	}
	return out
}

// WaitForOutbox waits until the mail stored for an address satisfies done
// (the first one failed, say), and returns it.
func (e *Env) WaitForOutbox(t testing.TB, to string, done func([]courier.Entry) bool) []courier.Entry {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := e.Outbox(t, to)
		if done(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("the mail to %s never got so far: %+v", to, got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// MailCount returns how many mails went to an address so far. It counts
// delivered mail, which arrives after the request that sent it; to learn
// that a request mailed nothing, read the Outbox.
func (e *Env) MailCount(to string) int {
	n := 0
	for _, m := range e.SMTP.Messages() {
		for _, r := range m.RcptTo {
			if strings.EqualFold(r, to) {
				n++
			}
		}
	}
	return n
}
