package i18n

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

// Shipped are the languages Foyer ships, each complete.
var Shipped = []string{"en", "de", "fr", "es", "pt-BR", "ja"}

func load(t *testing.T, dir string) *Catalog {
	t.Helper()
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Every shipped language has every message of the English catalogue,
// with the same placeholders, and the plural forms its numbers need; and
// nothing the English one lacks.
func TestCatalogsComplete(t *testing.T) {
	c := load(t, "")
	en := c.Messages(Default)
	if len(en) == 0 {
		t.Fatal("no English messages")
	}
	for _, name := range Shipped {
		tag := language.MustParse(name)
		msgs := c.Messages(tag)
		if msgs == nil {
			t.Errorf("%s: no catalogue", name)
			continue
		}
		for id, want := range en {
			got, ok := msgs[id]
			if !ok {
				t.Errorf("%s: missing %s", name, id)
				continue
			}
			if w, g := Placeholders(want), Placeholders(got); !slices.Equal(w, g) {
				t.Errorf("%s: %s uses placeholders %v, English %v", name, id, g, w)
			}
			if (want.Plural == nil) != (got.Plural == nil) {
				t.Errorf("%s: %s: plural forms in one language but not the other", name, id)
				continue
			}
			for n := range 1000 {
				form := plural.Cardinal.MatchPlural(tag, n, 0, 0, 0, 0)
				if _, ok := got.Plural[categories[form]]; got.Plural != nil && !ok {
					t.Errorf("%s: %s lacks the %q form (for %d)", name, id, categories[form], n)
					break
				}
			}
			if strings.TrimSpace(got.Text) == "" && got.Plural == nil {
				t.Errorf("%s: %s is empty", name, id)
			}
		}
		for id := range msgs {
			if _, ok := en[id]; !ok {
				t.Errorf("%s: %s is not an English message", name, id)
			}
		}
	}
}

func TestPluralsAndPlaceholders(t *testing.T) {
	c := load(t, "")
	en := c.For(Default)
	if got := en.T("challenge.needs_script", "count", 1); !strings.Contains(got, "wait 1 minute before") {
		t.Errorf("one: %q", got)
	}
	if got := en.T("challenge.needs_script", "count", 5); !strings.Contains(got, "wait 5 minutes before") {
		t.Errorf("other: %q", got)
	}
}

func TestChoose(t *testing.T) {
	c := load(t, "")
	de, fr, ja, ptBR := language.German, language.French, language.Japanese, language.MustParse("pt-BR")
	for _, tc := range []struct {
		ui, saved, accept string
		fallback          language.Tag
		want              language.Tag
	}{
		{"", "", "", language.English, language.English},
		{"", "", "", de, de},
		{"", "", "", language.Swahili, language.English}, // a default without a catalogue
		{"", "", "fr-CH, en;q=0.8", language.English, fr},
		{"", "", "sw, ja;q=0.5", language.English, ja},
		{"", "de", "fr", language.English, de},
		{"ja", "de", "fr", language.English, ja},
		{"xx-unknown pt-BR", "de", "fr", language.English, ptBR},
		{"pt", "", "", language.English, ptBR},
		{"sw", "", "de", language.English, de},
		{"", "not a tag !", "", language.English, language.English},
	} {
		if got := c.Choose(tc.ui, tc.saved, tc.accept, tc.fallback); got != tc.want {
			t.Errorf("Choose(%q, %q, %q, %s) = %s, want %s", tc.ui, tc.saved, tc.accept, tc.fallback, got, tc.want)
		}
	}
}

// An operator's file replaces texts by id, adds a language, and is
// refused with its name when it names an unknown id or other
// placeholders.
func TestOperatorFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("en.json", `{"login.submit": "Log in"}`)
	write("nl.json", `{"login.submit": "Inloggen"}`)
	c := load(t, dir)
	if got := c.For(Default).T("login.submit"); got != "Log in" {
		t.Errorf("override: %q", got)
	}
	nl := language.Dutch
	if got := c.Choose("nl", "", "", Default); got != nl {
		t.Errorf("added language not chosen: %s", got)
	}
	if got := c.For(nl).T("login.submit"); got != "Inloggen" {
		t.Errorf("added language: %q", got)
	}
	if got := c.For(nl).T("login.title"); got != "Sign in" {
		t.Errorf("a text the added language lacks comes in English: %q", got)
	}

	for _, bad := range []struct{ file, body, want string }{
		{"de.json", `{"login.nope": "x"}`, "no message login.nope"},
		{"de.json", `{"challenge.needs_script": {"other": "{minutes}"}}`, "must use the placeholders [count]"},
		{"de.json", `{"login.submit": 3}`, "want a text"},
		{"de.json", `{"challenge.needs_script": {"one": "{count}"}}`, `need "other"`},
		{"klingon!.json", `{}`, "not a language tag"},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, bad.file), []byte(bad.body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), bad.file) {
			t.Errorf("%s %s: %v, want %q", bad.file, bad.body, err, bad.want)
		}
	}
}
