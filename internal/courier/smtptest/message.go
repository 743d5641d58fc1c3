package smtptest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
)

// Message is one mail the server accepted, parsed.
type Message struct {
	// MailFrom and RcptTo are the SMTP envelope.
	MailFrom string
	RcptTo   []string
	// AuthUser is the user the client authenticated as, if any.
	AuthUser string
	// Helo is the name the client greeted with (EHLO or HELO).
	Helo string
	// TLS says the mail came over a connection upgraded with STARTTLS.
	TLS bool

	// From and To are the addresses of the From and To headers.
	From string
	To   []string
	// Subject is the decoded Subject header.
	Subject   string
	MessageID string
	Header    mail.Header
	// Text and HTML are the decoded text/plain and text/html parts, or
	// the body itself when it is not multipart.
	Text string
	HTML string
	// Raw is the mail as received, after dot-unstuffing and with line
	// ends as "\n".
	Raw []byte
}

func (m Message) isFor(to string) bool {
	for _, a := range append(append([]string(nil), m.RcptTo...), m.To...) {
		if strings.EqualFold(a, to) {
			return true
		}
	}
	return false
}

// parse parses a mail, decoding headers and parts. On error it returns
// what it could parse, and Raw.
func parse(raw []byte) (Message, error) {
	m := Message{Raw: raw}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return m, fmt.Errorf("read headers: %w", err)
	}
	m.Header = msg.Header
	dec := new(mime.WordDecoder)
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return m, fmt.Errorf("decode Subject: %w", err)
	}
	m.MessageID = strings.Trim(msg.Header.Get("Message-Id"), "<> ")
	if from, err := msg.Header.AddressList("From"); err == nil && len(from) > 0 {
		m.From = from[0].Address
	} else if err != nil && err != mail.ErrHeaderNotPresent {
		return m, fmt.Errorf("parse From: %w", err)
	}
	if to, err := msg.Header.AddressList("To"); err == nil {
		for _, a := range to {
			m.To = append(m.To, a.Address)
		}
	} else if err != mail.ErrHeaderNotPresent {
		return m, fmt.Errorf("parse To: %w", err)
	}
	err = m.walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	return m, err
}

// walk decodes one part, descending into multipart ones, and keeps the
// first text/plain and text/html parts.
func (m *Message) walk(contentType, encoding string, body io.Reader) error {
	if contentType == "" {
		contentType = "text/plain; charset=us-ascii"
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("parse Content-Type %q: %w", contentType, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read %s part: %w", mediaType, err)
			}
			if err := m.walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, &skipNewlines{r: body})
	case "", "7bit", "8bit", "binary":
	default:
		return fmt.Errorf("unknown Content-Transfer-Encoding %q", encoding)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("decode %s (%s): %w", mediaType, encoding, err)
	}
	if cs := strings.ToLower(params["charset"]); cs != "" && cs != "utf-8" && cs != "us-ascii" {
		return fmt.Errorf("unsupported charset %q", cs)
	}
	switch mediaType {
	case "text/plain":
		if m.Text == "" {
			m.Text = string(b)
		}
	case "text/html":
		if m.HTML == "" {
			m.HTML = string(b)
		}
	}
	return nil
}

// skipNewlines drops line breaks from base64 bodies.
type skipNewlines struct{ r io.Reader }

func (s *skipNewlines) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		j := 0
		for _, c := range p[:n] {
			if c != '\r' && c != '\n' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}
