package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/foyer-id/foyer/internal/flow"
	"github.com/foyer-id/foyer/internal/problem"
	"github.com/foyer-id/foyer/internal/session"
)

// start returns a handler creating a flow of one type.
func (h *Handler) start(typ string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct{}
		if !h.decode(w, r, &body) {
			return
		}
		f, err := h.Flows.Start(r.Context(), typ, h.client(r), "")
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.respond(w, r, http.StatusCreated, &flow.Result{Flow: f})
	}
}

func (h *Handler) load(w http.ResponseWriter, r *http.Request, typ string) *flow.Flow {
	f, err := h.Flows.Load(r.Context(), r.PathValue("id"), typ, h.client(r))
	if err != nil {
		h.fail(w, r, err)
		return nil
	}
	return f
}

// loadAny loads an API flow of any type.
func (h *Handler) loadAny(w http.ResponseWriter, r *http.Request) *flow.Flow {
	f, err := h.Flows.Flows.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return nil
	}
	return h.load(w, r, f.Type)
}

// RegistrationRequest is the body of POST /api/registration/{id}.
type RegistrationRequest struct {
	Traits map[string]json.RawMessage `json:"traits"`
	// Method is "password" (the default) or "passkey": sign up without a
	// password, then create a passkey once the email is verified.
	Method   string `json:"method"`
	Password string `json:"password"`
}

func (h *Handler) submitRegistration(w http.ResponseWriter, r *http.Request) {
	var req RegistrationRequest
	if !h.decode(w, r, &req) {
		return
	}
	f := h.load(w, r, flow.TypeRegistration)
	if f == nil {
		return
	}
	if f.State == flow.StatePasskey { // a password instead of the passkey
		res, err := h.Flows.ChoosePassword(r.Context(), f, h.client(r), req.Password)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.respond(w, r, http.StatusOK, res)
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
	res, err := h.Flows.SubmitRegistration(r.Context(), f, h.client(r), flow.RegistrationInput{Traits: traits, Method: req.Method, Password: req.Password})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, r, http.StatusOK, res)
}

// LoginRequest is the body of POST /api/login/{id}.
type LoginRequest struct {
	Identifier string `json:"identifier"`
	Password   string `json:"password"`
	// Method is "password" (the default) or "code": mail a one-time
	// sign-in code instead (the flow then waits for it at
	// POST /api/flows/{id}/code); or "provider": sign in with IDToken, an
	// ID token of Provider obtained by the app (its nonce the flow's id).
	Method   string `json:"method"`
	Provider string `json:"provider,omitempty"`
	IDToken  string `json:"id_token,omitempty"`
	// Link answers a flow in state confirm_link: link the provider's
	// account to the account just proved (true), or only sign in.
	Link *bool `json:"link,omitempty"`
}

func (h *Handler) submitLogin(w http.ResponseWriter, r *http.Request) {
	var req LoginRequest
	if !h.decode(w, r, &req) {
		return
	}
	f := h.load(w, r, flow.TypeLogin)
	if f == nil {
		return
	}
	var res *flow.Result
	var err error
	switch {
	case f.State == flow.StatePassword: // the password was breached: a new one
		res, err = h.Flows.SubmitNewPassword(r.Context(), f, h.client(r), req.Password)
	case f.State == flow.StateConfirmLink:
		if req.Link == nil {
			err = flow.Invalid("link", "link_required")
			break
		}
		res, err = h.Flows.ConfirmLink(r.Context(), f, h.client(r), *req.Link)
	default:
		res, err = h.submitLoginForm(r, f, req)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, r, http.StatusOK, res)
}

// submitLoginForm is the first step of a sign-in: a password, or a code
// by email.
func (h *Handler) submitLoginForm(r *http.Request, f *flow.Flow, req LoginRequest) (*flow.Result, error) {
	switch req.Method {
	case "", "password":
		return h.Flows.SubmitLogin(r.Context(), f, h.client(r), flow.LoginInput{Identifier: req.Identifier, Password: req.Password})
	case flow.MethodCode:
		return h.Flows.RequestLoginCode(r.Context(), f, h.client(r), req.Identifier)
	case flow.MethodProvider:
		// An ID token from the provider's own SDK, its nonce the flow's id.
		res, err := h.Flows.SignInWithIDToken(r.Context(), f, h.client(r), req.Provider, req.IDToken)
		if err != nil {
			return nil, err
		}
		return &res.Result, nil
	}
	return nil, flow.Invalid("method", "login_method_invalid")
}

