// Package i18n holds the message catalogues of the customer-facing
// strings — hosted pages, their messages, mails — and chooses a
// customer's language.
//
// A catalogue is a set of JSON files per language (locales/<tag>/*.json),
// each an object of message id → text, or → plural forms
// ({"one": "…", "other": "…"}, the CLDR categories the language uses).
// Texts name their values in braces: "Enter the code we sent to {email}."
// The ids are stable: the pages carry them (data-id) and operators
// override texts by id from their own files (Load).
package i18n

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

//go:embed locales
var builtin embed.FS

// Default is the language of the built-in texts, and the last fallback.
var Default = language.English

// Message is one catalogue entry: a text, or its plural forms.
type Message struct {
	Text   string
	Plural map[string]string // CLDR category → text; nil for a plain text
}

// UnmarshalJSON reads a text or an object of plural forms.
func (m *Message) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &m.Text)
	}
	if err := json.Unmarshal(b, &m.Plural); err != nil {
		return errors.New("want a text or an object of plural forms")
	}
	for k := range m.Plural {
		if !slices.Contains(categories, k) {
			return fmt.Errorf("unknown plural form %q (want %s)", k, strings.Join(categories, ", "))
		}
	}
	if _, ok := m.Plural["other"]; !ok {
		return errors.New(`plural forms need "other"`)
	}
	return nil
}

// categories are the CLDR plural categories, by plural.Form.
var categories = []string{"other", "zero", "one", "two", "few", "many"}

// Catalog is every language's messages.
type Catalog struct {
	langs   map[language.Tag]map[string]Message
	tags    []language.Tag // Default first
	matcher language.Matcher
}

// Load reads the built-in catalogues and then, when dir is not "", the
// operator's: files named <tag>.json in dir (de.json, pt-BR.json), whose
// texts replace the built-in ones of the same id or add a language. An
// operator's file with an id the built-in English catalogue does not
// have, a text whose placeholders differ from the English one's, or a
// file that cannot be read is refused with its name.
func Load(dir string) (*Catalog, error) {
	c := &Catalog{langs: map[language.Tag]map[string]Message{}}
	roots, err := fs.ReadDir(builtin, "locales")
	if err != nil {
		return nil, err
	}
	for _, d := range roots {
		tag, err := language.Parse(d.Name())
		if err != nil || !d.IsDir() {
			return nil, fmt.Errorf("i18n: locales/%s: not a language directory", d.Name())
		}
		files, err := fs.Glob(builtin, path.Join("locales", d.Name(), "*.json"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			b, err := builtin.ReadFile(f)
			if err != nil {
				return nil, err
			}
			if err := c.add(tag, f, b, false); err != nil {
				return nil, err
			}
		}
	}
	if _, ok := c.langs[Default]; !ok {
		return nil, errors.New("i18n: no English catalogue")
	}
	if dir != "" {
		files, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			name := strings.TrimSuffix(filepath.Base(f), ".json")
			tag, err := language.Parse(name)
			if err != nil {
				return nil, fmt.Errorf("i18n: %s: %q is not a language tag (de, fr, pt-BR, …)", f, name)
			}
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("i18n: %w", err)
			}
			if err := c.add(tag, f, b, true); err != nil {
				return nil, err
			}
		}
	}
	c.tags = []language.Tag{Default}
	for tag := range c.langs {
		if tag != Default {
			c.tags = append(c.tags, tag)
		}
	}
	slices.SortFunc(c.tags[1:], func(a, b language.Tag) int { return strings.Compare(a.String(), b.String()) })
	c.matcher = language.NewMatcher(c.tags)
	return c, nil
}

