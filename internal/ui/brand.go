package ui

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/courier"
)

// Brand is a domain's look (config.Branding), read once at start: the
// files it names are loaded, and the stylesheet that sets its colours,
// font and corners is built, so that a page costs nothing more for it.
// An app with a look of its own (branding.apps) has a Brand of its own
// too, which the pages and mail of its journeys take.
type Brand struct {
	// Support, Privacy and Terms are the footer's links ("" for none).
	Support, Privacy, Terms string

	// app is the client id of an app's brand, "" for the domain's; its
	// files are served with ?app=. productName is the app's name in
	// place of the domain's ("" keeps the domain's).
	app         string
	productName string
	apps        map[string]*Brand // the domain's only: its apps' brands

	css       []byte // /assets/brand.css
	version   string // of css and the files, for cache busting
	logo      []byte
	logoType  string
	logoDark  []byte
	darkType  string
	custom    []byte // /assets/brand/custom.css
	templates string // directory of template overrides
	// mailAccent is the light accent, "" for Foyer's own.
	mailAccent string
	hasLogo    bool
	hasDark    bool
	hasCustom  bool
}

// NewBrand reads b's files and builds its stylesheet, and each app's
// (b.Apps), laid over b; the configuration has checked them.
func NewBrand(b config.Branding) (*Brand, error) {
	br, err := newBrand(b)
	if err != nil {
		return nil, err
	}
	if len(b.Apps) > 0 {
		br.apps = make(map[string]*Brand, len(b.Apps))
	}
	for id, a := range b.Apps {
		ab, err := newBrand(b.With(a))
		if err != nil {
			return nil, fmt.Errorf("ui: branding of app %s: %w", id, err)
		}
		ab.app, ab.productName = id, a.ProductName
		br.apps[id] = ab
	}
	return br, nil
}

// newBrand reads one look's files and builds its stylesheet.
func newBrand(b config.Branding) (*Brand, error) {
	br := &Brand{Support: b.SupportURL, Privacy: b.PrivacyURL, Terms: b.TermsURL, templates: b.Templates, mailAccent: b.Accent}
	read := func(path string) ([]byte, error) {
		if path == "" {
			return nil, nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("ui: branding: %w", err)
		}
		return data, nil
	}
	var err error
	if br.logo, err = read(b.Logo); err != nil {
		return nil, err
	}
	if br.logoDark, err = read(b.LogoDark); err != nil {
		return nil, err
	}
	if br.custom, err = read(b.CSS); err != nil {
		return nil, err
	}
	br.logoType, br.darkType = config.ImageType(b.Logo), config.ImageType(b.LogoDark)
	br.hasLogo, br.hasDark, br.hasCustom = br.logo != nil, br.logoDark != nil, br.custom != nil

	accent, _, accentDark, backgroundDark := b.Colours()
	var css bytes.Buffer
	css.WriteString("/* The domain's branding (config: branding), or an app's laid over it (branding.apps). */\n")
	fmt.Fprintf(&css, ":root { --accent: %s; --on-accent: %s;", accent, config.OnColour(accent))
	if b.Background != "" {
		fmt.Fprintf(&css, " --bg: %s; --fg: %s;", b.Background, onText(b.Background))
	}
	if b.Radius != "" {
		fmt.Fprintf(&css, " --radius: %s;", b.Radius)
	}
	if b.Font != "" {
		fmt.Fprintf(&css, " --font: %s;", b.Font)
	}
	css.WriteString(" }\n")
	fmt.Fprintf(&css, "@media (prefers-color-scheme: dark) {\n  :root { --accent: %s; --on-accent: %s;", accentDark, config.OnColour(accentDark))
	if b.BackgroundDark != "" || b.Background != "" {
		// A light background alone must not stay in dark mode, under
		// the dark accent it was not checked against: the dark one is
		// the default's then.
		fmt.Fprintf(&css, " --bg: %s; --fg: %s;", backgroundDark, onText(backgroundDark))
	}
	css.WriteString(" }\n}\n")
	br.css = css.Bytes()
	sum := sha256.New()
	for _, part := range [][]byte{br.css, br.logo, br.logoDark, br.custom} {
		sum.Write(part)
		sum.Write([]byte{0})
	}
	br.version = hex.EncodeToString(sum.Sum(nil))[:12]
	return br, nil
}

// onText is the text colour of a page on background c.
func onText(c string) string {
	if config.OnColour(c) == "#000000" {
		return "#1a1a1a"
	}
	return "#f2f2f2"
}

