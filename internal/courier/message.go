package courier

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"net/mail"
	"path"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"
)

// Message is a mail to send, before rendering: which template, to whom, and
// the values the template needs. Enqueue renders it and stores the result.
type Message struct {
	// Domain is the policy domain the mail belongs to; required.
	Domain string
	// Template names one of the shipped templates (see Templates).
	Template string
	// To is the recipient's bare address, "someone@example.com".
	To string
	// Data holds the template's values; the key "Subject" is reserved (the
	// HTML layout receives the rendered subject under it).
	Data map[string]any
	// Locale is a BCP 47 tag ("fr-CA"). Rendering uses the templates for
	// that locale, then for its language ("fr"), then the default (English)
	// ones. Empty means the default.
	Locale string
	// NotAfter, when set, is when the mail stops being worth sending (the
	// code in it expires): undelivered by then, it is given up.
	NotAfter time.Time
}

// Rendered is a Message after rendering: the parts of the mail.
type Rendered struct {
	Subject string
	Text    string
	HTML    string
}

// templateSpec lists the Data keys a template needs and the ones it may
// use. Rendering fails when a required key is missing, and templates run
// with missingkey=error, so a typo in a template fails its golden test.
type templateSpec struct {
	required []string
	optional []string
	// sms: the template is a text message, to a phone number (its text
	// body is the message; see Router).
	sms bool
}

// catalog is every template Foyer ships, with the Data it takes.
var catalog = map[string]templateSpec{
	"verification_code": {
		required: []string{"Code", "ExpiresInMinutes", "ProductName"},
		optional: []string{"Link"},
	},
	"login_code": {
		required: []string{"Code", "ExpiresInMinutes", "ProductName"},
		optional: []string{"Link"},
	},
	"recovery_code": {
		required: []string{"Code", "ExpiresInMinutes", "ProductName"},
	},
	"security_notice_sms": {
		required: []string{"Change", "AccountURL", "ProductName"},
		optional: []string{"RevertURL"},
		sms:      true,
	},
	"sms_code": {
		required: []string{"Code", "ExpiresInMinutes", "ProductName"},
		optional: []string{"Host"},
		sms:      true,
	},
	"security_notice": {
		required: []string{"Change", "AccountURL", "ProductName"},
		optional: []string{"RevertURL"},
	},
	"sign_in_notice": {
		required: []string{"Device", "When", "Network", "AccountURL", "ProductName"},
		optional: []string{"FirstStepOnly"},
	},
	"registration_existing": {
		required: []string{"LoginURL", "ProductName"},
		optional: []string{"RecoveryURL"},
	},
}

