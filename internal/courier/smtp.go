package courier

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
	"golang.org/x/net/idna"
)

// SMTPSender delivers mail to one SMTP server (a relay or a mail service),
// opening a connection per mail. It is safe for concurrent use.
type SMTPSender struct {
	host       string
	port       int
	implicit   bool // smtps://: TLS from the first byte
	skipVerify bool
	user       string
	password   string
	hasAuth    bool
	from       string
	fromDomain string
	redacted   string
	timeout    time.Duration
	// HELO is the name the sender greets the server with (EHLO): the
	// host's fully qualified name, which relays may insist on (RFC 5321,
	// section 4.1.1.1). Empty means the machine's host name.
	HELO string
}

// NewSMTPSender returns a Sender for the server named by rawURL, sending
// from from ("Foyer <no-reply@example.com>" or a bare address) unless a
// Mail says otherwise. rawURL is one of:
//
//	smtp://[user:password@]host[:port]   plain SMTP, port 25 by default,
//	                                     upgraded with STARTTLS when the
//	                                     server offers it (its certificate
//	                                     checked only when a password is
//	                                     to be sent)
//	smtps://[user:password@]host[:port]  implicit TLS, port 465 by default
//
// Special characters in the user or password must be percent-encoded.
// With a user, the sender authenticates with PLAIN (or LOGIN when the
// server offers only that) and refuses to send the password over a
// connection that is not encrypted, unless the server is on localhost.
// The query option skip_verify=true accepts any TLS certificate: it is for
// development relays with self-signed certificates only, never production.
// Errors name the problem without repeating the password.
func NewSMTPSender(rawURL, from string) (*SMTPSender, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse errors quote the whole URL, password included.
		return nil, errors.New("courier: SMTP URL is not a valid URL (percent-encode special characters in the user and password)")
	}
	s := &SMTPSender{timeout: 30 * time.Second}
	switch u.Scheme {
	case "smtp":
		s.port = mail.DefaultPort
	case "smtps":
		s.port, s.implicit = mail.DefaultPortSSL, true
	case "":
		return nil, errors.New("courier: SMTP URL has no scheme: use smtp://host[:port] or smtps://host[:port]")
	default:
		return nil, fmt.Errorf("courier: SMTP URL scheme %q is not supported: use smtp:// (STARTTLS when offered) or smtps:// (implicit TLS)", u.Scheme)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return nil, errors.New("courier: SMTP URL has no host: use " + u.Scheme + "://host[:port]")
	}
	s.host = u.Hostname()
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("courier: SMTP URL port %q is not a number from 1 to 65535", p)
		}
		s.port = n
	}
	if u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("courier: SMTP URL must not have a path (found %q)", u.Path)
	}
	if u.Fragment != "" {
		return nil, errors.New("courier: SMTP URL must not have a fragment")
	}
	q := u.Query()
	for k := range q {
		if k != "skip_verify" {
			return nil, fmt.Errorf("courier: SMTP URL option %q is unknown (known: skip_verify)", k)
		}
	}
	if v := q.Get("skip_verify"); v != "" {
		s.skipVerify, err = strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("courier: SMTP URL option skip_verify=%q is not true or false", v)
		}
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.password, _ = u.User.Password()
		s.hasAuth = true
		if s.user == "" {
			return nil, errors.New("courier: SMTP URL has a password but no user name")
		}
	}
	s.redacted = u.Redacted()
	addr, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("courier: SMTP From address %q is not a valid address", from)
	}
	// An internationalised domain goes out in its ASCII form, in the
	// envelope, the From header and the Message-ID alike.
	local, domain, _ := strings.Cut(addr.Address, "@")
	if ascii, err := idna.Lookup.ToASCII(domain); err == nil {
		addr.Address = local + "@" + ascii
	}
	s.from = addr.String()
	s.fromDomain = domainOf(addr.Address)
	return s, nil
}

// String returns the server URL with the password hidden, for logs.
func (s *SMTPSender) String() string { return s.redacted }

func domainOf(address string) string {
	if i := strings.LastIndexByte(address, '@'); i >= 0 {
		return address[i+1:]
	}
	return "localhost"
}

