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
	"strconv"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"

	"github.com/foyer-id/foyer/internal/i18n"
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
	// Lang is the language to word the mail in, a BCP 47 tag ("nl",
	// "pt-BR"), such as i18n.Catalog.Choose gives. The mail speaks the
	// catalogue's language closest to it (pt finds pt-BR, de-CH finds de);
	// "", or a language the catalogue lacks, means English. A text the
	// language's catalogue lacks comes in English.
	Lang string
	// NotAfter, when set, is when the mail stops being worth sending (the
	// code in it expires): undelivered by then, it is given up.
	NotAfter time.Time
	// App is the client id of the app whose journey the mail is part of
	// ("" for none): an app with a look of its own (Outbox.AppBrands)
	// gives the mail that look instead of the domain's.
	App string
}

// Rendered is a Message after rendering: the parts of the mail.
type Rendered struct {
	Subject string
	Text    string
	HTML    string
	// Lang is the language the mail is worded in (a catalogue language,
	// "en" by default), for its Content-Language.
	Lang string
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
	// The code that finishes a sign-up left before its code; Link is
	// the page to enter it on, when the customer is on none.
	"finish_sign_up": {
		required: []string{"Code", "ExpiresInMinutes", "ProductName"},
		optional: []string{"Link"},
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

// templateSet is one template: its subject, text body and HTML body.
type templateSet struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// parsed maps each template name to its templates as parsed, with
// translation functions that speak no language: they are never executed,
// only cloned for a language (see bind).
var parsed = mustParseTemplates(templateFS)

// The templates word the mail with these functions, bound to the mail's
// language (i18n.Localizer):
//
//	t "id" name value …     message id with its placeholders filled (name, value pairs;
//	                        a plural message chooses by "count")
//	lang                    the language's tag, for <html lang> (HTML only)
//	button url "id" .Brand  a link, the message id of its label and the domain's brand (its
//	                        accent colours the button), for the "button" block (HTML only)
//	around "id" "name" …    message id cut at its placeholder {name}: .Before and .After,
//	                        to put markup there, such as a link (HTML only)
//
// In the HTML body, t writes a message as it is written in the catalogue
// (but for &, < and >) with a line break as a space, and its values
// escaped: a line break in a mail text is where the plain-text body wraps
// its line.
func textFuncs(loc *i18n.Localizer) texttemplate.FuncMap {
	return texttemplate.FuncMap{
		"t":        func(id string, args ...any) string { return loc.T(id, args...) },
		"text":     func(t Text) string { return loc.T(t.ID, t.Args...) },
		"datetime": loc.DateTime,
	}
}

// Text is a message of the catalogues given as a mail's value (a security
// notice's change): the mail words it in its own language, {{text .Change}}.
type Text struct {
	ID   string
	Args []any // name, value pairs, as i18n.Localizer.T takes them
}

func htmlFuncs(loc *i18n.Localizer) htmltemplate.FuncMap {
	return htmltemplate.FuncMap{
		"t":        func(id string, args ...any) htmltemplate.HTML { return htmlMessage(loc, id, args) },
		"text":     func(t Text) string { return loc.T(t.ID, t.Args...) },
		"datetime": loc.DateTime,
		"lang":     func() string { return loc.Lang() },
		// The label is a value: the template escapes it.
		"button": func(url any, id string, brand *Brand) struct{ URL, Label, Accent any } {
			accent := defaultAccent
			if brand != nil && brand.Accent != "" {
				accent = brand.Accent
			}
			return struct{ URL, Label, Accent any }{url, loc.T(id), htmltemplate.CSS(accent)}
		},
		"around": func(id, name string, args ...any) struct{ Before, After htmltemplate.HTML } {
			msg := htmlMessage(loc, id, append(args, name, htmltemplate.HTML(cutMark)))
			before, after, _ := strings.Cut(string(msg), cutMark)
			return struct{ Before, After htmltemplate.HTML }{htmltemplate.HTML(before), htmltemplate.HTML(after)}
		},
	}
}

// cutMark stands for the placeholder around cuts a message at.
const cutMark = "\x00cut\x00"

var (
	// textEscaper writes a catalogue text in HTML. The text is shipped or
	// the operator's, like a template, so its quotes and apostrophes stay
	// as written; a line break is a space.
	textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\n", " ")
	// valueEscaper escapes a value as html/template does in text, so
	// that a value reads the same in a message as around it.
	valueEscaper = strings.NewReplacer("\x00", "\uFFFD", `"`, "&#34;", "&", "&amp;", "'", "&#39;", "+", "&#43;", "<", "&lt;", ">", "&gt;")
)

// htmlMessage words message id for the HTML body: see textFuncs. A value
// of type htmltemplate.HTML goes in as it is.
func htmlMessage(loc *i18n.Localizer, id string, args []any) htmltemplate.HTML {
	marked := make([]any, len(args))
	copy(marked, args)
	var values []string
	for i := 1; i < len(args); i += 2 {
		if args[i-1] == "count" && isInteger(args[i]) {
			continue // chooses the plural form; digits need no escaping
		}
		var v string
		if h, ok := args[i].(htmltemplate.HTML); ok {
			v = string(h)
		} else {
			v = valueEscaper.Replace(fmt.Sprint(args[i]))
		}
		marked[i] = "\x00" + strconv.Itoa(len(values)) + "\x00"
		values = append(values, v)
	}
	// The values are marked in the text while it is escaped, then put
	// in, escaped as values.
	text := textEscaper.Replace(loc.T(id, marked...))
	if len(values) > 0 {
		pairs := make([]string, 0, 2*len(values))
		for i, v := range values {
			pairs = append(pairs, "\x00"+strconv.Itoa(i)+"\x00", v)
		}
		text = strings.NewReplacer(pairs...).Replace(text)
	}
	return htmltemplate.HTML(text)
}

// isInteger reports whether v is a number of a kind i18n chooses a
// plural form by (an int, or a string of digits): its text needs no
// escaping.
func isInteger(v any) bool {
	switch n := v.(type) {
	case int, int64:
		return true
	case string:
		if n == "" {
			return false
		}
		for _, r := range n {
			if r < '0' || r > '9' {
				return false
			}
		}
		return true
	}
	return false
}

func mustParseTemplates(fsys fs.FS) map[string]templateSet {
	sets, err := parseTemplates(fsys)
	if err != nil {
		panic(err)
	}
	return sets
}

// parseTemplates parses templates/<name>.* for every catalog name, the
// HTML bodies with templates/layout.html.
func parseTemplates(fsys fs.FS) (map[string]templateSet, error) {
	sets := make(map[string]templateSet)
	for name := range catalog {
		base := path.Join("templates", name)
		var (
			set templateSet
			err error
		)
		set.subject, err = texttemplate.New(name+".subject.txt").Option("missingkey=error").Funcs(textFuncs(nil)).ParseFS(fsys, base+".subject.txt")
		if err != nil {
			return nil, fmt.Errorf("courier: parse %s: %w", base, err)
		}
		set.text, err = texttemplate.New(name+".txt").Option("missingkey=error").Funcs(textFuncs(nil)).ParseFS(fsys, base+".txt")
		if err != nil {
			return nil, fmt.Errorf("courier: parse %s: %w", base, err)
		}
		set.html, err = htmltemplate.New(name+".html").Option("missingkey=error").Funcs(htmlFuncs(nil)).ParseFS(fsys, "templates/layout.html", base+".html")
		if err != nil {
			return nil, fmt.Errorf("courier: parse %s: %w", base, err)
		}
		sets[name] = set
	}
	return sets, nil
}

// boundKey names a template bound to a language of a catalogue.
type boundKey struct {
	catalog *i18n.Catalog
	lang    string
	name    string
}

// bound holds the templates cloned for a language (boundKey →
// templateSet). A process has one catalogue, so this is bounded by its
// languages times the templates.
var bound sync.Map

// bind returns template name's templates speaking loc's language.
func bind(c *i18n.Catalog, loc *i18n.Localizer, name string) (templateSet, error) {
	key := boundKey{c, loc.Lang(), name}
	if set, ok := bound.Load(key); ok {
		return set.(templateSet), nil
	}
	base, ok := parsed[name]
	if !ok {
		return templateSet{}, fmt.Errorf("courier: render: no templates for %q", name)
	}
	// An HTML template can be cloned only before it runs: the parsed ones
	// never run, their clones do.
	html, err := base.html.Clone()
	if err != nil {
		return templateSet{}, fmt.Errorf("courier: render %s: %w", name, err)
	}
	subject, err := base.subject.Clone()
	if err != nil {
		return templateSet{}, fmt.Errorf("courier: render %s: %w", name, err)
	}
	text, err := base.text.Clone()
	if err != nil {
		return templateSet{}, fmt.Errorf("courier: render %s: %w", name, err)
	}
	set := templateSet{subject: subject.Funcs(textFuncs(loc)), text: text.Funcs(textFuncs(loc)), html: html.Funcs(htmlFuncs(loc))}
	got, _ := bound.LoadOrStore(key, set)
	return got.(templateSet), nil
}

// Render renders m's template with m.Data, in m.Lang from the built-in
// catalogue. It fails when the template is unknown, a required Data key is
// missing, or m.To is not a bare address.
func Render(m Message) (Rendered, error) { return RenderWith(nil, m) }

// RenderWith is Render with the texts of c (the operator's catalogue, see
// i18n.Load); nil c means the built-in one.
func RenderWith(c *i18n.Catalog, m Message) (Rendered, error) {
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
	data := make(map[string]any, len(m.Data)+len(spec.optional)+1)
	for _, k := range spec.optional {
		data[k] = nil
	}
	data["Brand"] = (*Brand)(nil) // the layout's; Outbox sets it
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
	if c == nil {
		c = i18n.Builtin()
	}
	lang := i18n.Default
	if tag, ok := c.Pick(m.Lang); ok {
		lang = tag
	}
	loc := c.For(lang)
	set, err := bind(c, loc, m.Template)
	if err != nil {
		return Rendered{}, err
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
	return Rendered{Subject: subj, Text: text.String(), HTML: html.String(), Lang: loc.Lang()}, nil
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

// Brand is how the domain's mails look (its branding): the accent colours
// buttons and links, the logo heads the mail, the links end it. Outbox
// gives it to every mail's templates as .Brand.
type Brand struct {
	// Accent is a #rrggbb colour that keeps 4.5:1 on white.
	Accent string
	// LogoURL is the absolute URL of the logo image.
	LogoURL string
	// Support, Privacy and Terms are the footer's links ("" for none).
	Support, Privacy, Terms string
	// ProductName, when set, names the sender in place of the mail's
	// ProductName: an app's own name (branding.apps).
	ProductName string
}

// defaultAccent is the buttons' colour without a brand.
const defaultAccent = "#0b57d0"
