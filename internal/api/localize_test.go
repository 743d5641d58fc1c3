package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/foyer-id/foyer/internal/flow"
	"github.com/foyer-id/foyer/internal/i18n"
)

func dutchHandler(t *testing.T) *Handler {
	t.Helper()
	dir := t.TempDir()
	nl := `{
		"code_sent": "We hebben een code van 6 cijfers gestuurd naar {email}.",
		"last_second_factor": "Dit is je enige tweede factor."
	}`
	if err := os.WriteFile(filepath.Join(dir, "nl.json"), []byte(nl), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := i18n.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &Handler{Catalog: c, DefaultLanguage: i18n.Default}
}

// A message is reworded from its id and args; one whose args lack a
// placeholder of its text (a flow stored before messages had args) or
// whose id the catalogue lacks keeps its English text, and the messages
// given are not changed.
func TestLocalize(t *testing.T) {
	h := dutchHandler(t)
	r := httptest.NewRequest("GET", "/api/flows/x?ui_locales=nl", nil)
	w := httptest.NewRecorder()
	msgs := []flow.Message{
		flow.InfoMessage("code_sent", "email", "ann@example.com"),
		{ID: "code_sent", Type: "info", Text: "We sent a 6-digit code to ann@example.com. Enter it to finish signing up."},
		{ID: "no_such_message", Type: "info", Text: "As it was."},
	}
	got := h.localize(w, r, msgs)
	if got[0].Text != "We hebben een code van 6 cijfers gestuurd naar ann@example.com." || got[0].Args["email"] != "ann@example.com" {
		t.Errorf("with args: %+v", got[0])
	}
	if got[1].Text != msgs[1].Text || got[2].Text != "As it was." {
		t.Errorf("kept: %+v", got[1:])
	}
	if msgs[0].Text != "We sent a 6-digit code to ann@example.com. Enter it to finish signing up." {
		t.Errorf("the messages given changed: %+v", msgs[0])
	}
	if cl := w.Header().Get("Content-Language"); cl != "nl" {
		t.Errorf("Content-Language %q", cl)
	}

	// Without a catalogue, the messages' own English.
	w = httptest.NewRecorder()
	if got := (&Handler{}).localize(w, r, msgs); got[0].Text != msgs[0].Text || w.Header().Get("Content-Language") != "en" {
		t.Errorf("without a catalogue: %+v, %q", got[0], w.Header().Get("Content-Language"))
	}
}

// A refused change's problem says why in the customer's language, in its
// detail and its errors.
func TestRefusalLocalized(t *testing.T) {
	h := dutchHandler(t)
	r := httptest.NewRequest("DELETE", "/api/totp", nil)
	r.Header.Set("Accept-Language", "nl")
	w := httptest.NewRecorder()
	h.fail(w, r, &flow.RefusedError{Message: flow.ErrorMessage("", "last_second_factor")})
	var p Problem
	if err := json.NewDecoder(w.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusConflict || p.Detail != "Dit is je enige tweede factor." || len(p.Errors) != 1 ||
		p.Errors[0].ID != "last_second_factor" || p.Errors[0].Text != p.Detail || w.Header().Get("Content-Language") != "nl" {
		t.Errorf("%d %+v", w.Code, p)
	}
}