func (h *Handler) startVerification(w http.ResponseWriter, r *http.Request) {
	var body struct{}
	if !h.decode(w, r, &body) {
		return
	}
	f, err := h.Flows.Start(r.Context(), flow.TypeVerification, h.client(r), "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, r, http.StatusCreated, &flow.Result{Flow: f})
}

// VerificationRequest is the body of POST /api/verification/{id}.
type VerificationRequest struct {
	Email string `json:"email"`
	// Password finishes, in state password, the sign-up whose code the
	// flow proved.
	Password string `json:"password"`
}

func (h *Handler) submitVerification(w http.ResponseWriter, r *http.Request) {
	var req VerificationRequest
	if !h.decode(w, r, &req) {
		return
	}
	f := h.load(w, r, flow.TypeVerification)
	if f == nil {
		return
	}
	// A token is optional here (it names the address to verify), but one
	// that is sent must be good.
	sess, tok := h.bearer(r)
	if sess == nil && tok != "" {
		unauthenticated(w, true, "The session token is not valid; send a live one or none.")
		return
	}
	var res *flow.Result
	var err error
	if f.State == flow.StatePassword {
		res, err = h.Flows.FinishSignUp(r.Context(), f, h.client(r), req.Password)
	} else {
		res, err = h.Flows.SubmitVerificationEmail(r.Context(), f, h.client(r), req.Email, sess)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, r, http.StatusOK, res)
}

func (h *Handler) getFlow(w http.ResponseWriter, r *http.Request) {
	if f := h.loadAny(w, r); f != nil {
		h.Flows.NoteDelivery(r.Context(), f) // a code that will not arrive says so
		h.respond(w, r, http.StatusOK, &flow.Result{Flow: f})
	}
}

// CodeRequest is the body of POST /api/flows/{id}/code.
type CodeRequest struct {
	Code string `json:"code"`
}

func (h *Handler) submitCode(w http.ResponseWriter, r *http.Request) {
	var req CodeRequest
	if !h.decode(w, r, &req) {
		return
	}
	f := h.loadAny(w, r)
	if f == nil {
		return
	}
	res, err := h.Flows.SubmitCode(r.Context(), f, h.client(r), req.Code)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, r, http.StatusOK, res)
}

func (h *Handler) resend(w http.ResponseWriter, r *http.Request) {
	var body struct{}
	if !h.decode(w, r, &body) {
		return
	}
	f := h.loadAny(w, r)
	if f == nil {
		return
	}
	f, err := h.Flows.Resend(r.Context(), f, h.client(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, r, http.StatusOK, &flow.Result{Flow: f})
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	sess, tok := h.authed(w, r)
	if sess == nil {
		return
	}
	if err := h.Flows.Logout(r.Context(), tok, h.client(r)); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// SecondFactorRequest is the body of POST /api/flows/{id}/second-factor
// and POST /api/sessions/step-up.
type SecondFactorRequest struct {
	Kind string `json:"kind"` // "totp" or "recovery_code"
	Code string `json:"code"`
}

func (h *Handler) submitSecondFactor(w http.ResponseWriter, r *http.Request) {
	var req SecondFactorRequest
	if !h.decode(w, r, &req) {
		return
	}
	f := h.loadAny(w, r)
	if f == nil {
		return
	}
	res, err := h.Flows.SubmitSecondFactor(r.Context(), f, h.client(r), req.Kind, req.Code)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, r, http.StatusOK, res)
}

// StepUpResponse is the body of POST /api/sessions/step-up: the session's
// new token (the old one stopped working) and the session at AAL2.
type StepUpResponse struct {
	SessionToken string           `json:"session_token"`
	Session      *session.Session `json:"session"`
}

func (h *Handler) stepUp(w http.ResponseWriter, r *http.Request) {
	var req SecondFactorRequest
	if !h.decode(w, r, &req) {
		return
	}
	_, tok := h.bearer(r)
	if tok == "" {
		unauthenticated(w, false, "Send the session token as Authorization: Bearer <token>.")
		return
	}
	newToken, s, err := h.Flows.StepUp(r.Context(), h.client(r), tok, req.Kind, req.Code)
	if errors.Is(err, flow.ErrNoSession) {
		unauthenticated(w, true, "The session is unknown, expired or revoked.")
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, StepUpResponse{SessionToken: newToken, Session: s})
}
