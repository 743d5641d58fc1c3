package api

import (
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/foyer-id/foyer/internal/challenge"
	"github.com/foyer-id/foyer/internal/credential/passkey"
	"github.com/foyer-id/foyer/internal/flow"
	"github.com/foyer-id/foyer/internal/i18n"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/problem"
	"github.com/foyer-id/foyer/internal/risk"
	"github.com/foyer-id/foyer/internal/session"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/ui"
	"golang.org/x/text/language"
)

// OpenAPI is the API description.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Handler serves the JSON API of one policy domain.
type Handler struct {
	Flows        *flow.Service
	Sessions     *session.Manager
	Identities   *identity.Store
	Domain       string
	CookieName   string // the session cookie, accepted by whoami only
	Logger       *slog.Logger
	MaxBodyBytes int64
	// Passkeys is nil when passkeys are off.
	Passkeys *passkey.Service
	// Proofs checks the device proofs (DPoP header) native apps send;
	// PublicURL is the base of the URLs they sign (htu).
	Proofs    *risk.DeviceProofs
	PublicURL string
	// Catalog words the messages of answers in the customer's language
	// (see localize), DefaultLanguage when the request says nothing the
	// catalogue has. Without a catalogue they are in English.
	Catalog         *i18n.Catalog
	DefaultLanguage language.Tag
}

// Routes lists every route the handler mounts, for the OpenAPI sync test.
var Routes = []string{
	"GET /sessions/whoami",
	"GET /api/openapi.yaml",
	"POST /api/registration",
	"POST /api/registration/{id}",
	"POST /api/registration/{id}/passkey/options",
	"POST /api/registration/{id}/passkey",
	"POST /api/login",
	"POST /api/login/{id}",
	"POST /api/recovery",
	"POST /api/recovery/{id}",
	"POST /api/verification",
	"POST /api/verification/{id}",
	"GET /api/flows/{id}",
	"POST /api/flows/{id}/code",
	"POST /api/flows/{id}/resend",
	"POST /api/flows/{id}/second-factor",
	"POST /api/sessions/step-up",
	"POST /api/passkeys/login/options",
	"POST /api/passkeys/login",
	"POST /api/passkeys/options",
	"POST /api/passkeys",
	"GET /api/passkeys",
	"PATCH /api/passkeys/{id}",
	"DELETE /api/passkeys/{id}",
	"GET /api/totp",
	"POST /api/totp",
	"POST /api/totp/confirm",
	"DELETE /api/totp",
	"POST /api/recovery-codes",
	"POST /api/settings/password",
	"PATCH /api/settings/traits",
	"POST /api/settings/email",
	"POST /api/settings/phone",
	"GET /api/sessions",
	"GET /api/activity",
	"DELETE /api/sessions",
	"DELETE /api/sessions/{id}",
	"POST /api/logout",
	"GET /api/providers",
	"GET /api/account/providers",
	"DELETE /api/account/providers/{provider}",
}

