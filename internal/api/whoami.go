package api

import (
	"net/http"

	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/problem"
	"github.com/foyer-id/foyer/internal/session"
)

// WhoamiResponse is the body of GET /sessions/whoami.
type WhoamiResponse struct {
	Session  *session.Session   `json:"session"`
	Identity *identity.Identity `json:"identity"`
}

// GET /sessions/whoami: the session and identity behind a bearer token or
// the session cookie; 401 without a live session.
func (h *Handler) whoami(w http.ResponseWriter, r *http.Request) {
	tok := session.TokenFromRequest(r, h.CookieName)
	if tok == "" {
		challenge(w, "")
		problem.Send(w, http.StatusUnauthorized, "unauthenticated", "No valid session", "Sign in first.")
		return
	}
	s, ident, err := h.Sessions.Whoami(r.Context(), tok)
	if err != nil {
		if err != session.ErrInvalid {
			h.Logger.ErrorContext(r.Context(), "api: whoami", "error", err)
		}
		challenge(w, "invalid_token")
		problem.Send(w, http.StatusUnauthorized, "unauthenticated", "No valid session", "The session is unknown, expired or revoked.")
		return
	}
	writeJSON(w, http.StatusOK, WhoamiResponse{Session: s, Identity: ident})
}
