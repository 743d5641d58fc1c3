package api

import (
	"net/http"

	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/session"
)

// WhoamiResponse is the body of GET /sessions/whoami.
type WhoamiResponse struct {
	Session  *session.Session   `json:"session"`
	Identity *identity.Identity `json:"identity"`
	// RecentlyRecovered is true while the account is in the cool-off
	// after a recovery (until identity.restricted_until): an app may
	// hold back what the account should not do yet.
	RecentlyRecovered bool `json:"recently_recovered"`
}

// GET /sessions/whoami: the session and identity behind a bearer token or
// the session cookie; 401 without a live session.
func (h *Handler) whoami(w http.ResponseWriter, r *http.Request) {
	tok := session.TokenFromRequest(r, h.CookieName)
	if tok == "" {
		unauthenticated(w, false, "Sign in first.")
		return
	}
	s, ident, err := h.Sessions.Whoami(r.Context(), tok)
	if err != nil && err != session.ErrInvalid {
		// The store could not tell: not a reason to sign anybody out.
		h.fail(w, r, err)
		return
	}
	if err != nil {
		unauthenticated(w, true, "The session is unknown, expired or revoked.")
		return
	}
	writeJSON(w, http.StatusOK, WhoamiResponse{Session: s, Identity: ident, RecentlyRecovered: ident.Restricted(h.Flows.Now())})
}