// Templates returns the names of the shipped templates, sorted.
func Templates() []string {
	names := make([]string, 0, len(catalog))
	for name := range catalog {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

//go:embed templates
var templateFS embed.FS

// templateSet is one template parsed for one locale.
type templateSet struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// parsed maps "locale/name" ("" locale for the default) to its templates.
var parsed = mustParseTemplates(templateFS)

var templateFuncs = map[string]any{
	// minutes renders a duration in minutes: "1 minute", "15 minutes".
	"minutes": func(v any) string {
		s := fmt.Sprint(v)
		if s == "1" {
			return "1 minute"
		}
		return s + " minutes"
	},
	// button pairs a link with its label for the "button" layout block.
	"button": func(url any, label string) struct{ URL, Label any } {
		return struct{ URL, Label any }{url, label}
	},
}

func mustParseTemplates(fsys fs.FS) map[string]templateSet {
	sets, err := parseTemplates(fsys)
	if err != nil {
		panic(err)
	}
	return sets
}

// parseTemplates parses templates/<name>.* (the default locale) and
// templates/<locale>/<name>.* for every catalog name. A locale folder may
// hold its own layout.html; otherwise it uses the default one.
func parseTemplates(fsys fs.FS) (map[string]templateSet, error) {
	locales := []string{""}
	entries, err := fs.ReadDir(fsys, "templates")
	if err != nil {
		return nil, fmt.Errorf("courier: read templates: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() {
			locales = append(locales, e.Name())
		}
	}
	sets := make(map[string]templateSet)
	for _, loc := range locales {
		dir := path.Join("templates", loc)
		layout := path.Join(dir, "layout.html")
		if _, err := fs.Stat(fsys, layout); err != nil {
			layout = "templates/layout.html"
		}
		for name := range catalog {
			base := path.Join(dir, name)
			if _, err := fs.Stat(fsys, base+".subject.txt"); err != nil {
				if loc == "" {
					return nil, fmt.Errorf("courier: template %s has no %s.subject.txt", name, base)
				}
				continue
			}
			var set templateSet
			set.subject, err = texttemplate.New(name+".subject.txt").Option("missingkey=error").Funcs(templateFuncs).ParseFS(fsys, base+".subject.txt")
			if err != nil {
				return nil, fmt.Errorf("courier: parse %s: %w", base, err)
			}
			set.text, err = texttemplate.New(name+".txt").Option("missingkey=error").Funcs(templateFuncs).ParseFS(fsys, base+".txt")
			if err != nil {
				return nil, fmt.Errorf("courier: parse %s: %w", base, err)
			}
			set.html, err = htmltemplate.New(name+".html").Option("missingkey=error").Funcs(templateFuncs).ParseFS(fsys, layout, base+".html")
			if err != nil {
				return nil, fmt.Errorf("courier: parse %s: %w", base, err)
			}
			sets[path.Join(loc, name)] = set
		}
	}
	return sets, nil
}

// lookup finds the templates for name in locale, falling back to the
// locale's language and then to the default locale.
func lookup(name, locale string) (templateSet, bool) {
	if locale != "" {
		if set, ok := parsed[path.Join(locale, name)]; ok {
			return set, true
		}
		if lang, _, ok := strings.Cut(locale, "-"); ok {
			if set, ok := parsed[path.Join(lang, name)]; ok {
				return set, true
			}
		}
	}
	set, ok := parsed[name]
	return set, ok
}

// Render renders m's template with m.Data. It fails when the template is
// unknown, a required Data key is missing, or m.To is not a bare address.
func Render(m Message) (Rendered, error) {
	spec, ok := catalog[m.Template]
	if !ok {
		return Rendered{}, fmt.Errorf("courier: render: unknown template %q", m.Template)
	}
	check := checkAddress
	if spec.sms {
		check = checkPhone
	}
	if err := check(m.To); err != nil {
		return Rendered{}, fmt.Errorf("courier: render %s: %w", m.Template, err)
	}
	if strings.ContainsAny(m.Locale, "/\\.") {
		return Rendered{}, fmt.Errorf("courier: render %s: invalid locale %q", m.Template, m.Locale)
	}
	data := make(map[string]any, len(m.Data)+len(spec.optional)+1)
	for _, k := range spec.optional {
		data[k] = nil
	}
	for k, v := range m.Data {
		data[k] = v
	}
	var missing []string
	for _, k := range spec.required {
		if data[k] == nil {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return Rendered{}, fmt.Errorf("courier: render %s: missing Data %s", m.Template, strings.Join(missing, ", "))
	}
	set, ok := lookup(m.Template, m.Locale)
	if !ok {
		return Rendered{}, fmt.Errorf("courier: render: no templates for %q", m.Template)
	}
	var subject, text, html bytes.Buffer
	if err := set.subject.Execute(&subject, data); err != nil {
		return Rendered{}, fmt.Errorf("courier: render %s subject: %w", m.Template, err)
	}
	// A subject is one line: template line breaks become spaces.
	subj := strings.Join(strings.Fields(subject.String()), " ")
	data["Subject"] = subj
	if err := set.text.Execute(&text, data); err != nil {
		return Rendered{}, fmt.Errorf("courier: render %s text: %w", m.Template, err)
	}
	if err := set.html.Execute(&html, data); err != nil {
		return Rendered{}, fmt.Errorf("courier: render %s html: %w", m.Template, err)
	}
	return Rendered{Subject: subj, Text: text.String(), HTML: html.String()}, nil
}

// checkPhone accepts a phone number in E.164 form.
func checkPhone(to string) error {
	if !IsPhone(to) {
		return errors.New("recipient is not a phone number in E.164 form")
	}
	return nil
}

// checkAddress accepts a bare address ("someone@example.com"): no display
// name, no list, no line breaks.
func checkAddress(to string) error {
	if to == "" {
		return errors.New("no recipient")
	}
	a, err := mail.ParseAddress(to)
	if err != nil || a.Name != "" || a.Address != to {
		return errors.New("recipient is not a bare email address")
	}
	return nil
}
