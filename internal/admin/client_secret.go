package admin

import "net/http"

// SecretResponse is the body of POST /admin/clients/{id}/secret.
type SecretResponse struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// POST /admin/clients/{id}/secret: replace the client's secret. The old
// secret stops working at once; the new one is shown only in this answer.
func (h *Handler) rotateSecret(w http.ResponseWriter, r *http.Request) {
	c, ok := h.load(w, r)
	if !ok {
		return
	}
	secret, err := h.Clients.RotateSecret(r.Context(), c.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.logger().InfoContext(r.Context(), "admin: client secret rotated", "event", "admin.client_secret_rotated",
		"domain", c.Domain, "client_id", c.ID, "remote_addr", r.RemoteAddr)
	writeJSON(w, http.StatusOK, SecretResponse{ClientID: c.ID, ClientSecret: secret})
}