// Mount registers the API on mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	handlers := map[string]http.HandlerFunc{
		"GET /sessions/whoami":                        h.whoami,
		"GET /api/openapi.yaml":                       h.openapi,
		"POST /api/registration":                      h.start(flow.TypeRegistration),
		"POST /api/registration/{id}":                 h.submitRegistration,
		"POST /api/registration/{id}/passkey/options": h.passkeySignUpOptions,
		"POST /api/registration/{id}/passkey":         h.passkeySignUp,
		"POST /api/login":                             h.start(flow.TypeLogin),
		"POST /api/login/{id}":                        h.submitLogin,
		"POST /api/recovery":                          h.start(flow.TypeRecovery),
		"POST /api/recovery/{id}":                     h.submitRecovery,
		"POST /api/verification":                      h.startVerification,
		"POST /api/verification/{id}":                 h.submitVerification,
		"GET /api/flows/{id}":                         h.getFlow,
		"POST /api/flows/{id}/code":                   h.submitCode,
		"POST /api/flows/{id}/resend":                 h.resend,
		"POST /api/flows/{id}/second-factor":          h.submitSecondFactor,
		"POST /api/sessions/step-up":                  h.stepUp,
		"POST /api/passkeys/login/options":            h.passkeyLoginOptions,
		"POST /api/passkeys/login":                    h.passkeyLogin,
		"POST /api/passkeys/options":                  h.passkeyAddOptions,
		"POST /api/passkeys":                          h.passkeyAdd,
		"GET /api/passkeys":                           h.passkeyList,
		"PATCH /api/passkeys/{id}":                    h.passkeyRename,
		"DELETE /api/passkeys/{id}":                   h.passkeyDelete,
		"GET /api/totp":                               h.totpStatus,
		"POST /api/totp":                              h.totpBegin,
		"POST /api/totp/confirm":                      h.totpConfirm,
		"DELETE /api/totp":                            h.totpRemove,
		"POST /api/recovery-codes":                    h.recoveryCodesRegenerate,
		"POST /api/settings/password":                 h.changePassword,
		"PATCH /api/settings/traits":                  h.changeTraits,
		"POST /api/settings/email":                    h.changeEmail,
		"POST /api/settings/phone":                    h.changePhone,
		"GET /api/sessions":                           h.listSessions,
		"GET /api/activity":                           h.activity,
		"DELETE /api/sessions":                        h.revokeSessions,
		"DELETE /api/sessions/{id}":                   h.revokeSessions,
		"POST /api/logout":                            h.logout,
		"GET /api/providers":                          h.providerList,
		"GET /api/account/providers":                  h.linkList,
		"DELETE /api/account/providers/{provider}":    h.linkDelete,
	}
	for _, route := range Routes {
		mux.HandleFunc(route, h.fromDevice(handlers[route]))
	}
}

// deviceKey is the request context's key for a proven device id.
type deviceKey struct{}

// fromDevice checks the device proof a request carries (the DPoP header;
// see risk.DeviceProofs) before next runs, and hands next the proven
// device's id. A request with a proof that does not hold is refused with
// 400 and changes nothing; one without a proof goes on as it is.
func (h *Handler) fromDevice(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		proof := r.Header.Get("DPoP")
		if proof == "" || h.Proofs == nil {
			next(w, r)
			return
		}
		id, err := h.Proofs.Check(r.Context(), proof, r.Method, strings.TrimSuffix(h.PublicURL, "/")+r.URL.Path)
		if errors.Is(err, risk.ErrDeviceProof) {
			writeProblem(w, Problem{Type: problem.TypeBase + "invalid-device-proof", Title: "The device proof is not valid",
				Status: http.StatusBadRequest, Detail: err.Error()})
			return
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), deviceKey{}, id)))
	}
}

