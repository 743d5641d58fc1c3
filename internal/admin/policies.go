package admin

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/foyer-id/foyer/internal/policy/rules"
	"github.com/foyer-id/foyer/internal/problem"
)

// PolicyStatus is a policy's file and the version in force.
type PolicyStatus struct {
	// File is the policy file, "" for the built-in policy.
	File    string   `json:"file"`
	Version string   `json:"version"`
	Rules   []string `json:"rules,omitempty"`
}

// PoliciesResponse is what GET /admin/policies and a reload answer.
type PoliciesResponse struct {
	Policy PolicyStatus  `json:"policy"`
	Shadow *PolicyStatus `json:"shadow,omitempty"`
}

func status(l *rules.Live) PolicyStatus {
	if l == nil {
		return PolicyStatus{Version: "builtin"}
	}
	s := PolicyStatus{File: l.Path, Version: l.Version()}
	if f := l.File(); f != nil {
		s.Rules = f.Rules()
	}
	return s
}

func (h *Handler) policies() PoliciesResponse {
	out := PoliciesResponse{Policy: status(h.Policy)}
	if h.Shadow != nil {
		s := status(h.Shadow)
		out.Shadow = &s
	}
	return out
}

// GET /admin/policies: the policy in force and the shadow policy, with
// their versions.
func (h *Handler) getPolicies(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.policies())
}

// POST /admin/policies/reload: read the policy files again now. A file
// with faults is refused with each of them (FILE:LINE:COL: message), and
// the policy running stays in force.
func (h *Handler) reloadPolicies(w http.ResponseWriter, r *http.Request) {
	var faults []FieldError
	for _, p := range []struct {
		key  string
		live *rules.Live
	}{{"policy.file", h.Policy}, {"policy.shadow", h.Shadow}} {
		key, l := p.key, p.live
		if l == nil {
			continue
		}
		if _, err := l.Reload(); err != nil {
			var es rules.Errors
			if errors.As(err, &es) {
				for _, e := range es {
					faults = append(faults, FieldError{Field: key, Message: e.Error()})
				}
			} else {
				faults = append(faults, FieldError{Field: key, Message: err.Error()})
			}
			h.logger().WarnContext(r.Context(), "admin: policy file refused", "event", "policy.refused", "file", l.Path, "error", err.Error())
		}
	}
	if len(faults) > 0 {
		// Each file stands alone: one with faults stays as it was, the
		// other may have been reloaded.
		var bad []string
		for _, f := range faults {
			if !slices.Contains(bad, f.Field) {
				bad = append(bad, f.Field)
			}
		}
		writeProblem(w, Problem{Type: problem.TypeBase + "policy-invalid", Title: "The policy file has faults",
			Status: http.StatusUnprocessableEntity, Errors: faults,
			Detail: "Not reloaded, its version in force unchanged: " + strings.Join(bad, ", ") + ". GET /admin/policies shows the versions in force."})
		return
	}
	writeJSON(w, http.StatusOK, h.policies())
}
