package ui

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/courier"
)

// Brand is a domain's look (config.Branding), read once at start: the
// files it names are loaded, and the stylesheet that sets its colours,
// font and corners is built, so that a page costs nothing more for it.
type Brand struct {
	// Support, Privacy and Terms are the footer's links ("" for none).
	Support, Privacy, Terms string

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

// NewBrand reads b's files and builds its stylesheet; the configuration
// has checked them.
func NewBrand(b config.Branding) (*Brand, error) {
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

	accent, _, accentDark, _ := b.Colours()
	var css bytes.Buffer
	css.WriteString("/* The domain's branding (config: branding). */\n")
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
	if b.BackgroundDark != "" {
		fmt.Fprintf(&css, " --bg: %s; --fg: %s;", b.BackgroundDark, onText(b.BackgroundDark))
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
	m := &courier.Brand{Accent: b.mailAccent, Support: b.Support, Privacy: b.Privacy, Terms: b.Terms}
	if b.hasLogo {
		m.LogoURL = strings.TrimSuffix(publicURL, "/") + "/assets/brand/logo?v=" + b.version
	}
	return m
}

// Version changes whenever the brand's stylesheet or files do.
func (b *Brand) Version() string { return b.version }

// HasLogo, HasDarkLogo and HasCSS say what the layout links to.
func (b *Brand) HasLogo() bool     { return b.hasLogo }
func (b *Brand) HasDarkLogo() bool { return b.hasDark }
func (b *Brand) HasCSS() bool      { return b.hasCustom }

// mount serves the brand's stylesheet and files. Their URLs carry the
// version, so they are cached long.
func (b *Brand) mount(mux *http.ServeMux) {
	serve := func(body []byte, typ string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
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
	mux.HandleFunc("GET /assets/brand.css", serve(b.css, "text/css; charset=utf-8"))
	mux.HandleFunc("GET /assets/brand/logo", serve(b.logo, b.logoType))
	mux.HandleFunc("GET /assets/brand/logo-dark", serve(b.logoDark, b.darkType))
	mux.HandleFunc("GET /assets/brand/custom.css", serve(b.custom, "text/css; charset=utf-8"))
}