// Problem is an RFC 9457 problem details object.
type Problem struct {
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Status     int            `json:"status"`
	Detail     string         `json:"detail,omitempty"`
	Errors     []flow.Message `json:"errors,omitempty"`
	RetryAfter int            `json:"retry_after,omitempty"`
	// Challenge is the proof of work to solve before trying again
	// (challenge-required).
	Challenge *challenge.Challenge `json:"challenge,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeProblem(w http.ResponseWriter, p Problem) { problem.Write(w, p.Status, p) }

// fail maps journey errors to problems. Internal details go to the log.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var inv *flow.InvalidError
	var throttled *flow.ThrottledError
	var challenged *flow.ChallengeError
	var denied *flow.DeniedError
	var refused *flow.RefusedError
	var upstreamErr *flow.UpstreamError
	switch {
	case errors.As(err, &challenged):
		// Solve it and send the request again with the answer; or wait.
		secs := int(challenged.RetryAfter.Seconds()) + 1
		w.Header().Set("Retry-After", fmt.Sprint(secs))
		writeProblem(w, Problem{Type: problem.TypeBase + "challenge-required", Title: "Solve the challenge first", Status: http.StatusTooManyRequests,
			RetryAfter: secs, Challenge: &challenged.Challenge,
			Detail: "Many attempts came from this network. Solve the challenge and send the request again with X-Foyer-Challenge and X-Foyer-Challenge-Solution, or wait."})
	case errors.As(err, &inv):
		writeProblem(w, Problem{Type: problem.TypeBase + "invalid-input", Title: "The input is not valid", Status: http.StatusBadRequest,
			Errors: h.localize(w, r, inv.Messages)})
	case errors.As(err, &throttled):
		secs := int(throttled.RetryAfter.Seconds()) + 1
		w.Header().Set("Retry-After", fmt.Sprint(secs))
		writeProblem(w, Problem{Type: problem.TypeBase + "throttled", Title: "Too many attempts", Status: http.StatusTooManyRequests, RetryAfter: secs,
			Detail: "Wait before trying again."})
	case errors.As(err, &denied):
		problem.Send(w, http.StatusForbidden, "denied", "Not allowed", cmp.Or(denied.Message, "The policy does not allow this action."))
	case errors.As(err, &refused):
		msgs := h.localize(w, r, []flow.Message{refused.Message})
		writeProblem(w, Problem{Type: problem.TypeBase + "refused", Title: "Not changed", Status: http.StatusConflict,
			Detail: msgs[0].Text, Errors: msgs})
	case errors.As(err, &upstreamErr):
		status := http.StatusBadRequest
		if upstreamErr.Reason == "provider_unavailable" {
			status = http.StatusBadGateway
		}
		msgs := h.localize(w, r, []flow.Message{upstreamErr.Message()})
		writeProblem(w, Problem{Type: problem.TypeBase + "provider-failed", Title: "Signing in with the provider did not work", Status: status,
			Detail: msgs[0].Text, Errors: msgs})
	case errors.Is(err, flow.ErrNoProvider):
		problem.Send(w, http.StatusBadRequest, "provider-unknown", "No such provider", "The domain has no provider of that id (see GET /api/providers).")
	case errors.Is(err, flow.ErrNotFound), errors.Is(err, flow.ErrBinding):
		problem.Send(w, http.StatusNotFound, "flow-not-found", "No such flow", "Start a new flow.")
	case errors.Is(err, flow.ErrExpired):
		problem.Send(w, http.StatusGone, "flow-expired", "The flow expired", "Start a new flow.")
	case errors.Is(err, flow.ErrWrongState), errors.Is(err, flow.ErrChanged):
		problem.Send(w, http.StatusConflict, "flow-state", "The flow is not at this step", "Fetch the flow to see its current state.")
	case errors.Is(err, context.Canceled) || errors.Is(r.Context().Err(), context.Canceled):
		// The client went away: nobody reads the answer, and it is no fault.
		h.Logger.DebugContext(r.Context(), "api: client gone", "path", r.URL.Path, "error", err)
	case store.Unavailable(err):
		h.Logger.WarnContext(r.Context(), "api: database unavailable", "path", r.URL.Path, "error", err)
		problem.Unavailable(w)
	default:
		h.Logger.ErrorContext(r.Context(), "api: request failed", "path", r.URL.Path, "error", err)
		problem.Send(w, http.StatusInternalServerError, "internal", "Internal error", "Something went wrong on our side.")
	}
}

// decode reads a JSON object body strictly (see problem.DecodeJSON).
func (h *Handler) decode(w http.ResponseWriter, r *http.Request, dst any) bool {
	return problem.DecodeJSON(w, r, dst, h.MaxBodyBytes)
}

// client describes the request's client. Its device is the one a device
// proof proved (fromDevice), else the id in X-Foyer-Device.
func (h *Handler) client(r *http.Request) flow.Client {
	device, proven := r.Context().Value(deviceKey{}).(string)
	if !proven {
		device = deviceID(r.Header.Get("X-Foyer-Device"))
	}
	c := flow.Client{Channel: flow.ChannelAPI, IP: ui.ClientIP(r), UserAgent: r.UserAgent(), DeviceID: device,
		Proof: challenge.Proof{Token: r.Header.Get("X-Foyer-Challenge"), Solution: r.Header.Get("X-Foyer-Challenge-Solution")}}
	if loc := h.localizer(r); loc != nil {
		c.Lang = loc.Lang()
	}
	return c
}

// deviceID is the device id an app sends in X-Foyer-Device: a random
// value it keeps for the installation, of 22 to 128 characters of
// base64url (128 bits or more). Anything else is no device id: a
// guessable one would make any device "known".
func deviceID(v string) string {
	if len(v) < 22 || len(v) > 128 {
		return ""
	}
	for i := range len(v) {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return ""
		}
	}
	return v
}

// authed is bearer for endpoints that need a session: without one it
// answers 401 and returns nil.
func (h *Handler) authed(w http.ResponseWriter, r *http.Request) (*session.Session, string) {
	s, tok, err := h.authenticate(r)
	if store.Unavailable(err) {
		h.fail(w, r, err)
		return nil, ""
	}
	if s == nil {
		unauthenticated(w, tok != "", "Send the session token as Authorization: Bearer <token>.")
		return nil, ""
	}
	return s, tok
}

// unauthenticated answers 401 for a request without a live session, with
// its challenge: badToken says it sent a token, which is no good.
func unauthenticated(w http.ResponseWriter, badToken bool, detail string) {
	code := ""
	if badToken {
		code = "invalid_token"
	}
	wwwAuthenticate(w, code)
	problem.Send(w, http.StatusUnauthorized, "unauthenticated", "No valid session", detail)
}

// wwwAuthenticate sets the WWW-Authenticate header that every 401 carries (RFC
// 9110, section 11.6.1). errorCode, if any, says what was wrong with the
// token sent (RFC 6750, section 3.1; RFC 9470 for a sign-in too old).
func wwwAuthenticate(w http.ResponseWriter, errorCode string) {
	v := `Bearer realm="foyer"`
	if errorCode != "" {
		v += `, error="` + errorCode + `"`
	}
	w.Header().Set("WWW-Authenticate", v)
}

// bearer returns the live session named by the Authorization header.
func (h *Handler) bearer(r *http.Request) (*session.Session, string) {
	s, tok, _ := h.authenticate(r)
	return s, tok
}

// authenticate is bearer with the reason there is no session: the
// store's error when it could not tell.
func (h *Handler) authenticate(r *http.Request) (*session.Session, string, error) {
	h2 := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h2, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, "", nil
	}
	tok = strings.TrimSpace(tok)
	s, err := h.Sessions.Authenticate(r.Context(), tok)
	if err != nil {
		return nil, tok, err
	}
	return s, tok, nil
}

// FlowResponse is a flow and, when the journey signed in, the session.
type FlowResponse struct {
	Flow         flow.View          `json:"flow"`
	SessionToken string             `json:"session_token,omitempty"`
	Session      *session.Session   `json:"session,omitempty"`
	Identity     *identity.Identity `json:"identity,omitempty"`
	// RecoveryCodes, shown once: a passwordless sign-up's first second
	// factor (its passkey) comes with them.
	RecoveryCodes []string `json:"recovery_codes,omitempty"`
}

// respond answers with res, its flow's messages in the customer's
// language (localize).
func (h *Handler) respond(w http.ResponseWriter, r *http.Request, status int, res *flow.Result) {
	out := FlowResponse{Flow: res.Flow.View(), SessionToken: res.Token, Session: res.Session, Identity: res.Identity, RecoveryCodes: res.RecoveryCodes}
	out.Flow.Messages = h.localize(w, r, out.Flow.Messages)
	writeJSON(w, status, out)
}

// localizer is the request's language: the first of its ui_locales query
// parameter, its Accept-Language and the domain's default language that
// the catalogue has (i18n.Catalog.Choose); nil without a catalogue.
func (h *Handler) localizer(r *http.Request) *i18n.Localizer {
	if h.Catalog == nil {
		return nil
	}
	return h.Catalog.For(h.Catalog.Choose(r.URL.Query().Get("ui_locales"), "", r.Header.Get("Accept-Language"), h.DefaultLanguage))
}

// localize returns msgs worded in the request's language (localizer) and
// says the language in Content-Language. A message takes its text from
// the catalogue by its ID, with its Args; one the catalogue lacks, or
// whose Args lack a placeholder of its text (a flow stored before its
// messages had Args), keeps its English Text. msgs is left as it is (an
// error's messages may be shared).
func (h *Handler) localize(w http.ResponseWriter, r *http.Request, msgs []flow.Message) []flow.Message {
	loc := h.localizer(r)
	w.Header().Add("Vary", "Accept-Language")
	if loc == nil {
		w.Header().Set("Content-Language", i18n.Default.String()) // the messages' own English
		return msgs
	}
	w.Header().Set("Content-Language", loc.Lang())
	return flow.Localize(loc, msgs)
}

func (h *Handler) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(OpenAPI)
}
