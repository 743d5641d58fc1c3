package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/foyer-id/foyer/internal/credential/passkey"
	"github.com/foyer-id/foyer/internal/flow"
	"github.com/foyer-id/foyer/internal/i18n"
	"github.com/foyer-id/foyer/internal/problem"
	"github.com/foyer-id/foyer/internal/session"
	"github.com/foyer-id/foyer/internal/store"
)

// Passkeys for native apps: the app runs the platform's WebAuthn API with
// the options from here and sends back the credential JSON.

// PasskeyOptions is the answer of the options endpoints.
type PasskeyOptions struct {
	Options     json.RawMessage `json:"options"`
	ChallengeID string          `json:"challenge_id"`
}

// PasskeyFinish is the body of the finish endpoints.
type PasskeyFinish struct {
	ChallengeID string          `json:"challenge_id"`
	Name        string          `json:"name,omitempty"`
	Credential  json.RawMessage `json:"credential"`
}

func (h *Handler) passkeysOff(w http.ResponseWriter) bool {
	if h.Passkeys == nil {
		problem.Send(w, http.StatusNotFound, "passkeys-off", "Passkeys are not available", "This server's public URL has no domain name.")
		return true
	}
	return false
}

// POST /api/passkeys/login/options
func (h *Handler) passkeyLoginOptions(w http.ResponseWriter, r *http.Request) {
	var body struct{}
	if h.passkeysOff(w) || !h.decode(w, r, &body) {
		return
	}
	if err := h.Flows.AllowPasskeyChallenge(r.Context(), h.client(r)); err != nil {
		h.fail(w, r, err)
		return
	}
	opts, id, err := h.Passkeys.BeginLogin(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, PasskeyOptions{Options: opts, ChallengeID: id})
}

// POST /api/passkeys/login
func (h *Handler) passkeyLogin(w http.ResponseWriter, r *http.Request) {
	var req PasskeyFinish
	if h.passkeysOff(w) || !h.decode(w, r, &req) {
		return
	}
	res, err := h.Flows.SignInWithPasskey(r.Context(), h.client(r), req.ChallengeID, req.Credential, "", nil)
	if errors.Is(err, flow.ErrPasskeyRefused) {
		problem.Send(w, http.StatusBadRequest, "passkey-invalid", "Passkey not accepted", "That passkey did not work here.")
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, r, http.StatusOK, res)
}

// POST /api/registration/{id}/passkey/options: the creation options for
// the passkey of a passwordless sign-up whose email is verified.
func (h *Handler) passkeySignUpOptions(w http.ResponseWriter, r *http.Request) {
	var body struct{}
	if h.passkeysOff(w) || !h.decode(w, r, &body) {
		return
	}
	f := h.load(w, r, flow.TypeRegistration)
	if f == nil {
		return
	}
	opts, id, err := h.Flows.BeginPasskeySignUp(r.Context(), f, h.client(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, PasskeyOptions{Options: opts, ChallengeID: id})
}

// POST /api/registration/{id}/passkey: store the passkey, finish the
// sign-up and answer with the session.
func (h *Handler) passkeySignUp(w http.ResponseWriter, r *http.Request) {
	var req PasskeyFinish
	if h.passkeysOff(w) || !h.decode(w, r, &req) {
		return
	}
	f := h.load(w, r, flow.TypeRegistration)
	if f == nil {
		return
	}
	res, err := h.Flows.FinishPasskeySignUp(r.Context(), f, h.client(r), req.ChallengeID, strings.TrimSpace(req.Name), req.Credential)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, r, http.StatusOK, res)
}

// fresh returns the bearer's session if it may change sign-in methods
// now — passkeys, the authenticator app, recovery codes
// (flow.MethodsChangeNeeds); otherwise it answers 401 (or 403).
func (h *Handler) fresh(w http.ResponseWriter, r *http.Request) *session.Session {
	s, _ := h.authed(w, r)
	if s == nil {
		return nil
	}
	need, err := h.Flows.MethodsChangeNeeds(r.Context(), h.client(r), s)
	if err != nil {
		h.fail(w, r, err)
		return nil
	}
	if need != flow.ReauthNone {
		wwwAuthenticate(w, "insufficient_user_authentication")
		problem.Send(w, http.StatusUnauthorized, "reauthenticate", "Please confirm it's you",
			"Sign in again (or step up with POST /api/sessions/step-up) within 10 minutes before changing how you sign in.")
		return nil
	}
	return s
}

