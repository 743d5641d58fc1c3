package admin

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/decision"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

const testToken = "admin-token-0123456789abcdef0123456789"

type testAPI struct {
	t   *testing.T
	mux *http.ServeMux
	reg *client.Registry
	// decisions is the record the API reads decisions from.
	decisions *decision.Log
	// bodies collects every response body, to check where secrets appear.
	bodies []string
}

func newTestAPI(t *testing.T, db *store.DB, token string) *testAPI {
	reg := client.NewRegistry(db, []byte("0123456789abcdef0123456789abcdef"), nil)
	decisions := decision.NewLog(db)
	mux := http.NewServeMux()
	(&Handler{Clients: reg, Decisions: decisions, Domain: "customers", Token: token, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}).Mount(mux)
	return &testAPI{t: t, mux: mux, reg: reg, decisions: decisions}
}

// do sends a request with the admin token (auth "" means none) and checks
// the headers every answer must carry.
func (a *testAPI) do(method, path, auth, body string) *httptest.ResponseRecorder {
	a.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	a.mux.ServeHTTP(rec, req)
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		a.t.Errorf("%s %s: Cache-Control %q", method, path, cc)
	}
	ct := rec.Header().Get("Content-Type")
	switch {
	case rec.Code == http.StatusNoContent:
	case rec.Code >= 400 && ct != "application/problem+json":
		a.t.Errorf("%s %s: %d with Content-Type %q", method, path, rec.Code, ct)
	}
	a.bodies = append(a.bodies, rec.Body.String())
	return rec
}

func (a *testAPI) admin(method, path, body string) *httptest.ResponseRecorder {
	a.t.Helper()
	return a.do(method, path, "Bearer "+testToken, body)
}

func decodeBody[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %q: %v", rec.Body.String(), err)
	}
	return v
}

func TestAuth(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		// Off: every route answers the 404 problem of a path that does not
		// exist, with or without a token, and so does a wrong method.
		off := newTestAPI(t, db, "")
		for _, method := range []string{"PUT", "DELETE", "POST"} {
			if rec := off.do(method, "/admin/openapi.yaml", "", ""); rec.Code != http.StatusNotFound || rec.Header().Get("Allow") != "" {
				t.Errorf("off: %s /admin/openapi.yaml: %d, Allow %q", method, rec.Code, rec.Header().Get("Allow"))
			}
		}
		for _, route := range Routes {
			method, path, _ := strings.Cut(route, " ")
			path = strings.ReplaceAll(path, "{id}", "abc")
			for _, auth := range []string{"", "Bearer ", "Bearer " + testToken} {
				if rec := off.do(method, path, auth, ""); rec.Code != http.StatusNotFound || strings.Contains(rec.Body.String(), "client") {
					t.Errorf("off: %s %q: %d %q", route, auth, rec.Code, rec.Body.String())
				}
			}
		}

		on := newTestAPI(t, db, testToken)
		for _, auth := range []string{"", "Bearer", "Bearer ", "Bearer wrong", "Bearer " + testToken + "x", "Basic " + testToken, testToken} {
			rec := on.do("GET", "/admin/clients", auth, "")
			if rec.Code != http.StatusUnauthorized || !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("auth %q: %d, WWW-Authenticate %q", auth, rec.Code, rec.Header().Get("WWW-Authenticate"))
			}
		}
		for _, route := range Routes[1:] {
			method, path, _ := strings.Cut(route, " ")
			if rec := on.do(method, strings.ReplaceAll(path, "{id}", "abc"), "Bearer wrong", `{}`); rec.Code != http.StatusUnauthorized {
				t.Errorf("%s with a wrong token: %d", route, rec.Code)
			}
		}
		for _, auth := range []string{"Bearer " + testToken, "bearer " + testToken} {
			if rec := on.do("GET", "/admin/clients", auth, ""); rec.Code != http.StatusOK || rec.Body.String() != "{\"clients\":[]}\n" {
				t.Errorf("auth %q: %d %q", auth, rec.Code, rec.Body.String())
			}
		}
		// The description needs no token.
		if rec := on.do("GET", "/admin/openapi.yaml", "", ""); rec.Code != http.StatusOK || !strings.HasPrefix(rec.Body.String(), "openapi: 3.1") {
			t.Errorf("openapi: %d", rec.Code)
		}
	})
}

func TestClientLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := newTestAPI(t, db, testToken)

		rec := a.admin("POST", "/admin/clients", `{"name": "Shop", "redirect_uris": ["https://shop.example/callback"], "access_token_ttl": 300}`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
		created := decodeBody[map[string]any](t, rec)
		id, _ := created["client_id"].(string)
		secret, _ := created["client_secret"].(string)
		if id == "" || !strings.HasPrefix(secret, "fcs_") || rec.Header().Get("Location") != "/admin/clients/"+id {
			t.Fatalf("create: %s (Location %q)", rec.Body, rec.Header().Get("Location"))
		}
		if created["access_token_ttl"] != 300.0 || created["auth_method"] != "client_secret_basic" || created["has_secret"] != true {
			t.Fatalf("create: %s", rec.Body)
		}
		if _, ok := created["secret_hash"]; ok {
			t.Fatal("secret hash in the response")
		}
		if _, err := a.reg.VerifySecret(ctx, id, secret); err != nil {
			t.Fatalf("created secret: %v", err)
		}

		rec = a.admin("GET", "/admin/clients/"+id, "")
		got := decodeBody[map[string]any](t, rec)
		if rec.Code != http.StatusOK || got["name"] != "Shop" || got["client_secret"] != nil {
			t.Fatalf("get: %d %s", rec.Code, rec.Body)
		}

		rec = a.admin("PATCH", "/admin/clients/"+id, `{"name": "Shop 2", "post_logout_redirect_uris": ["https://shop.example/"], "require_aal": "aal2"}`)
		patched := decodeBody[client.Client](t, rec)
		if rec.Code != http.StatusOK || patched.Name != "Shop 2" || patched.RequireAAL != "aal2" || len(patched.PostLogoutRedirectURIs) != 1 ||
			patched.RedirectURIs[0] != "https://shop.example/callback" || patched.AccessTokenTTL.D().Seconds() != 300 {
			t.Fatalf("patch: %d %s", rec.Code, rec.Body)
		}

		rec = a.admin("GET", "/admin/clients", "")
		list := decodeBody[ClientList](t, rec)
		if rec.Code != http.StatusOK || len(list.Clients) != 1 || list.Clients[0].Name != "Shop 2" {
			t.Fatalf("list: %d %s", rec.Code, rec.Body)
		}

		rec = a.admin("POST", "/admin/clients/"+id+"/secret", "")
		rotated := decodeBody[SecretResponse](t, rec)
		if rec.Code != http.StatusOK || rotated.ClientID != id || !strings.HasPrefix(rotated.ClientSecret, "fcs_") || rotated.ClientSecret == secret {
			t.Fatalf("rotate: %d %s", rec.Code, rec.Body)
		}
		if _, err := a.reg.VerifySecret(ctx, id, secret); err == nil {
			t.Fatal("old secret still works")
		}
		if _, err := a.reg.VerifySecret(ctx, id, rotated.ClientSecret); err != nil {
			t.Fatalf("new secret: %v", err)
		}

		// The secret appears in the create and rotate answers only.
		for i, body := range a.bodies {
			has := strings.Contains(body, secret) || strings.Contains(body, rotated.ClientSecret)
			if want := i == 0 || i == len(a.bodies)-1; has != want {
				t.Errorf("response %d: secret present = %v: %s", i, has, body)
			}
		}

		if rec = a.admin("DELETE", "/admin/clients/"+id, ""); rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
			t.Fatalf("delete: %d %s", rec.Code, rec.Body)
		}
		for _, r := range []struct{ method, path string }{
			{"GET", "/admin/clients/" + id}, {"PATCH", "/admin/clients/" + id}, {"DELETE", "/admin/clients/" + id}, {"POST", "/admin/clients/" + id + "/secret"},
		} {
			if rec = a.admin(r.method, r.path, ""); rec.Code != http.StatusNotFound || rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s %s after delete: %d %s", r.method, r.path, rec.Code, rec.Body)
			}
		}
	})
}

func TestPublicClient(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newTestAPI(t, db, testToken)
		rec := a.admin("POST", "/admin/clients", `{"name": "App", "public": true, "redirect_uris": ["com.example.app:/callback"]}`)
		c := decodeBody[ClientWithSecret](t, rec)
		if rec.Code != http.StatusCreated || c.ClientSecret != "" || strings.Contains(rec.Body.String(), "client_secret\"") || c.AuthMethod != "none" {
			t.Fatalf("create public: %d %s", rec.Code, rec.Body)
		}
		rec = a.admin("POST", "/admin/clients/"+c.ID+"/secret", "")
		if p := decodeBody[Problem](t, rec); rec.Code != http.StatusConflict || p.Type != "https://foyer.dev/problems/client-has-no-secret" {
			t.Fatalf("rotate public: %d %s", rec.Code, rec.Body)
		}
	})
}

