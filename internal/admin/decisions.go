package admin

import (
	"net/http"
	"strconv"
	"time"

	"github.com/foyer-id/foyer/internal/decision"
	"github.com/foyer-id/foyer/internal/policy"
)

// DecisionList is a page of decision records. Next, when set, is the
// query string of the page after it.
type DecisionList struct {
	Decisions []decision.Record `json:"decisions"`
	Next      string            `json:"next,omitempty"`
}

// GET /admin/decisions: the domain's recorded decisions, oldest first,
// by time range, action, identity, flow and app, a page at a time.
func (h *Handler) listDecisions(w http.ResponseWriter, r *http.Request) {
	q, errs := decisionQuery(r)
	if len(errs) > 0 {
		writeProblem(w, Problem{Type: "https://foyer.dev/problems/invalid-input", Title: "The input is not valid",
			Status: http.StatusBadRequest, Detail: errs[0].Field + ": " + errs[0].Message, Errors: errs})
		return
	}
	q.Domain = h.Domain
	list, err := h.Decisions.List(r.Context(), q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := DecisionList{Decisions: list}
	if out.Decisions == nil {
		out.Decisions = []decision.Record{}
	}
	if len(list) == q.Limit {
		last := list[len(list)-1]
		next := r.URL.Query()
		next.Set("from", last.At.Format(time.RFC3339Nano))
		next.Set("after", strconv.FormatInt(last.Seq, 10))
		out.Next = next.Encode()
	}
	writeJSON(w, http.StatusOK, out)
}

// decisionQuery reads a listing's query parameters; each one that is not
// valid is named in the errors.
func decisionQuery(r *http.Request) (decision.Query, []FieldError) {
	v := r.URL.Query()
	q := decision.Query{Action: policy.Action(v.Get("action")), IdentityID: v.Get("identity_id"),
		FlowID: v.Get("flow_id"), ClientID: v.Get("client_id"), Limit: 100}
	var errs []FieldError
	times := map[string]*time.Time{"from": &q.From, "to": &q.To}
	for _, name := range []string{"from", "to"} {
		if s := v.Get(name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				errs = append(errs, FieldError{Field: name, Message: "must be a time in RFC 3339 form, such as 2026-12-05T10:00:00Z"})
			}
			*times[name] = t
		}
	}
	if s := v.Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			errs = append(errs, FieldError{Field: "after", Message: "must be a record's seq"})
		}
		q.After = n
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > decision.MaxList {
			errs = append(errs, FieldError{Field: "limit", Message: "must be a number from 1 to " + strconv.Itoa(decision.MaxList)})
		}
		q.Limit = n
	}
	return q, errs
}
