package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// An app's branding is the domain's with the app's fields laid over;
// its logos replace the domain's as a pair.
func TestBrandingWithApp(t *testing.T) {
	domain := Branding{Logo: "shop.svg", LogoDark: "shop-dark.svg", Accent: "#0b6e4f", AccentDark: "#7fe0b9",
		Background: "#fdfcf7", Font: "Inter, sans-serif", Radius: "10px", CSS: "shop.css",
		SupportURL: "https://shop.example/help", PrivacyURL: "https://shop.example/privacy", Templates: "/etc/foyer/templates",
		Apps: map[string]AppBranding{"x": {}}}
	for _, tc := range []struct {
		name string
		app  AppBranding
		want Branding
	}{
		{"nothing of its own", AppBranding{ProductName: "Partner"}, Branding{Logo: "shop.svg", LogoDark: "shop-dark.svg",
			Accent: "#0b6e4f", AccentDark: "#7fe0b9", Background: "#fdfcf7", Font: "Inter, sans-serif", Radius: "10px", CSS: "shop.css",
			SupportURL: "https://shop.example/help", PrivacyURL: "https://shop.example/privacy", Templates: "/etc/foyer/templates"}},
		{"its own look", AppBranding{Logo: "partner.png", Accent: "#6b2fa3", BackgroundDark: "#101010", Radius: "0", CSS: "partner.css",
			PrivacyURL: "https://partner.example/privacy", TermsURL: "https://partner.example/terms"},
			Branding{Logo: "partner.png", Accent: "#6b2fa3", AccentDark: "#7fe0b9", Background: "#fdfcf7", BackgroundDark: "#101010",
				Font: "Inter, sans-serif", Radius: "0", CSS: "partner.css", SupportURL: "https://shop.example/help",
				PrivacyURL: "https://partner.example/privacy", TermsURL: "https://partner.example/terms", Templates: "/etc/foyer/templates"}},
		{"a dark logo only", AppBranding{LogoDark: "partner-dark.png"}, Branding{Logo: "shop.svg", LogoDark: "partner-dark.png",
			Accent: "#0b6e4f", AccentDark: "#7fe0b9", Background: "#fdfcf7", Font: "Inter, sans-serif", Radius: "10px", CSS: "shop.css",
			SupportURL: "https://shop.example/help", PrivacyURL: "https://shop.example/privacy", Templates: "/etc/foyer/templates"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// No Apps in the result: an app's branding has none.
			if got := domain.With(tc.app); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("With:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// An app's branding is checked at start as the domain's is, under its own
// key: its files and values, and its colours against the domain's they
// meet. A client id no app has yet is fine.
func TestAppBrandingValidation(t *testing.T) {
	dir := t.TempDir()
	logo := filepath.Join(dir, "partner.svg")
	if err := os.WriteFile(logo, []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), 0o600); err != nil {
		t.Fatal(err)
	}
	const key = "domains.customers.branding.apps.shop-web"
	for _, tc := range []struct {
		name   string
		domain Branding
		app    AppBranding
		want   string // "" for valid
	}{
		{"valid", Branding{}, AppBranding{ProductName: "Shop", Logo: logo, Accent: "#0b6e4f", SupportURL: "https://shop.example/help"}, ""},
		{"product name only", Branding{}, AppBranding{ProductName: "Shop"}, ""},
		{"low contrast", Branding{}, AppBranding{Accent: "#ffcc00"},
			key + ".accent: #ffcc00 on the light background #ffffff has a contrast of 1.5:1"},
		// Each passes alone; together they are unreadable.
		{"against the domain's background", Branding{Accent: "#7fe0b9", Background: "#101412"}, AppBranding{Accent: "#6b2fa3"},
			key + ".accent: #6b2fa3 on the light background #101412"},
		{"a background against the domain's accent", Branding{AccentDark: "#8ab4ff"}, AppBranding{BackgroundDark: "#f0f0f0"},
			key + ".accent_dark: #8ab4ff on the dark background #f0f0f0"},
		{"bad colour", Branding{}, AppBranding{Background: "white"}, key + ".background: must be a colour"},
		{"missing logo", Branding{}, AppBranding{LogoDark: filepath.Join(dir, "nope.png")}, key + ".logo_dark: cannot be read"},
		{"missing css", Branding{}, AppBranding{CSS: filepath.Join(dir, "nope.css")}, key + ".css: cannot be read"},
		{"font", Branding{}, AppBranding{Font: "x; } body { display: none"}, key + ".font"},
		{"radius", Branding{}, AppBranding{Radius: "1px; color: red"}, key + ".radius"},
		{"link", Branding{}, AppBranding{TermsURL: "javascript:alert(1)"}, key + ".terms_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Dev = true
			c.Data = t.TempDir()
			b := tc.domain
			b.Apps = map[string]AppBranding{"shop-web": tc.app}
			c.Domains[DefaultDomain].Branding = b
			err := c.Finish()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}

	// A domain whose own colours fail is refused once, under its own key,
	// not again under each app that leaves them as they are.
	c := Default()
	c.Dev = true
	c.Data = t.TempDir()
	c.Domains[DefaultDomain].Branding = Branding{Accent: "#ffcc00", Apps: map[string]AppBranding{"shop-web": {ProductName: "Shop"}}}
	err := c.Finish()
	if err == nil || !strings.Contains(err.Error(), "domains.customers.branding.accent:") || strings.Contains(err.Error(), "apps.shop-web") {
		t.Fatalf("got %v", err)
	}
}

// Apps are configured in YAML under the domain's branding, by client id;
// templates stay the domain's, so an app's are refused as unknown.
func TestAppBrandingFromFile(t *testing.T) {
	c, err := Load(write(t, `
dev: true
domains:
  customers:
    branding:
      accent: "#0b6e4f"
      apps:
        7qk2mz4h5c3v:
          product_name: Shop
          accent: "#6b2fa3"
          support_url: https://shop.example/help
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Finish(); err != nil {
		t.Fatal(err)
	}
	app := c.Domains[DefaultDomain].Branding.Apps["7qk2mz4h5c3v"]
	if app.ProductName != "Shop" || app.Accent != "#6b2fa3" || app.SupportURL != "https://shop.example/help" {
		t.Fatalf("app = %+v", app)
	}

	_, err = Load(write(t, "dev: true\ndomains:\n  customers:\n    branding:\n      apps:\n        shop-web:\n          templates: /etc/foyer/shop\n"), nil)
	if err == nil || !strings.Contains(err.Error(), `unknown key "templates"`) {
		t.Fatalf("an app's templates: %v", err)
	}
}
