package courier

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wneessen/go-mail/smtp"

	"github.com/foyer-id/foyer/internal/courier/smtptest"
)

func TestNewSMTPSenderValidates(t *testing.T) {
	const from = "no-reply@example.com"
	tests := []struct {
		name, url, from, want string
	}{
		{"bad scheme", "http://mail.example.com", from, `scheme "http" is not supported`},
		{"no scheme", "mail.example.com:25", from, "scheme"},
		{"no host", "smtp://", from, "no host"},
		{"no host with port", "smtp://:25", from, "no host"},
		{"opaque", "smtp:mail.example.com", from, "no host"},
		{"bad port", "smtp://mail.example.com:99999", from, "port"},
		{"path", "smtp://mail.example.com/x", from, "path"},
		{"unknown option", "smtp://mail.example.com?tls=off", from, `option "tls" is unknown`},
		{"bad skip_verify", "smtps://mail.example.com?skip_verify=maybe", from, "skip_verify"},
		{"password without user", "smtp://:hunter2@mail.example.com", from, "no user"},
		{"bad from", "smtp://mail.example.com", "not an address", "From address"},
		{"unparsable with password", "smtp://user:hunter2%zz@mail.example.com", from, "not a valid URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewSMTPSender(tc.url, tc.from)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error %q shows the password", err)
			}
		})
	}
}

func TestNewSMTPSenderDefaults(t *testing.T) {
	tests := []struct {
		url      string
		port     int
		implicit bool
		skip     bool
		auth     bool
	}{
		{"smtp://mail.example.com", 25, false, false, false},
		{"smtp://mail.example.com:2525", 2525, false, false, false},
		{"smtps://mail.example.com", 465, true, false, false},
		{"smtps://u:p@mail.example.com:8465?skip_verify=true", 8465, true, true, true},
	}
	for _, tc := range tests {
		s, err := NewSMTPSender(tc.url, "no-reply@example.com")
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		if s.port != tc.port || s.implicit != tc.implicit || s.skipVerify != tc.skip || s.hasAuth != tc.auth {
			t.Errorf("%s: port %d, implicit %v, skip_verify %v, auth %v", tc.url, s.port, s.implicit, s.skipVerify, s.hasAuth)
		}
	}
	s, _ := NewSMTPSender("smtp://user:hunter2@mail.example.com", "no-reply@example.com")
	if strings.Contains(s.String(), "hunter2") {
		t.Fatalf("String() = %q shows the password", s.String())
	}
}