// Mail is the brand as mails show it, for a server at publicURL: they
// load the logo from the pages' address.
func (b *Brand) Mail(publicURL string) *courier.Brand {
	m := &courier.Brand{Accent: b.mailAccent, Support: b.Support, Privacy: b.Privacy, Terms: b.Terms, ProductName: b.productName}
	if b.hasLogo {
		m.LogoURL = strings.TrimSuffix(publicURL, "/") + b.URL("logo")
	}
	return m
}

// AppMail is Mail of each app with a look of its own, by client id (nil
// for none): the courier picks one by the app a mail's journey is for.
func (b *Brand) AppMail(publicURL string) map[string]*courier.Brand {
	if len(b.apps) == 0 {
		return nil
	}
	out := make(map[string]*courier.Brand, len(b.apps))
	for id, app := range b.apps {
		out[id] = app.Mail(publicURL)
	}
	return out
}

// forApp returns the brand of the app with client id, or nil when the
// app has no look of its own.
func (b *Brand) forApp(id string) *Brand {
	if id == "" {
		return nil
	}
	return b.apps[id]
}

// Version changes whenever the brand's stylesheet or files do.
func (b *Brand) Version() string { return b.version }

// URL is the path of one of the brand's files — "brand.css", "logo",
// "logo-dark" or "custom.css" — with its version, and for an app's brand
// the app: a page links them with it.
func (b *Brand) URL(name string) string {
	path := "/assets/brand/" + name
	if name == "brand.css" {
		path = "/assets/brand.css"
	}
	q := url.Values{"v": {b.version}}
	if b.app != "" {
		q.Set("app", b.app)
	}
	return path + "?" + q.Encode()
}

// HasLogo, HasDarkLogo and HasCSS say what the layout links to.
func (b *Brand) HasLogo() bool     { return b.hasLogo }
func (b *Brand) HasDarkLogo() bool { return b.hasDark }
func (b *Brand) HasCSS() bool      { return b.hasCustom }

// mount serves the brand's stylesheet and files, and with ?app= those of
// the app's brand. Their URLs carry the version, so they are cached long.
func (b *Brand) mount(mux *http.ServeMux) {
	serve := func(file func(*Brand) ([]byte, string)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			br := b
			if id := r.URL.Query().Get("app"); id != "" {
				br = b.forApp(id)
			}
			var body []byte
			var typ string
			if br != nil {
				body, typ = file(br)
			}
			if body == nil {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", typ)
			w.Header().Set("Cache-Control", "public, max-age=86400")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			// An SVG logo is an image, never a document that runs.
			w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
			_, _ = w.Write(body)
		}
	}
	const css = "text/css; charset=utf-8"
	mux.HandleFunc("GET /assets/brand.css", serve(func(br *Brand) ([]byte, string) { return br.css, css }))
	mux.HandleFunc("GET /assets/brand/logo", serve(func(br *Brand) ([]byte, string) { return br.logo, br.logoType }))
	mux.HandleFunc("GET /assets/brand/logo-dark", serve(func(br *Brand) ([]byte, string) { return br.logoDark, br.darkType }))
	mux.HandleFunc("GET /assets/brand/custom.css", serve(func(br *Brand) ([]byte, string) { return br.custom, css }))
}

// brandPage gives v the look of the app the page is about (about: the
// app the journey goes back to, or the one asking for consent; else the
// app whose sign-out the page confirms), when that app has one of its own
// (branding.apps). Other pages keep the domain's; without apps' looks
// nothing is looked up.
func (p *Pages) brandPage(r *http.Request, v *view, about *App) {
	if len(p.Brand.apps) == 0 {
		return
	}
	id := ""
	if about != nil {
		id = about.ClientID
	} else if l, ok := p.appLogout(r.URL.Query()); ok {
		id = l.ClientID
	}
	if b := p.Brand.forApp(id); b != nil {
		v.Brand = b
		if b.productName != "" {
			v.ProductName = b.productName
		}
	}
}

// mailApp returns the client id of the app a journey going to returnTo
// answers, when that app has a look of its own, for the journey's mail to
// take it (flow.Client.App); "" otherwise, with nothing looked up when no
// app has one.
func (p *Pages) mailApp(w http.ResponseWriter, r *http.Request, returnTo string) string {
	if len(p.Brand.apps) == 0 {
		return ""
	}
	if a := p.appFor(w, r, returnTo); a != nil && p.Brand.forApp(a.ClientID) != nil {
		return a.ClientID
	}
	return ""
}