// add reads one file of tag's messages. A built-in file may not repeat
// an id another built-in file of the language has; an operator's file
// replaces, and may only name ids the English catalogue has, with its
// placeholders.
func (c *Catalog) add(tag language.Tag, name string, b []byte, override bool) error {
	var msgs map[string]Message
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&msgs); err != nil {
		return fmt.Errorf("i18n: %s: %w", name, err)
	}
	m := c.langs[tag]
	if m == nil {
		m = map[string]Message{}
		c.langs[tag] = m
	}
	for id, msg := range msgs {
		if _, dup := m[id]; dup && !override {
			return fmt.Errorf("i18n: %s: %s is defined twice", name, id)
		}
		if override {
			en, ok := c.langs[Default][id]
			if !ok {
				return fmt.Errorf("i18n: %s: no message %s", name, id)
			}
			if want, got := Placeholders(en), Placeholders(msg); !slices.Equal(want, got) {
				return fmt.Errorf("i18n: %s: %s must use the placeholders %v, not %v", name, id, want, got)
			}
		}
		m[id] = msg
	}
	return nil
}

// Messages returns tag's messages (for tests and tools); nil for a
// language without a catalogue.
func (c *Catalog) Messages(tag language.Tag) map[string]Message { return c.langs[tag] }

// Choose picks the language to speak from what the customer's request
// says, in order: the ui_locales parameter (space-separated tags, the
// first one the catalogue has wins), the customer's saved preference, the
// Accept-Language header, then fallback (the domain's default); English
// when none of them is available.
func (c *Catalog) Choose(uiLocales, saved, acceptLanguage string, fallback language.Tag) language.Tag {
	if tag, ok := c.Pick(uiLocales); ok {
		return tag
	}
	if tag, ok := c.match(saved); ok {
		return tag
	}
	if wants, _, err := language.ParseAcceptLanguage(acceptLanguage); err == nil {
		for i, want := range wants {
			if i == 10 {
				break
			}
			if tag, ok := c.matchTag(want); ok {
				return tag
			}
		}
	}
	if _, ok := c.langs[fallback]; ok {
		return fallback
	}
	return Default
}

// Pick returns the first language of a ui_locales list (space-separated
// tags, most wanted first) the catalogue has.
func (c *Catalog) Pick(uiLocales string) (language.Tag, bool) {
	for i, want := range strings.Fields(uiLocales) {
		if i == 10 {
			break // a list no person writes
		}
		if tag, ok := c.match(want); ok {
			return tag, true
		}
	}
	return language.Und, false
}

// match finds the catalogue language for one tag, if it has one close
// enough (pt for pt-BR, de for de-CH; not fr for en).
func (c *Catalog) match(s string) (language.Tag, bool) {
	if s == "" || len(s) > 35 {
		return language.Und, false
	}
	want, err := language.Parse(s)
	if err != nil {
		return language.Und, false
	}
	return c.matchTag(want)
}

// matchTag finds the catalogue language of want's base language: the
// matcher alone would answer Swahili with English (a language of the
// same region), which the customer did not ask for.
func (c *Catalog) matchTag(want language.Tag) (language.Tag, bool) {
	_, i, conf := c.matcher.Match(want)
	wb, _ := want.Base()
	gb, _ := c.tags[i].Base()
	if conf < language.High || wb != gb {
		return language.Und, false
	}
	return c.tags[i], true
}

// Languages are the catalogue's languages, English first, each with its
// name in itself (the id language.name of its own messages; its tag when
// it has none), for a customer to choose from.
func (c *Catalog) Languages() []Language {
	out := make([]Language, len(c.tags))
	for i, tag := range c.tags {
		name := tag.String()
		if m, ok := c.langs[tag]["language.name"]; ok && m.Text != "" {
			name = m.Text
		}
		out[i] = Language{Tag: tag.String(), Name: name}
	}
	return out
}

// Language is a language of the catalogue: its tag and its own name.
type Language struct{ Tag, Name string }

// For returns a Localizer for tag (a catalogue language: Choose's).
func (c *Catalog) For(tag language.Tag) *Localizer {
	return &Localizer{Tag: tag, c: c}
}

// A Localizer speaks one language; a message its catalogue lacks comes in
// English.
type Localizer struct {
	Tag language.Tag
	c   *Catalog
}

