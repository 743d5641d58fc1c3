package smtptest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a running SMTP capture server. Its methods are safe for
// concurrent use.
type Server struct {
	t    testing.TB
	addr string // host:port, fixed for the server's life (Restart reuses it)

	mu         sync.Mutex
	ln         net.Listener // nil while closed
	conns      map[net.Conn]struct{}
	messages   []Message
	arrived    chan struct{} // closed and replaced when a message arrives
	failRcpt   int
	failData   int
	rejectData int
	rejectRcpt map[string]bool // lower-case addresses refused for good
	tls        *tls.Config     // STARTTLS offered when set (OfferSTARTTLS)
	user       string          // AUTH required when set
	password   string
	wg         sync.WaitGroup
}

// Start starts a server on 127.0.0.1 with a free port, and closes it when
// the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s := &Server{t: t, addr: ln.Addr().String(), conns: make(map[net.Conn]struct{}), arrived: make(chan struct{})}
	s.serve(ln)
	t.Cleanup(s.Close)
	return s
}

// Addr returns the server's address, "127.0.0.1:port".
func (s *Server) Addr() string { return s.addr }

// URL returns the server's address as an SMTP URL, "smtp://127.0.0.1:port",
// with the user and password of RequireAuth when it was called.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.user != "" {
		return "smtp://" + url.UserPassword(s.user, s.password).String() + "@" + s.addr
	}
	return "smtp://" + s.addr
}

// RequireAuth makes the server advertise AUTH PLAIN and LOGIN and refuse
// mail (530) from clients that have not authenticated as user.
func (s *Server) RequireAuth(user, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user, s.password = user, password
}

// FailNext makes the server answer "451 4.3.0" to the next n RCPT TO
// commands, so the next n delivery attempts of a one-recipient mail fail
// with a temporary error.
func (s *Server) FailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failRcpt = n
}

// RejectRecipient makes the server refuse every mail to address (any
// case) for good, answering "550 5.1.1" to its RCPT TO, as a relay does
// for a mailbox that does not exist.
func (s *Server) RejectRecipient(address string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rejectRcpt == nil {
		s.rejectRcpt = map[string]bool{}
	}
	s.rejectRcpt[strings.ToLower(address)] = true
}

// FailNextData makes the server take the data of the next n mails and then
// answer "451 4.3.0" and discard them.
func (s *Server) FailNextData(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failData = n
}

// OfferSTARTTLS makes the server offer STARTTLS (RFC 3207) with a
// self-signed certificate, as many local relays do.
func (s *Server) OfferSTARTTLS() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		s.t.Fatalf("smtptest: key: %v", err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtptest"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		s.t.Fatalf("smtptest: certificate: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tls = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
}

// RejectNextData makes the server take the data of the next n mails and
// then refuse them for good ("554 5.6.0").
func (s *Server) RejectNextData(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectData = n
}

// Messages returns the mails accepted so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// WaitForMessage returns the first accepted mail for to (an envelope
// recipient or To address, any case), waiting for it until ctx ends.
func (s *Server) WaitForMessage(ctx context.Context, to string) (Message, error) {
	got, err := s.WaitForMessages(ctx, to, 1)
	if err != nil {
		return Message{}, err
	}
	return got[0], nil
}

// WaitForMessages returns the first n accepted mails for to (an envelope
// recipient or To address, any case), in the order they arrived, waiting
// for them until ctx ends.
func (s *Server) WaitForMessages(ctx context.Context, to string, n int) ([]Message, error) {
	return s.WaitForMatching(ctx, to, n, func(Message) bool { return true })
}

// WaitForMatching is WaitForMessages for the mails to to that match.
func (s *Server) WaitForMatching(ctx context.Context, to string, n int, match func(Message) bool) ([]Message, error) {
	for {
		var got []Message
		s.mu.Lock()
		for _, m := range s.messages {
			if m.isFor(to) && match(m) && len(got) < n {
				got = append(got, m)
			}
		}
		arrived := s.arrived
		s.mu.Unlock()
		if len(got) == n {
			return got, nil
		}
		select {
		case <-ctx.Done():
			return got, fmt.Errorf("smtptest: %d of %d mails for %s: %w", len(got), n, to, ctx.Err())
		case <-arrived:
		}
	}
}