func TestSMTPSenderAuthenticates(t *testing.T) {
	srv := smtptest.Start(t)
	srv.RequireAuth("foyer", "p@ss:w/rd")
	s := newSMTPSender(t, srv)
	err := s.Send(context.Background(), Mail{To: "a@example.com", Subject: "hi", Text: "hello", MessageID: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.Messages()[0].AuthUser; got != "foyer" {
		t.Fatalf("AuthUser = %q, want foyer", got)
	}

	wrong, err := NewSMTPSender("smtp://foyer:"+url.QueryEscape("hunter2")+"@"+srv.Addr(), "no-reply@example.com")
	if err != nil {
		t.Fatal(err)
	}
	err = wrong.Send(context.Background(), Mail{To: "a@example.com", Subject: "hi", Text: "hello"})
	if err == nil || IsPermanent(err) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("wrong password: %v; want a temporary error without the password", err)
	}

	// Without credentials, a server that requires them refuses the mail.
	anon, _ := NewSMTPSender("smtp://"+srv.Addr(), "no-reply@example.com")
	if err := anon.Send(context.Background(), Mail{To: "a@example.com", Subject: "hi", Text: "hello"}); err == nil {
		t.Fatal("anonymous mail accepted by a server that requires AUTH")
	}
}

func TestSMTPSenderTextOnlyAndMessageID(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSMTPSender(t, srv)
	err := s.Send(context.Background(), Mail{From: "Other <other@example.org>", To: "a@example.com", Subject: "Grüße", Text: "only text\n.dot", MessageID: "x@id.example"})
	if err != nil {
		t.Fatal(err)
	}
	m := srv.Messages()[0]
	// A single-part body ends with the line break before the DATA
	// terminator.
	if m.From != "other@example.org" || m.Subject != "Grüße" || m.Text != "only text\n.dot\n" || m.HTML != "" || m.MessageID != "x@id.example" {
		t.Fatalf("got From %q, Subject %q, Text %q, HTML %q, Message-ID %q", m.From, m.Subject, m.Text, m.HTML, m.MessageID)
	}
}

// The Date header is when the mail was written, the greeting names the
// configured host, and no header names the mail library.
func TestSMTPSenderHeaders(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSMTPSender(t, srv)
	s.HELO = "id.example.com"
	written := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	if err := s.Send(context.Background(), Mail{To: "a@example.com", Subject: "Hi", Text: "x", Date: written}); err != nil {
		t.Fatal(err)
	}
	m := srv.Messages()[0]
	if d, err := m.Header.Date(); err != nil || !d.Equal(written) {
		t.Errorf("Date %v (%v), want %v", d, err, written)
	}
	if m.Helo != "id.example.com" {
		t.Errorf("EHLO %q", m.Helo)
	}
	for _, h := range []string{"X-Mailer", "User-Agent"} {
		if v := m.Header.Get(h); v != "" {
			t.Errorf("%s: %q", h, v)
		}
	}
}

// A From address at an internationalised domain goes out in ASCII.
func TestSMTPSenderIDNFrom(t *testing.T) {
	srv := smtptest.Start(t)
	s, err := NewSMTPSender(srv.URL(), "Bücher <no-reply@bücher.example>")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), Mail{To: "a@example.com", Subject: "Hi", Text: "x", MessageID: "m1"}); err != nil {
		t.Fatal(err)
	}
	m := srv.Messages()[0]
	if m.MailFrom != "no-reply@xn--bcher-kva.example" || m.From != "no-reply@xn--bcher-kva.example" || m.MessageID != "m1@xn--bcher-kva.example" {
		t.Fatalf("MAIL FROM %q, From %q, Message-ID %q", m.MailFrom, m.From, m.MessageID)
	}
}

// Opportunistic STARTTLS encrypts even to a relay with a self-signed
// certificate, but a password goes only to a relay whose certificate
// checks out.
func TestSMTPSenderOpportunisticTLS(t *testing.T) {
	srv := smtptest.Start(t)
	srv.OfferSTARTTLS()
	s := newSMTPSender(t, srv)
	if err := s.Send(context.Background(), Mail{To: "a@example.com", Subject: "Hi", Text: "x"}); err != nil {
		t.Fatalf("to a self-signed relay: %v", err)
	}
	if m := srv.Messages()[0]; !m.TLS {
		t.Fatal("the mail went in plain text")
	}
	srv.RequireAuth("user", "secret")
	withAuth, err := NewSMTPSender(srv.URL(), "no-reply@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := withAuth.Send(context.Background(), Mail{To: "a@example.com", Subject: "Hi", Text: "x"}); err == nil {
		t.Fatal("a password went to a relay whose certificate does not check out")
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d mails", n)
	}
}

// A 5xx refusal of the mail's content is final: the mail is not offered
// again; a 4xx one is worth retrying.
func TestSMTPSenderPermanentRefusals(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSMTPSender(t, srv)
	srv.RejectNextData(1)
	if err := s.Send(context.Background(), Mail{To: "a@example.com", Subject: "Hi", Text: "x"}); err == nil || !IsPermanent(err) {
		t.Errorf("554 after the data: %v, want a permanent error", err)
	}
	srv.FailNextData(1)
	if err := s.Send(context.Background(), Mail{To: "a@example.com", Subject: "Hi", Text: "x"}); err == nil || IsPermanent(err) {
		t.Errorf("451 after the data: %v, want a temporary error", err)
	}
	// A refused sender is the configuration's problem (here: the relay
	// wants authentication), which the operator fixes: retried.
	srv.RequireAuth("user", "secret")
	if err := s.Send(context.Background(), Mail{To: "a@example.com", Subject: "Hi", Text: "x"}); err == nil || IsPermanent(err) {
		t.Errorf("530 to MAIL FROM: %v, want a temporary error", err)
	}
}

