package config

import (
	"fmt"
	"maps"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Branding is how a domain's hosted pages and mails look, and what they
// link to (docs/branding.md). Every field is optional: left out, Foyer's
// own look holds.
type Branding struct {
	// Logo and LogoDark are image files (SVG, PNG, WebP, JPEG or GIF, at
	// most 512 KiB) shown in the pages' header, LogoDark in dark mode.
	Logo     string `yaml:"logo"`
	LogoDark string `yaml:"logo_dark"`
	// Accent colours links and buttons; Background is the page's. Each
	// is #rgb or #rrggbb, and each has a dark-mode twin. The accent must
	// keep 4.5:1 contrast against the background (WCAG 2.2 AA).
	Accent         string `yaml:"accent"`
	AccentDark     string `yaml:"accent_dark"`
	Background     string `yaml:"background"`
	BackgroundDark string `yaml:"background_dark"`
	// Font is a CSS font stack ("Inter, system-ui, sans-serif").
	Font string `yaml:"font"`
	// Radius rounds fields, buttons and panels: a CSS length (6px, .5rem).
	Radius string `yaml:"radius"`
	// CSS is a stylesheet file served after Foyer's own, for what the
	// fields above do not cover.
	CSS string `yaml:"css"`
	// SupportURL, PrivacyURL and TermsURL are linked from every page's
	// footer and from the mails.
	SupportURL string `yaml:"support_url"`
	PrivacyURL string `yaml:"privacy_url"`
	TermsURL   string `yaml:"terms_url"`
	// Templates is a directory of page templates (login.html, …) that
	// replace the built-in ones of the same name; a template that does
	// not parse stops the start with its file and line.
	Templates string `yaml:"templates"`
	// Apps are apps' own looks, by client id: the pages of a journey an
	// app sent, and their mail, take the domain's branding with the
	// app's fields laid over (With). Templates stay the domain's. An id
	// no client has is no error: clients come and go at run time.
	Apps map[string]AppBranding `yaml:"apps"`
}

// AppBranding is an app's own look (Branding.Apps). Each field set
// replaces the domain's; the fields are those of Branding, but for
// templates.
type AppBranding struct {
	// ProductName names the app in its pages' header and title and signs
	// its mail, in place of the domain's product_name.
	ProductName    string `yaml:"product_name"`
	Logo           string `yaml:"logo"`
	LogoDark       string `yaml:"logo_dark"`
	Accent         string `yaml:"accent"`
	AccentDark     string `yaml:"accent_dark"`
	Background     string `yaml:"background"`
	BackgroundDark string `yaml:"background_dark"`
	Font           string `yaml:"font"`
	Radius         string `yaml:"radius"`
	CSS            string `yaml:"css"`
	SupportURL     string `yaml:"support_url"`
	PrivacyURL     string `yaml:"privacy_url"`
	TermsURL       string `yaml:"terms_url"`
}

// own is the app's fields as a Branding of their own, to check them as
// the domain's are checked.
func (a AppBranding) own() Branding {
	return Branding{Logo: a.Logo, LogoDark: a.LogoDark, Accent: a.Accent, AccentDark: a.AccentDark,
		Background: a.Background, BackgroundDark: a.BackgroundDark, Font: a.Font, Radius: a.Radius, CSS: a.CSS,
		SupportURL: a.SupportURL, PrivacyURL: a.PrivacyURL, TermsURL: a.TermsURL}
}

// With returns b with a's fields laid over it: an app's look. The logos
// go as a pair: an app with a logo of its own shows the domain's dark
// logo nowhere, since in dark mode that would be another brand's. The
// result has no Apps.
func (b Branding) With(a AppBranding) Branding {
	over := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	m := b
	m.Apps = nil
	if a.Logo != "" {
		m.Logo, m.LogoDark = a.Logo, a.LogoDark
	} else {
		over(&m.LogoDark, a.LogoDark)
	}
	over(&m.Accent, a.Accent)
	over(&m.AccentDark, a.AccentDark)
	over(&m.Background, a.Background)
	over(&m.BackgroundDark, a.BackgroundDark)
	over(&m.Font, a.Font)
	over(&m.Radius, a.Radius)
	over(&m.CSS, a.CSS)
	over(&m.SupportURL, a.SupportURL)
	over(&m.PrivacyURL, a.PrivacyURL)
	over(&m.TermsURL, a.TermsURL)
	return m
}

var (
	hexColour = regexp.MustCompile(`^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)
	cssLength = regexp.MustCompile(`^(0|[0-9]{1,3}(\.[0-9]{1,3})?(px|rem|em))$`)
	fontStack = regexp.MustCompile(`^[A-Za-z0-9 ,"'\-]{1,200}$`)
)

// Brand's defaults: Foyer's own colours (light and dark).
const (
	defaultAccent         = "#2456d6"
	defaultAccentDark     = "#8ab4ff"
	defaultBackground     = "#ffffff"
	defaultBackgroundDark = "#121212"
)

// maxLogo bounds a logo file.
const maxLogo = 512 << 10

// validate checks the domain's branding under prefix, and each app's
// (prefix.apps.<client id>): its own fields, and its colours laid over the
// domain's.
func (b *Branding) validate(prefix string, bad func(key, format string, args ...any)) {
	b.validateFields(prefix, bad)
	b.checkContrast(prefix, b.Accent != "" || b.Background != "", b.AccentDark != "" || b.BackgroundDark != "", bad)
	for _, id := range slices.Sorted(maps.Keys(b.Apps)) {
		a := b.Apps[id]
		key := prefix + ".apps." + id
		if strings.TrimSpace(id) == "" {
			bad(prefix+".apps", "an app's client id must not be empty")
			continue
		}
		own := a.own()
		own.validateFields(key, bad)
		// The app's colours against the domain's they meet: only the
		// modes the app colours, as the domain's own are checked above.
		m := b.With(a)
		m.checkContrast(key, a.Accent != "" || a.Background != "", a.AccentDark != "" || a.BackgroundDark != "", bad)
	}
}

// validateFields checks each field on its own: files, colours, font,
// radius, links and templates.
func (b *Branding) validateFields(prefix string, bad func(key, format string, args ...any)) {
	for _, f := range []struct {
		key  string
		path string
	}{{"logo", b.Logo}, {"logo_dark", b.LogoDark}, {"css", b.CSS}} {
		if f.path == "" {
			continue
		}
		st, err := os.Stat(f.path)
		switch {
		case err != nil:
			bad(prefix+"."+f.key, "cannot be read: %v", err)
		case !st.Mode().IsRegular():
			bad(prefix+"."+f.key, "%s is not a regular file", f.path)
		case st.Size() > maxLogo:
			bad(prefix+"."+f.key, "%s is larger than %d KiB", f.path, maxLogo>>10)
		case f.key != "css" && ImageType(f.path) == "":
			bad(prefix+"."+f.key, "%s must be an SVG, PNG, WebP, JPEG or GIF file", f.path)
		}
	}
	for _, c := range []struct{ key, v string }{
		{"accent", b.Accent}, {"accent_dark", b.AccentDark}, {"background", b.Background}, {"background_dark", b.BackgroundDark},
	} {
		if c.v != "" && !hexColour.MatchString(c.v) {
			bad(prefix+"."+c.key, "must be a colour written #rgb or #rrggbb")
		}
	}
	if b.Font != "" && !fontStack.MatchString(b.Font) {
		bad(prefix+".font", "must be a CSS font stack: names, quotes, commas and spaces")
	}
	if b.Radius != "" && !cssLength.MatchString(b.Radius) {
		bad(prefix+".radius", "must be a CSS length such as 6px or .5rem")
	}
	for _, u := range []struct{ key, v string }{{"support_url", b.SupportURL}, {"privacy_url", b.PrivacyURL}, {"terms_url", b.TermsURL}} {
		if u.v == "" {
			continue
		}
		p, err := url.Parse(u.v)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http" && p.Scheme != "mailto") || (p.Scheme != "mailto" && p.Host == "") {
			bad(prefix+"."+u.key, "must be an http(s) or mailto: URL")
		}
	}
	if b.Templates != "" {
		if st, err := os.Stat(b.Templates); err != nil || !st.IsDir() {
			bad(prefix+".templates", "must be a directory of page templates")
		}
	}
}

// checkContrast refuses an accent that keeps less than 4.5:1 against the
// background, in light mode if light and in dark mode if dark: the modes
// whose colours the setting under prefix chose (Foyer's own pass).
func (b *Branding) checkContrast(prefix string, light, dark bool, bad func(key, format string, args ...any)) {
	accent, background, accentDark, backgroundDark := b.Colours()
	for _, mode := range []struct {
		on         bool
		accent, bg string
		name, key  string
	}{
		{light, accent, background, "light", "accent"},
		{dark, accentDark, backgroundDark, "dark", "accent_dark"},
	} {
		if !mode.on || !hexColour.MatchString(mode.accent) || !hexColour.MatchString(mode.bg) {
			continue
		}
		if r := Contrast(mode.accent, mode.bg); r < 4.5 {
			bad(prefix+"."+mode.key, "%s on the %s background %s has a contrast of %.1f:1; links and buttons need 4.5:1 (WCAG 2.2 AA)", mode.accent, mode.name, mode.bg, r)
		}
	}
}

// ImageType returns the Content-Type of a logo file by its name, "" for
// a kind pages do not show.
func ImageType(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".webp":
		return "image/webp"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".gif":
		return "image/gif"
	}
	return ""
}

// Colours returns the branding's colours with Foyer's defaults filled in:
// accent, background, then their dark twins.
func (b *Branding) Colours() (accent, background, accentDark, backgroundDark string) {
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	return or(b.Accent, defaultAccent), or(b.Background, defaultBackground), or(b.AccentDark, defaultAccentDark), or(b.BackgroundDark, defaultBackgroundDark)
}

// Contrast is the WCAG contrast ratio of two #rgb/#rrggbb colours.
func Contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// OnColour returns black or white, whichever reads better on c.
func OnColour(c string) string {
	if Contrast(c, "#000000") >= Contrast(c, "#ffffff") {
		return "#000000"
	}
	return "#ffffff"
}

func luminance(c string) float64 {
	h := strings.TrimPrefix(c, "#")
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	var ch [3]float64
	for i := range 3 {
		v, err := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		if err != nil {
			panic(fmt.Sprintf("config: colour %q", c))
		}
		s := float64(v) / 255
		if s <= 0.04045 {
			ch[i] = s / 12.92
		} else {
			ch[i] = math.Pow((s+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*ch[0] + 0.7152*ch[1] + 0.0722*ch[2]
}
