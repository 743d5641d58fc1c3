package config

import (
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
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

func (b *Branding) validate(prefix string, bad func(key, format string, args ...any)) {
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
	for _, pair := range []struct{ accent, bg, mode, akey, bkey string }{
		{b.Accent, b.Background, "light", "accent", "background"},
		{b.AccentDark, b.BackgroundDark, "dark", "accent_dark", "background_dark"},
	} {
		a, bg := pair.accent, pair.bg
		if a == "" && bg == "" {
			continue
		}
		if a == "" {
			a = map[string]string{"light": defaultAccent, "dark": defaultAccentDark}[pair.mode]
		}
		if bg == "" {
			bg = map[string]string{"light": defaultBackground, "dark": defaultBackgroundDark}[pair.mode]
		}
		if !hexColour.MatchString(a) || !hexColour.MatchString(bg) {
			continue
		}
		if r := Contrast(a, bg); r < 4.5 {
			bad(prefix+"."+pair.akey, "%s on the %s background %s has a contrast of %.1f:1; links and buttons need 4.5:1 (WCAG 2.2 AA)", a, pair.mode, bg, r)
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