// Clients of another domain do not exist for this handler.
func TestOtherDomain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newTestAPI(t, db, testToken)
		other, _, err := a.reg.Create(context.Background(), "staff", client.Spec{Name: new("intranet"), RedirectURIs: &[]string{"https://intranet.example/cb"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []struct{ method, path, body string }{
			{"GET", "/admin/clients/" + other.ID, ""},
			{"PATCH", "/admin/clients/" + other.ID, `{"name": "x"}`},
			{"DELETE", "/admin/clients/" + other.ID, ""},
			{"POST", "/admin/clients/" + other.ID + "/secret", ""},
		} {
			if rec := a.admin(r.method, r.path, r.body); rec.Code != http.StatusNotFound {
				t.Errorf("%s %s: %d", r.method, r.path, rec.Code)
			}
		}
		if rec := a.admin("GET", "/admin/clients", ""); rec.Body.String() != "{\"clients\":[]}\n" {
			t.Errorf("list shows another domain: %s", rec.Body)
		}
		if got, err := a.reg.Get(context.Background(), other.ID); err != nil || got.Name != "intranet" {
			t.Fatalf("other domain's client changed: %+v %v", got, err)
		}
	})
}

// Bad input answers a problem naming what is wrong and changes nothing.
func TestBadInputChangesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newTestAPI(t, db, testToken)
		rec := a.admin("POST", "/admin/clients", `{"name": "Shop", "redirect_uris": ["https://shop.example/callback"]}`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
		id := decodeBody[client.Client](t, rec).ID
		before := a.admin("GET", "/admin/clients", "").Body.String()

		tests := []struct {
			name, method, path, body, contentType string
			status                                int
			problem, field                        string
		}{
			{"malformed", "POST", "/admin/clients", `{"name": `, "", 400, "malformed-json", ""},
			{"two objects", "POST", "/admin/clients", `{"name": "a"} {}`, "", 400, "malformed-json", ""},
			{"array", "POST", "/admin/clients", `[]`, "", 400, "malformed-json", ""},
			{"unknown field", "POST", "/admin/clients", `{"name": "a", "redirect_uris": ["https://a.example/cb"], "client_secret": "mine"}`, "", 400, "malformed-json", ""},
			{"wrong type", "POST", "/admin/clients", `{"name": "a", "public": "yes"}`, "", 400, "malformed-json", ""},
			{"bad ttl", "POST", "/admin/clients", `{"name": "a", "access_token_ttl": 1.5}`, "", 400, "malformed-json", ""},
			{"no name", "POST", "/admin/clients", `{"redirect_uris": ["https://a.example/cb"]}`, "", 400, "invalid-input", "name"},
			{"http redirect", "POST", "/admin/clients", `{"name": "a", "redirect_uris": ["http://a.example/cb"]}`, "", 400, "invalid-input", "redirect_uris[0]"},
			{"wildcard", "POST", "/admin/clients", `{"name": "a", "redirect_uris": ["https://*.a.example/cb"]}`, "", 400, "invalid-input", "redirect_uris[0]"},
			{"public cc", "POST", "/admin/clients", `{"name": "a", "public": true, "grant_types": ["client_credentials"]}`, "", 400, "invalid-input", "grant_types"},
			{"form body", "POST", "/admin/clients", `name=a`, "application/x-www-form-urlencoded", 415, "unsupported-media-type", ""},
			{"too big", "POST", "/admin/clients", `{"name": "` + strings.Repeat("a", 70<<10) + `"}`, "", 413, "body-too-large", ""},
			{"patch invalid uri", "PATCH", "/admin/clients/" + id, `{"name": "Changed", "redirect_uris": ["https://shop.example/cb#frag"]}`, "", 400, "invalid-input", "redirect_uris[0]"},
			{"patch unknown field", "PATCH", "/admin/clients/" + id, `{"name": "Changed", "secret_hash": ""}`, "", 400, "malformed-json", ""},
			{"patch malformed", "PATCH", "/admin/clients/" + id, `{"name": "Changed"`, "", 400, "malformed-json", ""},
			{"patch empty redirects", "PATCH", "/admin/clients/" + id, `{"redirect_uris": []}`, "", 400, "invalid-input", "redirect_uris"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
				req.Header.Set("Authorization", "Bearer "+testToken)
				ct := tt.contentType
				if ct == "" {
					ct = "application/json"
				}
				req.Header.Set("Content-Type", ct)
				rec := httptest.NewRecorder()
				a.mux.ServeHTTP(rec, req)
				p := decodeBody[Problem](t, rec)
				if rec.Code != tt.status || p.Status != tt.status || p.Type != "https://foyer.dev/problems/"+tt.problem ||
					rec.Header().Get("Content-Type") != "application/problem+json" {
					t.Fatalf("%d %s", rec.Code, rec.Body)
				}
				if tt.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tt.field || !strings.HasPrefix(p.Detail, tt.field+": ")) {
					t.Fatalf("field: %s", rec.Body)
				}
				if tt.name == "unknown field" && !strings.Contains(p.Detail, "client_secret") {
					t.Fatalf("detail does not name the field: %s", rec.Body)
				}
			})
		}
		if after := a.admin("GET", "/admin/clients", "").Body.String(); after != before {
			t.Fatalf("bad input changed the clients:\n%s\n%s", before, after)
		}
	})
}
