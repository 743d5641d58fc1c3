package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/foyer-id/foyer/internal/problem"
	"github.com/foyer-id/foyer/internal/store"
)

// Upstream providers through the API: apps list the domain's providers
// (GET /api/providers), sign in with an ID token their platform's SDK
// obtained from one (POST /api/login/{id}, method "provider"), and a
// signed-in customer lists and unlinks their linked accounts.

// providerView is a provider as apps see it.
type providerView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Kind string `json:"kind"`
}

// GET /api/providers: the providers customers may sign in with.
func (h *Handler) providerList(w http.ResponseWriter, r *http.Request) {
	out := []providerView{}
	for _, p := range h.Flows.Providers() {
		out = append(out, providerView{ID: p.ID(), Name: p.Name(), Kind: p.Kind()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"providers": out})
}

// linkView is a linked account as the customer sees it.
type linkView struct {
	Provider   string    `json:"provider"`
	Name       string    `json:"name"`
	Email      string    `json:"email,omitempty"`
	LinkedAt   time.Time `json:"linked_at"`
	LastUsedAt time.Time `json:"last_used_at"`
}

// GET /api/account/providers (bearer): the customer's linked accounts.
func (h *Handler) linkList(w http.ResponseWriter, r *http.Request) {
	s, _ := h.authed(w, r)
	if s == nil {
		return
	}
	links, err := h.Flows.Links.List(r.Context(), s.IdentityID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := []linkView{}
	for _, l := range links {
		name := h.Flows.ProviderName(l.Provider)
		if name == "" {
			name = l.Provider
		}
		out = append(out, linkView{Provider: l.Provider, Name: name, Email: l.Email,
			LinkedAt: l.LinkedAt, LastUsedAt: l.LastUsedAt})
	}
	writeJSON(w, http.StatusOK, map[string]any{"providers": out})
}

// DELETE /api/account/providers/{provider} (bearer, fresh sign-in):
// unlink an account; never the account's last way to sign in.
func (h *Handler) linkDelete(w http.ResponseWriter, r *http.Request) {
	ident := h.freshIdentity(w, r)
	if ident == nil {
		return
	}
	err := h.Flows.Unlink(r.Context(), h.client(r), ident, r.PathValue("provider"))
	if errors.Is(err, store.ErrNotFound) {
		problem.Send(w, http.StatusNotFound, "provider-not-linked", "No such linked account", "This account has no account of that provider linked.")
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