// A temporary refusal of the recipient (greylisting) puts off that mail
// alone: Deferred. Any other temporary failure — the server away, or
// refusing the mail after its data — says the server does not serve.
func TestSMTPSenderDeferredRefusals(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSMTPSender(t, srv)
	send := func() error {
		return s.Send(context.Background(), Mail{To: "a@example.com", Subject: "Hi", Text: "x"})
	}
	srv.FailNext(1)
	if err := send(); err == nil || !IsDeferred(err) || IsPermanent(err) {
		t.Errorf("451 to RCPT TO: %v, want a deferred, temporary error", err)
	}
	srv.FailNextData(1)
	if err := send(); err == nil || IsDeferred(err) || IsPermanent(err) {
		t.Errorf("451 after the data: %v, want a temporary error, not deferred", err)
	}
	srv.RejectRecipient("a@example.com")
	if err := send(); err == nil || !IsPermanent(err) || IsDeferred(err) {
		t.Errorf("550 to RCPT TO: %v, want a permanent error", err)
	}
	srv.Close()
	if err := send(); err == nil || IsDeferred(err) || IsPermanent(err) {
		t.Errorf("server away: %v, want a temporary error, not deferred", err)
	}
	if IsDeferred(nil) || Deferred(nil) != nil {
		t.Error("Deferred(nil) is not nil")
	}
}

// Implicit TLS against a server that speaks plain SMTP fails: smtps://
// never falls back to plain text.
func TestSMTPSSenderNeedsTLS(t *testing.T) {
	srv := smtptest.Start(t)
	s, err := NewSMTPSender("smtps://"+srv.Addr(), "no-reply@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), Mail{To: "a@example.com", Subject: "hi", Text: "x"}); err == nil {
		t.Fatal("smtps:// delivered over plain text")
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("server got %d mails", n)
	}
}

func TestPlainOrLoginAuth(t *testing.T) {
	tests := []struct {
		name    string
		server  smtp.ServerInfo
		mech    string
		wantErr string
	}{
		{"plain over TLS", smtp.ServerInfo{Name: "mail.example.com", TLS: true, Auth: []string{"LOGIN", "PLAIN"}}, "PLAIN", ""},
		{"login only", smtp.ServerInfo{Name: "mail.example.com", TLS: true, Auth: []string{"LOGIN"}}, "LOGIN", ""},
		{"neither", smtp.ServerInfo{Name: "mail.example.com", TLS: true, Auth: []string{"CRAM-MD5"}}, "", "neither"},
		{"plain text remote", smtp.ServerInfo{Name: "mail.example.com", TLS: false, Auth: []string{"PLAIN"}}, "", "unencrypted"},
		{"plain text localhost", smtp.ServerInfo{Name: "localhost", TLS: false, Auth: []string{"PLAIN"}}, "PLAIN", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := &plainOrLogin{user: "u", password: "p", host: tc.server.Name}
			mech, _, err := a.Start(&tc.server)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || mech != tc.mech {
				t.Fatalf("Start = %q, %v; want %q", mech, err, tc.mech)
			}
		})
	}
}

// A server that stops answering in the middle of a command holds an
// attempt only until the attempt's context ends, not for the library's
// timeout of each command in turn.
func TestSMTPSenderStopsWhenItsContextEnds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	greeted := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.WriteString(c, "220 slow.example ESMTP\r\n")
		line, _ := bufio.NewReader(c).ReadString('\n') // EHLO, never answered
		if strings.HasPrefix(line, "EHLO") {
			close(greeted)
		}
		_, _ = io.Copy(io.Discard, c)
	}()
	s, err := NewSMTPSender("smtp://"+ln.Addr().String(), "no-reply@example.com")
	if err != nil {
		t.Fatal(err)
	}
	s.timeout = time.Hour // each command's own: only the context can end the attempt
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Send(ctx, Mail{To: "a@example.com", Subject: "hi", Text: "x"}) }()
	<-greeted
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Send succeeded against a server that never answered")
		}
	case <-time.After(time.Minute): // a guard against a hang, not a measure
		t.Fatal("Send still waits for the server after its context ended")
	}
}