// client returns a client for one connection to the server, and done to
// call once it is over.
func (s *SMTPSender) client(ctx context.Context) (client *mail.Client, done func(), err error) {
	tlsConfig := &tls.Config{
		ServerName: s.host,
		MinVersion: tls.VersionTLS12,
		// skip_verify=true: dev relays only. Opportunistic STARTTLS to
		// a relay Foyer sends no password to encrypts without
		// authenticating the relay (RFC 7435), as MTAs do: a local
		// relay's certificate is often self-signed, and refusing it
		// would stop all mail where plain text was the alternative.
		InsecureSkipVerify: s.skipVerify || (!s.implicit && !s.hasAuth),
	}
	// The library gives each command its own timeout, so a server that
	// answers slowly enough could hold an attempt for many of them: the
	// connection is closed when ctx ends, which ends the attempt there,
	// whatever command it is in.
	var closers []func() bool
	done = func() {
		for _, stop := range closers {
			stop()
		}
	}
	dial := func(dialCtx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		var conn net.Conn
		var err error
		if s.implicit {
			conn, err = (&tls.Dialer{NetDialer: &d, Config: tlsConfig}).DialContext(dialCtx, network, addr)
		} else {
			conn, err = d.DialContext(dialCtx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		closers = append(closers, context.AfterFunc(ctx, func() { conn.Close() }))
		return conn, nil
	}
	opts := []mail.Option{
		mail.WithPort(s.port),
		mail.WithTimeout(s.timeout),
		mail.WithTLSConfig(tlsConfig),
		mail.WithDialContextFunc(dial),
	}
	if s.implicit {
		// Implicit TLS comes from dial; the library must not try
		// STARTTLS on top of it.
		opts = append(opts, mail.WithSSL())
	} else {
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	}
	if s.hasAuth {
		opts = append(opts, mail.WithSMTPAuthCustom(&plainOrLogin{user: s.user, password: s.password, host: s.host}))
	}
	if s.HELO != "" {
		opts = append(opts, mail.WithHELO(s.HELO))
	}
	client, err = mail.NewClient(s.host, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("courier: smtp: %w", err)
	}
	return client, done, nil
}

// Probe connects to the server, greets it (with STARTTLS and
// authentication as configured) and says goodbye, sending no mail: the
// Worker asks whether the server is back after an outage.
func (s *SMTPSender) Probe(ctx context.Context) error {
	client, done, err := s.client(ctx)
	if err != nil {
		return err
	}
	defer done()
	if err := client.DialWithContext(ctx); err != nil {
		return fmt.Errorf("courier: smtp: %w", err)
	}
	return client.Close()
}

// Send delivers m in one SMTP transaction. Rejections that retrying cannot
// fix (a 5xx reply to a recipient or the content) are Permanent.
func (s *SMTPSender) Send(ctx context.Context, m Mail) error {
	msg, err := s.message(m)
	if err != nil {
		return Permanent(fmt.Errorf("courier: smtp: build message: %w", err))
	}
	client, done, err := s.client(ctx)
	if err != nil {
		return err
	}
	defer done()
	err = client.DialAndSendWithContext(ctx, msg)
	if msg.IsDelivered() {
		// The server took the mail; a failure after that (RSET, QUIT)
		// must not make the worker send it again.
		return nil
	}
	if err == nil {
		return errors.New("courier: smtp: mail not accepted")
	}
	// A 5xx reply to the mail itself (a recipient, or the content) is
	// final: the same request must not be repeated (RFC 5321, section
	// 4.2.1). A refusal of the sender (MAIL FROM) usually says the relay
	// wants authentication, TLS or another From address: configuration,
	// which the operator fixes, so it is retried, as failures to connect
	// or authenticate are.
	// A 4xx reply to the recipient puts off this mail only (greylisting,
	// a full mailbox): the server itself works.
	var se *mail.SendError
	if errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500 {
		switch se.Reason {
		case mail.ErrSMTPRcptTo, mail.ErrSMTPData, mail.ErrSMTPDataClose:
			return Permanent(fmt.Errorf("courier: smtp: %w", err))
		}
	}
	if se != nil && se.Reason == mail.ErrSMTPRcptTo && se.ErrorCode() >= 400 && se.ErrorCode() < 500 {
		return Deferred(fmt.Errorf("courier: smtp: %w", err))
	}
	return fmt.Errorf("courier: smtp: %w", err)
}

func (s *SMTPSender) message(m Mail) (*mail.Msg, error) {
	msg := mail.NewMsg(mail.WithNoDefaultUserAgent()) // no X-Mailer naming the library
	from := s.from
	if m.From != "" {
		from = m.From
	}
	if err := msg.From(from); err != nil {
		return nil, err
	}
	if err := msg.To(m.To); err != nil {
		return nil, errors.New("invalid recipient address")
	}
	msg.Subject(m.Subject)
	if m.MessageID != "" {
		id := m.MessageID
		if !strings.Contains(id, "@") {
			id += "@" + s.fromDomain
		}
		msg.SetMessageIDWithValue(id)
	} else {
		msg.SetMessageID()
	}
	if m.Date.IsZero() {
		msg.SetDate()
	} else {
		msg.SetDateWithValue(m.Date)
	}
	// RFC 3834: automatic mail; asks vacation responders not to answer.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	if m.Lang != "" {
		msg.SetGenHeader(mail.HeaderContentLang, m.Lang)
	}
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// plainOrLogin authenticates with PLAIN, or LOGIN when the server offers
// only that. Both send the password itself, so both refuse a connection
// that is not encrypted unless the server is on localhost.
type plainOrLogin struct {
	user, password, host string
	chosen               smtp.Auth
}

func (a *plainOrLogin) Start(server *smtp.ServerInfo) (string, []byte, error) {
	switch {
	case slices.Contains(server.Auth, "PLAIN"):
		a.chosen = smtp.PlainAuth("", a.user, a.password, a.host, false)
	case slices.Contains(server.Auth, "LOGIN"):
		a.chosen = smtp.LoginAuth(a.user, a.password, a.host, false)
	default:
		return "", nil, errors.New("courier: smtp: the server offers neither AUTH PLAIN nor AUTH LOGIN")
	}
	return a.chosen.Start(server)
}

func (a *plainOrLogin) Next(fromServer []byte, more bool) ([]byte, error) {
	return a.chosen.Next(fromServer, more)
}
