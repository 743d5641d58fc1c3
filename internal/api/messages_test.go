package api_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// call sends a JSON request to the API with the headers given as name,
// value pairs, and decodes the answer into out; it returns the answer.
func call(t *testing.T, env *servertest.Env, method, path string, body, out any, headers ...string) *http.Response {
	t.Helper()
	var b bytes.Buffer
	if body != nil {
		if err := json.NewEncoder(&b).Encode(body); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, env.URL+path, &b)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %d: %v", method, path, resp.StatusCode, err)
		}
	}
	return resp
}

// The API's messages come in English by default, and in the customer's
// language when the catalogue has it — here Dutch, which an operator's
// file adds (languages.dir) — chosen by ui_locales, then Accept-Language;
// their id and args are the same in every language.
func TestMessagesInCustomersLanguage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		dir := t.TempDir()
		nl := `{
			"code_sent": "We hebben een code van 6 cijfers gestuurd naar {email}. Vul hem in om je aanmelding af te ronden.",
			"email_invalid": "Vul een geldig e-mailadres in."
		}`
		if err := os.WriteFile(filepath.Join(dir, "nl.json"), []byte(nl), 0o600); err != nil {
			t.Fatal(err)
		}
		env := servertest.Start(t, db, func(c *config.Config) { c.Languages.Dir = dir })

		const email = "anneke@example.com"
		var start, submitted api.FlowResponse
		if r := call(t, env, "POST", "/api/registration", nil, &start); r.StatusCode != 201 {
			t.Fatalf("start: %d", r.StatusCode)
		}
		r := call(t, env, "POST", "/api/registration/"+start.Flow.ID, map[string]any{
			"traits": map[string]any{"email": email}, "password": "correct horse battery staple"}, &submitted)
		if r.StatusCode != 200 || len(submitted.Flow.Messages) != 1 {
			t.Fatalf("submit: %d %+v", r.StatusCode, submitted.Flow)
		}
		english := "We sent a 6-digit code to " + email + ". Enter it to finish signing up."
		dutch := "We hebben een code van 6 cijfers gestuurd naar " + email + ". Vul hem in om je aanmelding af te ronden."
		wantArgs := map[string]string{"email": email}
		m := submitted.Flow.Messages[0]
		if m.ID != "code_sent" || m.Text != english || !maps.Equal(m.Args, wantArgs) || r.Header.Get("Content-Language") != "en" {
			t.Fatalf("by default: %+v, Content-Language %q", m, r.Header.Get("Content-Language"))
		}

		for _, tc := range []struct {
			name, query string
			headers     []string
			lang, text  string
		}{
			{"Accept-Language", "", []string{"Accept-Language", "nl-BE, en;q=0.5"}, "nl", dutch},
			{"ui_locales before Accept-Language", "?ui_locales=nl", []string{"Accept-Language", "en"}, "nl", dutch},
			{"a language without texts", "", []string{"Accept-Language", "fi"}, "en", english},
			{"English asked for", "?ui_locales=en", []string{"Accept-Language", "nl"}, "en", english},
		} {
			var got api.FlowResponse
			r := call(t, env, "GET", "/api/flows/"+start.Flow.ID+tc.query, nil, &got, tc.headers...)
			if r.StatusCode != 200 || len(got.Flow.Messages) != 1 {
				t.Fatalf("%s: %d %+v", tc.name, r.StatusCode, got.Flow)
			}
			m := got.Flow.Messages[0]
			if m.ID != "code_sent" || m.Text != tc.text || !maps.Equal(m.Args, wantArgs) || m.Type != "info" {
				t.Errorf("%s: %+v, want the text %q", tc.name, m, tc.text)
			}
			if cl := r.Header.Get("Content-Language"); cl != tc.lang {
				t.Errorf("%s: Content-Language %q, want %q", tc.name, cl, tc.lang)
			}
		}

		// A problem's messages too.
		var again api.FlowResponse
		call(t, env, "POST", "/api/registration", nil, &again)
		for lang, text := range map[string]string{"en": "Enter a valid email address.", "nl": "Vul een geldig e-mailadres in."} {
			var p api.Problem
			r := call(t, env, "POST", "/api/registration/"+again.Flow.ID, map[string]any{
				"traits": map[string]any{"email": "not an address"}, "password": "correct horse battery staple"}, &p, "Accept-Language", lang)
			if r.StatusCode != 400 || len(p.Errors) != 1 || p.Errors[0].ID != "email_invalid" || p.Errors[0].Field != "email" || p.Errors[0].Text != text {
				t.Errorf("%s: %d %+v", lang, r.StatusCode, p)
			}
			if cl := r.Header.Get("Content-Language"); cl != lang {
				t.Errorf("%s: problem's Content-Language %q", lang, cl)
			}
		}
	})
}

// The domain's default language speaks to a customer whose request names
// none the catalogue has.
func TestMessagesInDomainDefaultLanguage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "nl.json"), []byte(`{"email_invalid": "Vul een geldig e-mailadres in."}`), 0o600); err != nil {
			t.Fatal(err)
		}
		env := servertest.Start(t, db, func(c *config.Config) {
			c.Languages.Dir = dir
			c.Domains[config.DefaultDomain].DefaultLanguage = "nl"
		})
		var start api.FlowResponse
		call(t, env, "POST", "/api/registration", nil, &start)
		for accept, text := range map[string]string{"": "Vul een geldig e-mailadres in.", "fi": "Vul een geldig e-mailadres in.", "en": "Enter a valid email address."} {
			var p api.Problem
			call(t, env, "POST", "/api/registration/"+start.Flow.ID, map[string]any{"traits": map[string]any{"email": "nope"}, "password": "correct horse battery staple"}, &p, "Accept-Language", accept)
			if len(p.Errors) != 1 || p.Errors[0].Text != text {
				t.Errorf("Accept-Language %q: %+v, want %q", accept, p, text)
			}
		}
	})
}

// A journey's mail speaks the language of the request that sent it.
func TestMailInCustomersLanguage(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "nl.json"), []byte(`{"mail.verification_code.subject": "Je verificatiecode voor {product}"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := servertest.Start(t, storetest.NewSQLite(t), func(c *config.Config) { c.Languages.Dir = dir })
	for _, tc := range []struct{ email, accept, subject string }{
		{"bram@example.com", "nl-NL, en;q=0.5", "Je verificatiecode voor Foyer"},
		{"kate@example.com", "en-GB", "Your Foyer verification code"},
	} {
		var start api.FlowResponse
		call(t, env, "POST", "/api/registration", nil, &start, "Accept-Language", tc.accept)
		if r := call(t, env, "POST", "/api/registration/"+start.Flow.ID, map[string]any{"traits": map[string]any{"email": tc.email},
			"password": "correct horse battery staple"}, nil, "Accept-Language", tc.accept); r.StatusCode != 200 {
			t.Fatalf("%s: submit %d", tc.email, r.StatusCode)
		}
		mail := env.MailTo(t, tc.email, 1)
		if mail.Header.Get("Subject") != tc.subject || mail.Header.Get("Content-Language") != strings.SplitN(tc.accept, "-", 2)[0] {
			t.Errorf("%s: subject %q, Content-Language %q", tc.email, mail.Header.Get("Subject"), mail.Header.Get("Content-Language"))
		}
	}
}
