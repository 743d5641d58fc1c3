package api

import (
	"net/http"

	"github.com/foyer-id/foyer/internal/flow"
)

// RecoveryRequest is the body of POST /api/recovery/{id}. On the first
// step send the email, alone (a code is mailed) or with one of the
// account's recovery codes, or the phone number (a code goes by text
// message); once the flow is in state "password", send the new password.
type RecoveryRequest struct {
	Email        string `json:"email"`
	Phone        string `json:"phone"`
	RecoveryCode string `json:"recovery_code"`
	Password     string `json:"password"`
}

func (h *Handler) submitRecovery(w http.ResponseWriter, r *http.Request) {
	var req RecoveryRequest
	if !h.decode(w, r, &req) {
		return
	}
	f := h.load(w, r, flow.TypeRecovery)
	if f == nil {
		return
	}
	var (
		res *flow.Result
		err error
	)
	switch {
	case f.State == flow.StatePassword:
		res, err = h.Flows.SubmitRecoveryPassword(r.Context(), f, h.client(r), req.Password)
	case req.Phone != "":
		res, err = h.Flows.SubmitRecoveryPhone(r.Context(), f, h.client(r), req.Phone)
	case req.RecoveryCode != "":
		res, err = h.Flows.SubmitRecoveryCode(r.Context(), f, h.client(r), req.Email, req.RecoveryCode)
	default:
		res, err = h.Flows.SubmitRecoveryEmail(r.Context(), f, h.client(r), req.Email)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, r, http.StatusOK, res)
}
