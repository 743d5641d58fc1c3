package smtptest_test

import (
	"context"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/courier/smtptest"
)

func ctxFor(t *testing.T) context.Context {
	// A guard against hanging forever, not a timing assertion.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestCapturesMultipartMail(t *testing.T) {
	srv := smtptest.Start(t)
	raw := strings.Join([]string{
		"From: Foyer <no-reply@example.com>",
		"To: alice@example.com",
		"Subject: =?UTF-8?q?Caf=C3=A9_code?=",
		"Message-ID: <abc@example.com>",
		"MIME-Version: 1.0",
		`Content-Type: multipart/alternative; boundary="b1"`,
		"",
		"--b1",
		"Content-Type: text/plain; charset=UTF-8",
		"Content-Transfer-Encoding: quoted-printable",
		"",
		"Caf=C3=A9 123456",
		".leading dot line",
		"--b1",
		"Content-Type: text/html; charset=UTF-8",
		"Content-Transfer-Encoding: base64",
		"",
		"PHA+Q2Fmw6k8L3A+",
		"--b1--",
		"",
	}, "\r\n")
	// net/smtp dot-stuffs ".leading" to "..leading"; the server must undo it.
	if err := smtp.SendMail(srv.Addr(), nil, "bounce@example.com", []string{"alice@example.com"}, []byte(raw)); err != nil {
		t.Fatal(err)
	}
	m, err := srv.WaitForMessage(ctxFor(t), "ALICE@example.com")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"MailFrom", m.MailFrom, "bounce@example.com"},
		{"RcptTo", strings.Join(m.RcptTo, ","), "alice@example.com"},
		{"From", m.From, "no-reply@example.com"},
		{"To", strings.Join(m.To, ","), "alice@example.com"},
		{"Subject", m.Subject, "Café code"},
		{"MessageID", m.MessageID, "abc@example.com"},
		{"Text", m.Text, "Café 123456\n.leading dot line"},
		{"HTML", m.HTML, "<p>Café</p>"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestFaultsAndRestart(t *testing.T) {
	srv := smtptest.Start(t)
	send := func(to string) error {
		return smtp.SendMail(srv.Addr(), nil, "a@example.com", []string{to}, []byte("Subject: hi\r\n\r\nbody\r\n"))
	}
	srv.FailNext(1)
	if err := send("x@example.com"); err == nil || !strings.Contains(err.Error(), "451") {
		t.Fatalf("with FailNext: %v, want a 451", err)
	}
	srv.FailNextData(1)
	if err := send("x@example.com"); err == nil || !strings.Contains(err.Error(), "451") {
		t.Fatalf("with FailNextData: %v, want a 451", err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d messages kept after failures", n)
	}
	srv.RejectRecipient("Gone@Example.com")
	if err := send("gone@example.com"); err == nil || !strings.Contains(err.Error(), "550") {
		t.Fatalf("to a rejected recipient: %v, want a 550", err)
	}
	if err := send("gone@example.com"); err == nil || !strings.Contains(err.Error(), "550") {
		t.Fatalf("to a rejected recipient again: %v, want a 550", err)
	}
	srv.Close()
	if err := send("x@example.com"); err == nil {
		t.Fatal("send to a closed server succeeded")
	}
	srv.Restart()
	if err := send("x@example.com"); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d messages, want 1", n)
	}
}

func TestAuth(t *testing.T) {
	srv := smtptest.Start(t)
	srv.RequireAuth("user", "s3cret")
	msg := []byte("Subject: hi\r\n\r\nbody\r\n")
	if err := smtp.SendMail(srv.Addr(), nil, "a@example.com", []string{"b@example.com"}, msg); err == nil {
		t.Fatal("unauthenticated mail accepted")
	}
	bad := smtp.PlainAuth("", "user", "wrong", "127.0.0.1")
	if err := smtp.SendMail(srv.Addr(), bad, "a@example.com", []string{"b@example.com"}, msg); err == nil {
		t.Fatal("wrong password accepted")
	}
	good := smtp.PlainAuth("", "user", "s3cret", "127.0.0.1")
	if err := smtp.SendMail(srv.Addr(), good, "a@example.com", []string{"b@example.com"}, msg); err != nil {
		t.Fatal(err)
	}
	if got := srv.Messages()[0].AuthUser; got != "user" {
		t.Fatalf("AuthUser = %q", got)
	}
	if got := srv.URL(); got != "smtp://user:s3cret@"+srv.Addr() {
		t.Fatalf("URL = %q", got)
	}
}

func TestWaitForMessageHonoursContext(t *testing.T) {
	srv := smtptest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := srv.WaitForMessage(ctx, "nobody@example.com"); err == nil {
		t.Fatal("WaitForMessage returned no error for a cancelled context")
	}
}
