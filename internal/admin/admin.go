package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"github.com/foyer-id/foyer/internal/decision"
	"log/slog"
	"net/http"
	"strings"

	"github.com/foyer-id/foyer/internal/policy/rules"
	"github.com/foyer-id/foyer/internal/problem"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/store"
)

// OpenAPI is the admin API description.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Handler serves the admin API of one policy domain.
type Handler struct {
	Clients *client.Registry
	// Decisions is where the policy's decisions are recorded.
	Decisions *decision.Log
	// Identities are the domain's customers, and Events where what the
	// operator does to them is recorded.
	Identities *identity.Store
	Events     *event.Log
	// Policy is the policy in force, Shadow the candidate beside it (nil
	// for none): what /admin/policies shows and reloads.
	Policy, Shadow *rules.Live
	Domain         string
	// Token is the admin bearer token (admin.token, FOYER_ADMIN_TOKEN).
	// Empty turns the admin API off: every route answers 404.
	Token        string
	Logger       *slog.Logger
	MaxBodyBytes int64 // default 64 KiB
}

// Routes lists every route the handler mounts, for the OpenAPI sync test.
var Routes = []string{
	"GET /admin/openapi.yaml",
	"GET /admin/clients",
	"POST /admin/clients",
	"GET /admin/clients/{id}",
	"PATCH /admin/clients/{id}",
	"DELETE /admin/clients/{id}",
	"POST /admin/clients/{id}/secret",
	"GET /admin/decisions",
	"POST /admin/identities/{id}/release",
	"GET /admin/policies",
	"POST /admin/policies/reload",
}

// Mount registers the admin API on mux. Without a token the API is off:
// every /admin/ path, whatever the method, answers like one that does not
// exist (no 405 with an Allow header that would give the routes away).
func (h *Handler) Mount(mux *http.ServeMux) {
	if h.Token == "" {
		mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			problem.NotFound(w)
		})
		return
	}
	handlers := map[string]http.HandlerFunc{
		"GET /admin/openapi.yaml":             h.openapi,
		"GET /admin/clients":                  h.listClients,
		"POST /admin/clients":                 h.createClient,
		"GET /admin/clients/{id}":             h.getClient,
		"PATCH /admin/clients/{id}":           h.updateClient,
		"DELETE /admin/clients/{id}":          h.deleteClient,
		"POST /admin/clients/{id}/secret":     h.rotateSecret,
		"GET /admin/decisions":                h.listDecisions,
		"POST /admin/identities/{id}/release": h.releaseIdentity,
		"GET /admin/policies":                 h.getPolicies,
		"POST /admin/policies/reload":         h.reloadPolicies,
	}
	for _, route := range Routes {
		next := handlers[route]
		public := route == "GET /admin/openapi.yaml" // documentation only
		mux.HandleFunc(route, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			if !public && !h.authorized(w, r) {
				return
			}
			next(w, r)
		})
	}
}

// authorized checks the bearer token, comparing SHA-256 digests in
// constant time (so neither content nor length leaks), and answers 401
// when it is missing or wrong.
func (h *Handler) authorized(w http.ResponseWriter, r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if ok && strings.EqualFold(scheme, "Bearer") {
		got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		want := sha256.Sum256([]byte(h.Token))
		if subtle.ConstantTimeCompare(got[:], want[:]) == 1 {
			return true
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="foyer-admin", error="invalid_token"`)
		h.logger().WarnContext(r.Context(), "admin: wrong token", "event", "admin.unauthorized", "reason", "invalid_token",
			"remote_addr", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
	} else {
		w.Header().Set("WWW-Authenticate", `Bearer realm="foyer-admin"`)
	}
	problem.Send(w, http.StatusUnauthorized, "unauthenticated", "Admin token required",
		"Send the admin token as Authorization: Bearer <token>.")
	return false
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.Default()
	}
	return h.Logger
}

// Problem is an RFC 9457 problem details object.
type Problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError names an invalid input field and what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeProblem(w http.ResponseWriter, p Problem) { problem.Write(w, p.Status, p) }

// fail maps registry errors to problems. Internal details go to the log.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var inv *client.ValidationError
	switch {
	case errors.As(err, &inv):
		writeProblem(w, Problem{Type: "https://foyer.dev/problems/invalid-input", Title: "The input is not valid",
			Status: http.StatusBadRequest, Detail: inv.Error(), Errors: []FieldError{{Field: inv.Field, Message: inv.Message}}})
	case errors.Is(err, store.ErrNotFound):
		problem.Send(w, http.StatusNotFound, "client-not-found", "No such client", "No client has this id in this domain.")
	case errors.Is(err, client.ErrNoSecret):
		problem.Send(w, http.StatusConflict, "client-has-no-secret", "The client has no secret",
			"Public and private_key_jwt clients do not authenticate with a secret; change auth_method first.")
	case errors.Is(err, store.ErrConflict):
		problem.Send(w, http.StatusConflict, "conflict", "Conflict", "The client was changed at the same time; try again.")
	case errors.Is(err, context.Canceled) || errors.Is(r.Context().Err(), context.Canceled):
		h.logger().DebugContext(r.Context(), "admin: client gone", "path", r.URL.Path, "error", err)
	case store.Unavailable(err):
		h.logger().WarnContext(r.Context(), "admin: database unavailable", "method", r.Method, "path", r.URL.Path, "error", err)
		problem.Unavailable(w)
	default:
		h.logger().ErrorContext(r.Context(), "admin: request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		problem.Send(w, http.StatusInternalServerError, "internal", "Internal error", "Something went wrong on our side.")
	}
}

// decode reads a JSON object body strictly (see problem.DecodeJSON); PATCH
// bodies may also say application/merge-patch+json.
func (h *Handler) decode(w http.ResponseWriter, r *http.Request, dst any) bool {
	return problem.DecodeJSON(w, r, dst, h.MaxBodyBytes, "application/merge-patch+json")
}

// GET /admin/openapi.yaml: the API description (no token needed).
func (h *Handler) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(OpenAPI)
}
