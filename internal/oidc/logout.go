package oidc

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/foyer-id/foyer/internal/event"
)

// Logout is an RP-initiated logout handed from end_session to Foyer's
// sign-out page: where to go once done, and whose tokens at which app to
// end when the customer confirms.
type Logout struct {
	// RedirectURI is the app's registered post_logout_redirect_uri, with
	// its state; "" for none.
	RedirectURI string
	// ClientID and Subject name the app and the customer of the
	// id_token_hint; "" without one.
	ClientID, Subject string
}

// TerminateSessionFromRequest sends the browser to Foyer's sign-out page,
// handing the logout over with a MAC. It ends nothing itself: an
// id_token_hint proves nothing about who sends it (end_session accepts an
// expired one, as RP-Initiated Logout asks), so only the customer's
// confirmation on the page, in a browser signed in as the hint's
// customer, ends the app's tokens (EndLogout).
func (s *Storage) TerminateSessionFromRequest(_ context.Context, req *op.EndSessionRequest) (string, error) {
	l := Logout{}
	// Without a post_logout_redirect_uri the library still hands over its
	// state, on an empty default URI ("?state=…"): only a registered URI,
	// which is absolute, is followed.
	if u, err := url.Parse(req.RedirectURI); err == nil && u.Scheme != "" {
		// The library checked the URI against the client's registered
		// ones; the MAC lets the logout page trust it without turning
		// into an open redirect.
		l.RedirectURI = req.RedirectURI
	}
	if req.UserID != "" && req.ClientID != "" {
		l.ClientID, l.Subject = req.ClientID, req.UserID
	}
	if l == (Logout{}) {
		return s.LogoutURL, nil
	}
	return s.LogoutURL + "?" + s.LogoutFields(l).Encode(), nil
}

// LogoutFields returns l as the sign-out form carries it along: its
// parts and their MAC.
func (s *Storage) LogoutFields(l Logout) url.Values {
	v := url.Values{"sig": {s.logoutMAC(l)}}
	if l.RedirectURI != "" {
		v.Set("post_logout_redirect_uri", l.RedirectURI)
	}
	if l.Subject != "" {
		v.Set("client_id", l.ClientID)
		v.Set("sub", l.Subject)
	}
	return v
}

// LogoutFrom reads the logout handed over in q (the sign-out page's query
// or form), and reports whether there is one and its MAC holds.
func (s *Storage) LogoutFrom(q url.Values) (Logout, bool) {
	l := Logout{RedirectURI: q.Get("post_logout_redirect_uri"), ClientID: q.Get("client_id"), Subject: q.Get("sub")}
	if l == (Logout{}) || !hmac.Equal([]byte(q.Get("sig")), []byte(s.logoutMAC(l))) {
		return Logout{}, false
	}
	return l, true
}

// EndLogout ends, once the customer signed in as identityID has
// confirmed the sign-out, the tokens the logout's app holds for them —
// offline grants too: the app asked to be signed out. A logout naming
// someone else ends nothing of theirs.
func (s *Storage) EndLogout(ctx context.Context, l Logout, identityID string) error {
	if l.Subject == "" || l.Subject != identityID {
		return nil
	}
	if err := s.tokens.revokeSubjectClient(ctx, l.Subject, l.ClientID); err != nil {
		return err
	}
	s.emit(ctx, "oauth.logout", event.OutcomeSuccess, "", l.Subject, l.ClientID)
	return nil
}

func (s *Storage) logoutMAC(l Logout) string {
	m := hmac.New(sha256.New, s.logoutKey)
	for _, part := range []string{l.RedirectURI, l.ClientID, l.Subject} {
		m.Write([]byte(part))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
