package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/server"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

const logoSVG = `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>`

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A domain's branding reaches every page: its logos (light and dark), its
// colours, font and corners in a stylesheet of their own, its stylesheet,
// its footer links; an operator's template replaces the built-in one.
func TestBranding(t *testing.T) {
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "templates")
	if err := os.Mkdir(tmpl, 0o700); err != nil {
		t.Fatal(err)
	}
	original, err := os.ReadFile("../ui/templates/verification.html")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, tmpl, "verification.html", strings.Replace(string(original), `{{define "content"}}`,
		`{{define "content"}}<p class="operator-note">Verify to get your loyalty points.</p>`, 1))
	b := config.Branding{
		Logo: writeFile(t, dir, "logo.svg", logoSVG), LogoDark: writeFile(t, dir, "logo-dark.png", "\x89PNG\r\n\x1a\n"),
		Accent: "#0b6e4f", AccentDark: "#7fe0b9", Background: "#fdfcf7", Font: `"Inter", system-ui, sans-serif`, Radius: "10px",
		CSS: writeFile(t, dir, "shop.css", ".card { max-width: 30rem; }"), SupportURL: "https://shop.example/help",
		PrivacyURL: "https://shop.example/privacy", TermsURL: "mailto:legal@shop.example", Templates: tmpl,
	}
	env := servertest.Start(t, storetest.NewSQLite(t), func(c *config.Config) { c.Domains[config.DefaultDomain].Branding = b })
	br := env.NewBrowser(t)

	page := br.Get("/login")
	for _, want := range []string{
		`<img class="logo" src="/assets/brand/logo?v=`, `<source srcset="/assets/brand/logo-dark?v=`, `media="(prefers-color-scheme: dark)"`,
		`alt="Foyer"`, `<link rel="stylesheet" href="/assets/brand.css?v=`, `<link rel="stylesheet" href="/assets/brand/custom.css?v=`,
		`<a href="https://shop.example/help">Help</a>`, `<a href="https://shop.example/privacy">Privacy</a>`, `<a href="mailto:legal@shop.example">Terms</a>`,
	} {
		if !strings.Contains(page.Body, want) {
			t.Fatalf("sign-in page lacks %s:\n%s", want, page.Body)
		}
	}
	css := br.Get("/assets/brand.css")
	for _, want := range []string{"--accent: #0b6e4f; --on-accent: #ffffff;", "--bg: #fdfcf7; --fg: #1a1a1a;", "--radius: 10px;",
		`--font: "Inter", system-ui, sans-serif;`, "--accent: #7fe0b9; --on-accent: #000000;"} {
		if !strings.Contains(css.Body, want) {
			t.Fatalf("brand.css lacks %s:\n%s", want, css.Body)
		}
	}
	if css.Header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Fatalf("brand.css type %q", css.Header.Get("Content-Type"))
	}
	logo := br.Get("/assets/brand/logo")
	if logo.Body != logoSVG || logo.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(logo.Header.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("logo: %q %v", logo.Body, logo.Header)
	}
	if r := br.Get("/assets/brand/custom.css"); r.Body != ".card { max-width: 30rem; }" {
		t.Fatalf("custom css: %q", r.Body)
	}
	if r := br.Get("/verification"); !strings.Contains(r.Body, `<p class="operator-note">Verify to get your loyalty points.</p>`) ||
		!strings.Contains(r.Body, `autocomplete="email"`) {
		t.Fatalf("operator template not used:\n%s", r.Body)
	}

	// Without branding: Foyer's name, no footer, no brand files.
	plain := servertest.Start(t, storetest.NewSQLite(t)).NewBrowser(t)
	if r := plain.Get("/login"); strings.Contains(r.Body, "<footer") || strings.Contains(r.Body, "custom.css") || !strings.Contains(r.Body, `<a class="brand" href="/">Foyer</a>`) {
		t.Fatalf("unbranded page:\n%s", r.Body)
	}
	if r := plain.Get("/assets/brand/logo"); r.StatusCode != 404 {
		t.Fatalf("logo without one: %d", r.StatusCode)
	}
}

// Branding that would make pages unreadable or that cannot be read is
// refused at start, naming the setting; so is a template that does not
// parse, with its file and line, and one that names no page.
func TestBrandingRefused(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		b    config.Branding
		want string
	}{
		{"low contrast", config.Branding{Accent: "#ffcc00"}, "branding.accent: #ffcc00 on the light background #ffffff has a contrast of 1.5:1"},
		{"dark contrast", config.Branding{BackgroundDark: "#2456d6"}, "branding.accent_dark"},
		{"bad colour", config.Branding{Background: "white"}, "branding.background: must be a colour"},
		{"missing logo", config.Branding{Logo: filepath.Join(dir, "nope.png")}, "branding.logo: cannot be read"},
		{"logo kind", config.Branding{Logo: writeFile(t, dir, "logo.exe", "MZ")}, "must be an SVG, PNG"},
		{"radius", config.Branding{Radius: "10px; color: red"}, "branding.radius"},
		{"font", config.Branding{Font: "x; } body { display: none"}, "branding.font"},
		{"link", config.Branding{PrivacyURL: "javascript:alert(1)"}, "branding.privacy_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Dev = true
			cfg.Data = t.TempDir()
			cfg.Domains[config.DefaultDomain].Branding = tc.b
			err := cfg.Finish()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}

	for _, tc := range []struct{ file, body, want string }{
		{"login.html", "{{define \"content\"}}\n<p>{{.Nope</p>\n{{end}}", "login.html:2:"},
		{"logn.html", `{{define "content"}}{{end}}`, "no built-in page logn.html"},
	} {
		tmpl := t.TempDir()
		writeFile(t, tmpl, tc.file, tc.body)
		cfg := config.Default()
		cfg.Dev = true
		cfg.Data = t.TempDir()
		cfg.Domains[config.DefaultDomain].Branding.Templates = tmpl
		if err := cfg.Finish(); err != nil {
			t.Fatal(err)
		}
		srv, err := server.New(context.Background(), cfg, server.Options{DB: storetest.NewSQLite(t)})
		if err == nil {
			srv.Close()
			t.Fatalf("%s: a broken template was accepted", tc.file)
		}
		if !strings.Contains(err.Error(), filepath.Join(tmpl, tc.file)) || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: %v, want %q", tc.file, err, tc.want)
		}
	}
}