// POST /api/passkeys/options (bearer)
func (h *Handler) passkeyAddOptions(w http.ResponseWriter, r *http.Request) {
	var body struct{}
	if h.passkeysOff(w) || !h.decode(w, r, &body) {
		return
	}
	ident := h.freshIdentity(w, r)
	if ident == nil {
		return
	}
	email := ident.Email().Value
	opts, id, err := h.Passkeys.BeginRegistration(r.Context(), ident.ID, email, email)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, PasskeyOptions{Options: opts, ChallengeID: id})
}

// POST /api/passkeys (bearer)
func (h *Handler) passkeyAdd(w http.ResponseWriter, r *http.Request) {
	var req PasskeyFinish
	if h.passkeysOff(w) || !h.decode(w, r, &req) {
		return
	}
	ident := h.freshIdentity(w, r)
	if ident == nil {
		return
	}
	name := strings.TrimSpace(req.Name)
	if name == "" {
		name = flow.PasskeyName(i18n.English(), r.UserAgent(), req.Credential)
	}
	cred, err := h.Passkeys.FinishRegistration(r.Context(), req.ChallengeID, ident.ID, name, req.Credential)
	if err != nil {
		if errors.Is(err, passkey.ErrInvalidName) {
			h.fail(w, r, flow.Invalid("name", "name_invalid", "count", flow.MaxPasskeyName))
			return
		}
		problem.Send(w, http.StatusBadRequest, "passkey-invalid", "Passkey not added", "The passkey could not be added.")
		return
	}
	codes, err := h.Flows.PasskeyAdded(r.Context(), h.client(r), ident, cred.ID, cred.Name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, AddedPasskey{Credential: cred, RecoveryCodes: codes})
}

// AddedPasskey answers POST /api/passkeys: the passkey, and the account's
// new recovery codes when it is the first second factor (shown once).
type AddedPasskey struct {
	*passkey.Credential
	RecoveryCodes []string `json:"recovery_codes,omitempty"`
}

// GET /api/passkeys (bearer)
func (h *Handler) passkeyList(w http.ResponseWriter, r *http.Request) {
	if h.passkeysOff(w) {
		return
	}
	s, _ := h.authed(w, r)
	if s == nil {
		return
	}
	list, err := h.Passkeys.List(r.Context(), s.IdentityID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"passkeys": list})
}

// PATCH /api/passkeys/{id} (bearer): rename a passkey. A name is only a
// label, so this needs a session but not a fresh sign-in (as on the
// account page).
func (h *Handler) passkeyRename(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
	}
	if h.passkeysOff(w) || !h.decode(w, r, &req) {
		return
	}
	s, _ := h.authed(w, r)
	if s == nil {
		return
	}
	cred, err := h.Passkeys.Rename(r.Context(), s.IdentityID, r.PathValue("id"), req.Name)
	switch {
	case errors.Is(err, passkey.ErrInvalidName):
		h.fail(w, r, flow.Invalid("name", "name_length_invalid", "count", flow.MaxPasskeyName))
		return
	case errors.Is(err, store.ErrNotFound):
		problem.Send(w, http.StatusNotFound, "passkey-not-found", "No such passkey", "This account has no passkey with that id.")
		return
	case err != nil:
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, cred)
}

// DELETE /api/passkeys/{id} (bearer)
func (h *Handler) passkeyDelete(w http.ResponseWriter, r *http.Request) {
	if h.passkeysOff(w) {
		return
	}
	ident := h.freshIdentity(w, r)
	if ident == nil {
		return
	}
	err := h.Flows.RemovePasskey(r.Context(), h.client(r), ident, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		problem.Send(w, http.StatusNotFound, "passkey-not-found", "No such passkey", "This account has no passkey with that id.")
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