// Close stops the server: it stops listening and drops open connections,
// so clients see "connection refused". Accepted mail stays in Messages.
// Restart brings the server back on the same port.
func (s *Server) Close() {
	s.mu.Lock()
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Restart starts a closed server again on the same address (closing it
// first if it is running), as a restarting relay would.
func (s *Server) Restart() {
	s.t.Helper()
	s.Close()
	var ln net.Listener
	var err error
	// The port was ours a moment ago; retry briefly in case the kernel
	// has not released it yet.
	for range 50 {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("smtptest: restart on %s: %v", s.addr, err)
	}
	s.serve(ln)
}

func (s *Server) serve(ln net.Listener) {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			if s.ln != ln {
				s.mu.Unlock()
				c.Close()
				return
			}
			s.conns[c] = struct{}{}
			s.wg.Add(1)
			s.mu.Unlock()
			go func() {
				defer s.wg.Done()
				defer func() {
					s.mu.Lock()
					delete(s.conns, c)
					s.mu.Unlock()
					c.Close()
				}()
				s.session(c)
			}()
		}
	}()
}

// session is the state of one SMTP connection.
type session struct {
	s        *Server
	w        *bufio.Writer
	r        *textproto.Reader
	conn     net.Conn
	helo     bool
	heloName string
	tls      bool // the session switched to TLS
	authUser string
	from     string
	hasFrom  bool
	rcpts    []string
}

func (s *Server) session(c net.Conn) {
	ss := &session{s: s, conn: c, w: bufio.NewWriter(c), r: textproto.NewReader(bufio.NewReader(c))}
	ss.reply("220 smtptest ESMTP ready")
	for {
		_ = c.SetDeadline(time.Now().Add(time.Minute))
		line, err := ss.r.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		if !ss.command(strings.ToUpper(verb), strings.TrimSpace(arg)) {
			return
		}
	}
}

func (ss *session) reply(lines ...string) {
	for _, l := range lines {
		ss.w.WriteString(l + "\r\n")
	}
	ss.w.Flush()
}

func (ss *session) reset() {
	ss.from, ss.hasFrom, ss.rcpts = "", false, nil
}

// command answers one command and reports whether to keep the connection.
func (ss *session) command(verb, arg string) bool {
	s := ss.s
	switch verb {
	case "EHLO":
		ss.helo, ss.heloName = true, arg
		ss.reset()
		lines := []string{"250-smtptest greets " + arg, "250-8BITMIME", "250-SMTPUTF8"}
		s.mu.Lock()
		if s.user != "" {
			lines = append(lines, "250-AUTH PLAIN LOGIN")
		}
		if s.tls != nil && !ss.tls {
			lines = append(lines, "250-STARTTLS")
		}
		s.mu.Unlock()
		ss.reply(append(lines, "250 HELP")...)
	case "HELO":
		ss.helo, ss.heloName = true, arg
		ss.reset()
		ss.reply("250 smtptest")
	case "AUTH":
		ss.auth(arg)
	case "MAIL":
		s.mu.Lock()
		needAuth := s.user != "" && ss.authUser == ""
		s.mu.Unlock()
		addr, ok := pathArg(arg, "FROM:")
		switch {
		case !ss.helo:
			ss.reply("503 5.5.1 EHLO first")
		case needAuth:
			ss.reply("530 5.7.0 Authentication required")
		case ss.hasFrom:
			ss.reply("503 5.5.1 Nested MAIL command")
		case !ok:
			ss.reply("501 5.5.4 Syntax: MAIL FROM:<address>")
		default:
			ss.from, ss.hasFrom = addr, true
			ss.reply("250 2.1.0 OK")
		}
	case "RCPT":
		addr, ok := pathArg(arg, "TO:")
		switch {
		case !ss.hasFrom:
			ss.reply("503 5.5.1 MAIL first")
		case !ok || addr == "":
			ss.reply("501 5.5.4 Syntax: RCPT TO:<address>")
		case s.rejected(addr):
			ss.reply("550 5.1.1 <" + addr + ">: no such user")
		case s.takeFault(&s.failRcpt):
			ss.reply("451 4.3.0 Temporary failure, try again later")
		default:
			ss.rcpts = append(ss.rcpts, addr)
			ss.reply("250 2.1.5 OK")
		}
	case "DATA":
		if len(ss.rcpts) == 0 {
			ss.reply("503 5.5.1 RCPT first")
			return true
		}
		ss.reply("354 End data with <CR><LF>.<CR><LF>")
		// DotReader undoes dot-stuffing and stops at the lone ".".
		raw, err := io.ReadAll(ss.r.DotReader())
		if err != nil {
			return false
		}
		from, rcpts := ss.from, ss.rcpts
		ss.reset()
		if s.takeFault(&s.failData) {
			ss.reply("451 4.3.0 Temporary failure, mail not accepted")
			return true
		}
		if s.takeFault(&s.rejectData) {
			ss.reply("554 5.6.0 Content rejected")
			return true
		}
		m, err := parse(raw)
		if err != nil {
			s.t.Errorf("smtptest: the client sent a mail that does not parse: %v\n%s", err, raw)
		}
		m.MailFrom, m.RcptTo, m.AuthUser, m.Helo, m.TLS = from, rcpts, ss.authUser, ss.heloName, ss.tls
		s.mu.Lock()
		s.messages = append(s.messages, m)
		close(s.arrived)
		s.arrived = make(chan struct{})
		n := len(s.messages)
		s.mu.Unlock()
		ss.reply(fmt.Sprintf("250 2.0.0 OK queued as %d", n))
	case "RSET":
		ss.reset()
		ss.reply("250 2.0.0 OK")
	case "NOOP":
		ss.reply("250 2.0.0 OK")
	case "VRFY":
		ss.reply("252 2.1.5 Cannot VRFY user")
	case "STARTTLS":
		s.mu.Lock()
		cfg := s.tls
		s.mu.Unlock()
		if cfg == nil || ss.tls {
			ss.reply("502 5.5.1 STARTTLS not offered")
			return true
		}
		ss.reply("220 2.0.0 Ready to start TLS")
		tc := tls.Server(ss.conn, cfg)
		if err := tc.Handshake(); err != nil {
			return false
		}
		// A new session on the encrypted connection (RFC 3207, section 4.2).
		ss.conn, ss.w, ss.r = tc, bufio.NewWriter(tc), textproto.NewReader(bufio.NewReader(tc))
		ss.tls, ss.helo, ss.authUser = true, false, ""
		ss.reset()
	case "QUIT":
		ss.reply("221 2.0.0 Bye")
		return false
	default:
		ss.reply("502 5.5.2 Command not recognized")
	}
	return true
}