// Lang is the language's tag as HTML's lang attribute and Content-Language
// write it.
func (l *Localizer) Lang() string { return l.Tag.String() }

// Has reports whether id is a message.
func (l *Localizer) Has(id string) bool {
	_, ok := l.c.langs[Default][id]
	return ok
}

// T returns message id with its placeholders filled from args, given as
// name, value pairs ("email", "ann@example.com", "count", 3); a plural
// message chooses its form by the value named count. An unknown id
// returns the id itself — and panics under go test, so that a page
// naming a message nobody wrote fails its tests.
func (l *Localizer) T(id string, args ...any) string {
	msg, ok := l.c.langs[l.Tag][id]
	tag := l.Tag
	if !ok {
		if msg, ok = l.c.langs[Default][id]; !ok {
			if testing.Testing() {
				panic(fmt.Sprintf("i18n: no message %q", id))
			}
			return id
		}
		tag = Default
	}
	text := msg.Text
	if msg.Plural != nil {
		n := 0
		for i := 0; i+1 < len(args); i += 2 {
			if args[i] == "count" {
				n, _ = toInt(args[i+1])
			}
		}
		form := plural.Cardinal.MatchPlural(tag, n, 0, 0, 0, 0)
		var ok bool
		if text, ok = msg.Plural[categories[form]]; !ok {
			text = msg.Plural["other"]
		}
	}
	if len(args) == 0 || !strings.Contains(text, "{") {
		return text
	}
	pairs := make([]string, 0, len(args))
	for i := 0; i+1 < len(args); i += 2 {
		pairs = append(pairs, "{"+fmt.Sprint(args[i])+"}", fmt.Sprint(args[i+1]))
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

// Reword returns the text of a message that was worded in English
// elsewhere (a journey's flow.Message) in l's language, from its id and
// the values of its placeholders; english when the catalogue has no such
// id, or args lack one of its placeholders (a message stored before it
// carried them).
func (l *Localizer) Reword(id string, args map[string]string, english string) string {
	msg, ok := l.c.langs[Default][id]
	if !ok {
		return english
	}
	pairs := make([]any, 0, 2*len(args))
	for _, name := range Placeholders(msg) {
		v, ok := args[name]
		if !ok {
			return english
		}
		pairs = append(pairs, name, v)
	}
	return l.T(id, pairs...)
}

func toInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case string:
		i, err := strconv.Atoi(n)
		return i, err == nil
	}
	return 0, false
}

// Placeholders lists the names a message's texts use, sorted, once each.
func Placeholders(m Message) []string {
	texts := []string{m.Text}
	for _, t := range m.Plural {
		texts = append(texts, t)
	}
	var names []string
	for _, t := range texts {
		for {
			i := strings.IndexByte(t, '{')
			if i < 0 {
				break
			}
			j := strings.IndexByte(t[i:], '}')
			if j < 0 {
				break
			}
			if name := t[i+1 : i+j]; !slices.Contains(names, name) {
				names = append(names, name)
			}
			t = t[i+j+1:]
		}
	}
	slices.Sort(names)
	return names
}

// Date returns t's day in l's language ("5 Dec 2026", "2026年12月5日"), in
// t's location.
func (l *Localizer) Date(t time.Time) string { return l.T("date.date", l.dateArgs(t)...) }

// DateTime returns t's day and time, with the zone's abbreviation, in t's
// location.
func (l *Localizer) DateTime(t time.Time) string { return l.T("date.datetime", l.dateArgs(t)...) }

func (l *Localizer) dateArgs(t time.Time) []any {
	return []any{"day", strconv.Itoa(t.Day()), "month", l.T("date.month_" + strconv.Itoa(int(t.Month()))),
		"month_number", strconv.Itoa(int(t.Month())), "year", strconv.Itoa(t.Year()),
		"time", t.Format("15:04"), "zone", t.Format("MST")}
}
