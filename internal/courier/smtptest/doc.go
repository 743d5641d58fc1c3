// Package smtptest is a real SMTP server for tests: it listens on
// 127.0.0.1, speaks enough of RFC 5321 for real clients (EHLO/HELO, AUTH
// PLAIN and LOGIN, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT),
// and keeps every mail it accepts, parsed (headers, text and HTML parts
// decoded from quoted-printable or base64), for the test to inspect.
//
// It stands in for a mail relay in end-to-end tests, with no mocks: the
// code under test dials it over TCP like any mail server. Faults are
// injected the way a real relay produces them: FailNext answers 451 to the
// next recipients, RejectRecipient refuses an address for good (550),
// FailNextData and RejectNextData refuse the next mails after their data,
// and Close followed by Restart makes the server go away and come back on
// the same port.
//
//	srv := smtptest.Start(t)
//	sender, _ := courier.NewSMTPSender(srv.URL(), "no-reply@example.com")
//	…
//	msg, err := srv.WaitForMessage(ctx, "alice@example.com")
//
// It offers no STARTTLS: clients must accept plain connections, as
// Foyer's smtp:// sender does.
package smtptest
