package api

import (
	"errors"
	"net/http"

	"github.com/foyer-id/foyer/internal/flow"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/problem"
)

// The authenticator app (TOTP) and recovery codes for native apps: the
// same flow.Service methods as the hosted pages at /account/two-factor.
// Every change needs a fresh session (fresh), like passkeys.

// TOTPSetup is the answer of POST /api/totp: what the customer scans or
// types into their authenticator app.
type TOTPSetup struct {
	Secret string `json:"secret"` // base32, for manual entry
	URI    string `json:"uri"`    // otpauth:// key URI
	QRPNG  []byte `json:"qr_png"` // a PNG of URI as a QR code (base64 in JSON)
}

// RecoveryCodes is the answer that carries a new set of recovery codes,
// shown once.
type RecoveryCodes struct {
	RecoveryCodes []string `json:"recovery_codes"`
}

// TOTPStatus is the answer of GET /api/totp.
type TOTPStatus struct {
	Enrolled               bool `json:"enrolled"`
	RecoveryCodesRemaining int  `json:"recovery_codes_remaining"`
}

// factorFail answers the authenticator-app errors of flow, and others as
// fail does.
func (h *Handler) factorFail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, flow.ErrTOTPOff):
		problem.Send(w, http.StatusForbidden, "totp-off", "Authenticator apps are not offered", "This service does not offer setting up an authenticator app.")
	case errors.Is(err, flow.ErrTOTPEnrolled):
		problem.Send(w, http.StatusConflict, "totp-enrolled", "An authenticator app is already set up", "Remove it with DELETE /api/totp before setting up another.")
	case errors.Is(err, flow.ErrTOTPNotEnrolled):
		problem.Send(w, http.StatusConflict, "totp-not-enrolled", "No second factor is set up", "Recovery codes stand in for a second factor: set up an authenticator app (POST /api/totp) or add a passkey first.")
	case errors.Is(err, flow.ErrTOTPNotPending):
		problem.Send(w, http.StatusConflict, "totp-not-started", "No set-up to confirm", "Start setting up an authenticator app with POST /api/totp.")
	default:
		h.fail(w, r, err)
	}
}

// freshIdentity is fresh, and the identity behind the session.
func (h *Handler) freshIdentity(w http.ResponseWriter, r *http.Request) *identity.Identity {
	s := h.fresh(w, r)
	if s == nil {
		return nil
	}
	ident, err := h.Identities.Get(r.Context(), s.Domain, s.IdentityID)
	if err != nil {
		h.fail(w, r, err)
		return nil
	}
	return ident
}

// GET /api/totp (bearer)
func (h *Handler) totpStatus(w http.ResponseWriter, r *http.Request) {
	s, _ := h.authed(w, r)
	if s == nil {
		return
	}
	st, err := h.Flows.TOTPState(r.Context(), s.IdentityID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, TOTPStatus{Enrolled: st.Enrolled, RecoveryCodesRemaining: st.RecoveryCodesRemaining})
}

// POST /api/totp (bearer): start setting up an authenticator app, or see
// the set-up begun earlier again.
func (h *Handler) totpBegin(w http.ResponseWriter, r *http.Request) {
	var body struct{}
	if !h.decode(w, r, &body) {
		return
	}
	ident := h.freshIdentity(w, r)
	if ident == nil {
		return
	}
	e, err := h.Flows.BeginTOTP(r.Context(), ident)
	if err != nil {
		h.factorFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, TOTPSetup{Secret: e.Secret, URI: e.URL, QRPNG: e.QRPNG})
}

// POST /api/totp/confirm (bearer): the first code turns the app on; the
// answer carries the recovery codes, once.
func (h *Handler) totpConfirm(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Code string `json:"code"`
	}
	if !h.decode(w, r, &req) {
		return
	}
	ident := h.freshIdentity(w, r)
	if ident == nil {
		return
	}
	codes, err := h.Flows.ConfirmTOTP(r.Context(), h.client(r), ident, req.Code)
	if err != nil {
		h.factorFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, RecoveryCodes{RecoveryCodes: codes})
}

// DELETE /api/totp (bearer): turn the app off and delete the recovery
// codes; refused (409) while it is the only second factor.
func (h *Handler) totpRemove(w http.ResponseWriter, r *http.Request) {
	ident := h.freshIdentity(w, r)
	if ident == nil {
		return
	}
	if err := h.Flows.RemoveTOTP(r.Context(), h.client(r), ident); err != nil {
		h.factorFail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// POST /api/recovery-codes (bearer): a new set; the old one stops working.
func (h *Handler) recoveryCodesRegenerate(w http.ResponseWriter, r *http.Request) {
	var body struct{}
	if !h.decode(w, r, &body) {
		return
	}
	ident := h.freshIdentity(w, r)
	if ident == nil {
		return
	}
	codes, err := h.Flows.RegenerateRecoveryCodes(r.Context(), h.client(r), ident)
	if err != nil {
		h.factorFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, RecoveryCodes{RecoveryCodes: codes})
}
