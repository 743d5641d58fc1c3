package ui

import (
	"encoding/json"
	"net/http"
)

// GET /challenge: a new proof-of-work challenge for the browser's network,
// for a page whose challenge expired before its form was sent
// (assets/challenge.js asks). Making one stores nothing.
func (p *Pages) freshChallenge(w http.ResponseWriter, r *http.Request) {
	ch, err := p.Flows.FreshChallenge(r.Context(), p.client(w, r))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if ch == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	_ = json.NewEncoder(w).Encode(ch)
}
