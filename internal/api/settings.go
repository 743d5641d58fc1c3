package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/foyer-id/foyer/internal/flow"
	"github.com/foyer-id/foyer/internal/problem"
	"github.com/foyer-id/foyer/internal/store"
)

// PasswordChange is the body of POST /api/settings/password.
type PasswordChange struct {
	// CurrentPassword proves it is the customer; without it the session
	// must have signed in recently.
	CurrentPassword string `json:"current_password"`
	Password        string `json:"password"`
}

// POST /api/settings/password (bearer): set a new password; every other
// session ends.
func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request) {
	var req PasswordChange
	if !h.decode(w, r, &req) {
		return
	}
	s, _ := h.authed(w, r)
	if s == nil {
		return
	}
	if err := h.Flows.ChangePassword(r.Context(), h.client(r), s, req.CurrentPassword, req.Password); err != nil {
		h.settingsFail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// EmailChange is the body of POST /api/settings/email.
type EmailChange struct {
	Email string `json:"email"`
}

// POST /api/settings/email (bearer): start changing the email address; a
// code goes to the new one, entered with POST /api/flows/{id}/code.
func (h *Handler) changeEmail(w http.ResponseWriter, r *http.Request) {
	var req EmailChange
	if !h.decode(w, r, &req) {
		return
	}
	s, _ := h.authed(w, r)
	if s == nil {
		return
	}
	res, err := h.Flows.StartEmailChange(r.Context(), h.client(r), s, req.Email)
	if err != nil {
		h.settingsFail(w, r, err)
		return
	}
	h.respond(w, r, http.StatusOK, res)
}

// PhoneChange is the body of POST /api/settings/phone.
type PhoneChange struct {
	Phone string `json:"phone"`
}

// POST /api/settings/phone (bearer): start adding or changing the phone
// number; a code goes to it by text message, entered with POST
// /api/flows/{id}/code.
func (h *Handler) changePhone(w http.ResponseWriter, r *http.Request) {
	var req PhoneChange
	if !h.decode(w, r, &req) {
		return
	}
	s, _ := h.authed(w, r)
	if s == nil {
		return
	}
	res, err := h.Flows.StartPhoneChange(r.Context(), h.client(r), s, req.Phone)
	if err != nil {
		h.settingsFail(w, r, err)
		return
	}
	h.respond(w, r, http.StatusOK, res)
}

// TraitsChange is the body of PATCH /api/settings/traits.
type TraitsChange struct {
	Traits map[string]json.RawMessage `json:"traits"`
}

// PATCH /api/settings/traits (bearer): change the traits the schema
// allows (not the email address); null or "" clears one.
func (h *Handler) changeTraits(w http.ResponseWriter, r *http.Request) {
	var req TraitsChange
	if !h.decode(w, r, &req) {
		return
	}
	s, _ := h.authed(w, r)
	if s == nil {
		return
	}
	traits := map[string]any{}
	for k, v := range req.Traits {
		var val any
		if err := json.Unmarshal(v, &val); err != nil {
			problem.Send(w, http.StatusBadRequest, "malformed-json", "Malformed JSON", "A trait is not valid JSON.")
			return
		}
		traits[k] = val
	}
	ident, err := h.Flows.ChangeTraits(r.Context(), h.client(r), s, traits)
	if err != nil {
		h.settingsFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ident)
}

// SessionList is the answer of GET /api/sessions.
type SessionList struct {
	Sessions []flow.SignedInDevice `json:"sessions"`
}

// GET /api/sessions (bearer): the devices signed in to the account.
func (h *Handler) listSessions(w http.ResponseWriter, r *http.Request) {
	s, _ := h.authed(w, r)
	if s == nil {
		return
	}
	list, err := h.Flows.SignedIn(r.Context(), s)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, SessionList{Sessions: list})
}

// DELETE /api/sessions/{id} (bearer): sign another device out.
// DELETE /api/sessions: sign out every device but this one.
func (h *Handler) revokeSessions(w http.ResponseWriter, r *http.Request) {
	s, _ := h.authed(w, r)
	if s == nil {
		return
	}
	err := h.Flows.SignOutDevice(r.Context(), h.client(r), s, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		problem.Send(w, http.StatusNotFound, "session-not-found", "No such session", "The account has no live session with that id.")
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ActivityList is the answer of GET /api/activity.
type ActivityList struct {
	Activity []flow.Activity `json:"activity"`
}

// GET /api/activity (bearer): the account's recent security activity.
func (h *Handler) activity(w http.ResponseWriter, r *http.Request) {
	s, _ := h.authed(w, r)
	if s == nil {
		return
	}
	list, err := h.Flows.SecurityActivity(r.Context(), s.IdentityID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, ActivityList{Activity: list})
}

// settingsFail answers a change that needs a fresher sign-in with 401
// (RFC 9470), and other errors as fail does.
func (h *Handler) settingsFail(w http.ResponseWriter, r *http.Request, err error) {
	var reauth *flow.ReauthError
	if errors.As(err, &reauth) {
		wwwAuthenticate(w, "insufficient_user_authentication")
		problem.Send(w, http.StatusUnauthorized, "reauthenticate", "Please confirm it's you",
			"Send the current password, or sign in again (or step up with POST /api/sessions/step-up), then try again.")
		return
	}
	h.fail(w, r, err)
}
