package admin

import (
	"net/http"

	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/problem"
)

// POST /admin/identities/{id}/release: an operator, having checked who
// the customer is, ends the account's protected state (after a "this
// wasn't me" link) and its cool-off after a recovery.
func (h *Handler) releaseIdentity(w http.ResponseWriter, r *http.Request) {
	if h.Identities == nil {
		problem.NotFound(w)
		return
	}
	ok, err := h.Identities.Release(r.Context(), h.Domain, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !ok {
		problem.Send(w, http.StatusNotFound, "identity-not-found", "No such identity", "No identity has this id in this domain.")
		return
	}
	if h.Events != nil {
		// In the account's security activity's log, like every change to it.
		_ = h.Events.Append(r.Context(), event.Event{Domain: h.Domain, Type: event.AccountReleased, Outcome: event.OutcomeSuccess,
			Reason: "operator", IdentityID: r.PathValue("id")})
	}
	w.WriteHeader(http.StatusNoContent)
}