// rejected reports whether mail to address is refused (RejectRecipient).
func (s *Server) rejected(address string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rejectRcpt[strings.ToLower(address)]
}

// takeFault consumes one injected fault from counter, reporting whether
// there was one.
func (s *Server) takeFault(counter *int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if *counter > 0 {
		*counter--
		return true
	}
	return false
}

// auth runs AUTH PLAIN or AUTH LOGIN.
func (ss *session) auth(arg string) {
	s := ss.s
	s.mu.Lock()
	user, password := s.user, s.password
	s.mu.Unlock()
	if user == "" {
		ss.reply("502 5.5.1 AUTH not offered")
		return
	}
	if ss.authUser != "" {
		ss.reply("503 5.5.1 Already authenticated")
		return
	}
	mech, initial, _ := strings.Cut(arg, " ")
	var gotUser, gotPassword string
	switch strings.ToUpper(mech) {
	case "PLAIN":
		if initial == "" {
			ss.reply("334 ")
			line, err := ss.r.ReadLine()
			if err != nil {
				return
			}
			initial = line
		}
		b, err := base64.StdEncoding.DecodeString(initial)
		parts := bytes.Split(b, []byte{0})
		if err != nil || len(parts) != 3 {
			ss.reply("501 5.5.2 Cannot decode AUTH PLAIN response")
			return
		}
		gotUser, gotPassword = string(parts[1]), string(parts[2])
	case "LOGIN":
		var err error
		if gotUser, err = ss.challenge("Username:", initial); err != nil {
			ss.reply("501 5.5.2 Cannot decode AUTH LOGIN response")
			return
		}
		if gotPassword, err = ss.challenge("Password:", ""); err != nil {
			ss.reply("501 5.5.2 Cannot decode AUTH LOGIN response")
			return
		}
	default:
		ss.reply("504 5.5.4 Unrecognized authentication type")
		return
	}
	if gotUser != user || gotPassword != password {
		ss.reply("535 5.7.8 Authentication credentials invalid")
		return
	}
	ss.authUser = gotUser
	ss.reply("235 2.7.0 Authentication successful")
}

// challenge sends a 334 prompt (unless the client already answered it)
// and returns the decoded answer.
func (ss *session) challenge(prompt, answer string) (string, error) {
	if answer == "" {
		ss.reply("334 " + base64.StdEncoding.EncodeToString([]byte(prompt)))
		line, err := ss.r.ReadLine()
		if err != nil {
			return "", err
		}
		answer = line
	}
	if answer == "*" {
		return "", errors.New("cancelled")
	}
	b, err := base64.StdEncoding.DecodeString(answer)
	return string(b), err
}

// pathArg parses "FROM:<addr> PARAMS" or "TO:<addr> PARAMS" and returns
// addr; parameters (BODY=8BITMIME, SMTPUTF8) are accepted and ignored.
func pathArg(arg, prefix string) (string, bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", false
	}
	rest := strings.TrimSpace(arg[len(prefix):])
	if !strings.HasPrefix(rest, "<") {
		addr, _, _ := strings.Cut(rest, " ")
		return addr, addr != ""
	}
	end := strings.IndexByte(rest, '>')
	if end < 0 {
		return "", false
	}
	return rest[1:end], true
}
