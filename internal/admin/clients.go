package admin

import (
	"fmt"
	"net/http"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/store"
)

// ClientWithSecret is a client and, once, its secret: the body of
// POST /admin/clients.
type ClientWithSecret struct {
	*client.Client
	ClientSecret string `json:"client_secret,omitempty"`
}

// ClientList is the body of GET /admin/clients.
type ClientList struct {
	Clients []*client.Client `json:"clients"`
}

// GET /admin/clients: the domain's clients, oldest first.
func (h *Handler) listClients(w http.ResponseWriter, r *http.Request) {
	list, err := h.Clients.List(r.Context(), h.Domain)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ClientList{Clients: list})
}

// POST /admin/clients: register a client; the answer carries its secret,
// which is not stored and cannot be shown again.
func (h *Handler) createClient(w http.ResponseWriter, r *http.Request) {
	var spec client.Spec
	if !h.decode(w, r, &spec) {
		return
	}
	c, secret, err := h.Clients.Create(r.Context(), h.Domain, spec)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.logger().InfoContext(r.Context(), "admin: client created", "event", "admin.client_created",
		"domain", c.Domain, "client_id", c.ID, "remote_addr", r.RemoteAddr)
	w.Header().Set("Location", "/admin/clients/"+c.ID)
	writeJSON(w, http.StatusCreated, ClientWithSecret{Client: c, ClientSecret: secret})
}

// load returns the client named by the path if it belongs to the
// handler's domain; other domains' clients do not exist here.
func (h *Handler) load(w http.ResponseWriter, r *http.Request) (*client.Client, bool) {
	c, err := h.Clients.Get(r.Context(), r.PathValue("id"))
	if err == nil && c.Domain != h.Domain {
		err = fmt.Errorf("admin: client %s is in domain %s: %w", c.ID, c.Domain, store.ErrNotFound)
	}
	if err != nil {
		h.fail(w, r, err)
		return nil, false
	}
	return c, true
}

// GET /admin/clients/{id}
func (h *Handler) getClient(w http.ResponseWriter, r *http.Request) {
	if c, ok := h.load(w, r); ok {
		writeJSON(w, http.StatusOK, c)
	}
}

// PATCH /admin/clients/{id}: change the fields given, keep the others.
func (h *Handler) updateClient(w http.ResponseWriter, r *http.Request) {
	var spec client.Spec
	if !h.decode(w, r, &spec) {
		return
	}
	if _, ok := h.load(w, r); !ok {
		return
	}
	c, err := h.Clients.Update(r.Context(), r.PathValue("id"), spec)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.logger().InfoContext(r.Context(), "admin: client updated", "event", "admin.client_updated",
		"domain", c.Domain, "client_id", c.ID, "remote_addr", r.RemoteAddr)
	writeJSON(w, http.StatusOK, c)
}

// DELETE /admin/clients/{id}: remove the client and revoke its tokens.
func (h *Handler) deleteClient(w http.ResponseWriter, r *http.Request) {
	c, ok := h.load(w, r)
	if !ok {
		return
	}
	if err := h.Clients.Delete(r.Context(), c.ID); err != nil {
		h.fail(w, r, err)
		return
	}
	h.logger().InfoContext(r.Context(), "admin: client deleted", "event", "admin.client_deleted",
		"domain", c.Domain, "client_id", c.ID, "remote_addr", r.RemoteAddr)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}
