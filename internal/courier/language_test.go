package courier

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/foyer-id/foyer/internal/courier/smtptest"
	"github.com/foyer-id/foyer/internal/i18n"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// dutch loads the built-in catalogues with an operator's nl.json that
// words part of the mails in Dutch (the rest comes in English).
func dutch(t *testing.T) *i18n.Catalog {
	t.Helper()
	dir := t.TempDir()
	const nl = `{
  "mail.verification_code.subject": "Je {product}-verificatiecode",
  "mail.verification_code.intro": "Hier is je code om dit e-mailadres voor {product} te bevestigen:",
  "mail.verification_code.expires": {"one": "Hij verloopt over {count} minuut.", "other": "Hij verloopt over {count} minuten."},
  "mail.verification_code.ignore": "Niet aangevraagd? Negeer deze e-mail.\nZonder de code kan niemand dit adres gebruiken bij {product}.",
  "mail.registration_existing.recover_link_html": "Wachtwoord vergeten? Dan kun je {link} <hier>.",
  "mail.security_notice.change": "Je {product}-account is gewijzigd: {change} (<b>let op</b> & controleer het).",
  "mail.registration_existing.recover_link_label": "je account herstellen",
  "mail.layout.sent_by": "Verstuurd door {product}"
}`
	if err := os.WriteFile(filepath.Join(dir, "nl.json"), []byte(nl), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := i18n.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Without a language, and in English, a mail is the one the golden files
// show; over SMTP it says it is in English.
func TestMailInEnglishByDefault(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		srv := smtptest.Start(t)
		w, _ := newTestWorker(t, db, newClock(), newSMTPSender(t, srv))
		w.Outbox.Catalog = dutch(t) // a catalogue with Dutch in it changes nothing for English mail
		m := codeMessage("alice@example.com", "428197")
		want, err := Render(m)
		if err != nil {
			t.Fatal(err)
		}
		en := m
		en.Lang = "en"
		if got, err := RenderWith(w.Outbox.Catalog, en); err != nil || got != want {
			t.Fatalf("Lang en: %v, want the mail without a language", err)
		}
		id := mustEnqueue(t, w.Outbox, m)
		if e := mustGet(t, w.Outbox, id); e.Lang != "en" {
			t.Errorf("stored Lang = %q, want en", e.Lang)
		}
		deliverDue(t, w)
		got, err := srv.WaitForMessage(waitCtx(t), "alice@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if got.Subject != "Your Acme verification code" || got.Subject != want.Subject || got.Text != want.Text || got.HTML != want.HTML {
			t.Errorf("delivered mail differs from the English one:\nsubject %q\ntext %q", got.Subject, got.Text)
		}
		if cl := got.Header.Get("Content-Language"); cl != "en" {
			t.Errorf("Content-Language = %q, want en", cl)
		}
		if !strings.Contains(got.HTML, `<html lang="en">`) {
			t.Error(`HTML body lacks <html lang="en">`)
		}
	})
}

// With an operator's catalogue, a mail asked for in Dutch comes in Dutch,
// says so, and keeps its code; the texts Dutch lacks come in English.
func TestMailInTheCustomersLanguage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		srv := smtptest.Start(t)
		w, _ := newTestWorker(t, db, newClock(), newSMTPSender(t, srv))
		w.Outbox.Catalog = dutch(t)
		m := codeMessage("bob@example.com", "551902")
		m.Lang = "nl-BE" // the closest language the catalogue has: nl
		id := mustEnqueue(t, w.Outbox, m)
		if e := mustGet(t, w.Outbox, id); e.Lang != "nl" || e.Subject != "Je Acme-verificatiecode" {
			t.Errorf("stored Lang %q, subject %q", e.Lang, e.Subject)
		}
		deliverDue(t, w)
		got, err := srv.WaitForMessage(waitCtx(t), "bob@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if got.Subject != "Je Acme-verificatiecode" {
			t.Errorf("Subject = %q", got.Subject)
		}
		if cl := got.Header.Get("Content-Language"); cl != "nl" {
			t.Errorf("Content-Language = %q, want nl", cl)
		}
		for _, want := range []string{
			`<html lang="nl">`,
			"Hier is je code om dit e-mailadres voor Acme te bevestigen:",
			"Hij verloopt over 15 minuten.",
			// A line break of the text body is a space in HTML.
			"Niet aangevraagd? Negeer deze e-mail. Zonder de code kan niemand dit adres gebruiken bij Acme.",
			"Verstuurd door Acme",
			">551902</p>",
			// Not in the Dutch file: English.
			"Verify your email address",
		} {
			if !strings.Contains(got.HTML, want) {
				t.Errorf("HTML body lacks %q:\n%s", want, got.HTML)
			}
		}
		for _, want := range []string{
			"Hello,\n\nHier is je code om dit e-mailadres voor Acme te bevestigen:\n\n    551902\n\nHij verloopt over 15 minuten.\n",
			"Niet aangevraagd? Negeer deze e-mail.\nZonder de code kan niemand dit adres gebruiken bij Acme.\n",
		} {
			if !strings.Contains(got.Text, want) {
				t.Errorf("text body lacks %q:\n%s", want, got.Text)
			}
		}

		// Plural forms follow the number.
		m.Data["ExpiresInMinutes"] = 1
		r, err := RenderWith(w.Outbox.Catalog, m)
		if err != nil || !strings.Contains(r.Text, "Hij verloopt over 1 minuut.") || !strings.Contains(r.HTML, "Hij verloopt over 1 minuut.") {
			t.Errorf("one minute: %v\n%s", err, r.Text)
		}
	})
}

// A language the catalogue lacks is English, over SMTP too.
func TestMailInALanguageWithoutCatalogue(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		srv := smtptest.Start(t)
		w, _ := newTestWorker(t, db, newClock(), newSMTPSender(t, srv))
		w.Outbox.Catalog = dutch(t)
		m := codeMessage("carol@example.com", "903114")
		want, _ := Render(m)
		m.Lang = "sw"
		mustEnqueue(t, w.Outbox, m)
		deliverDue(t, w)
		got, err := srv.WaitForMessage(waitCtx(t), "carol@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if got.Subject != want.Subject || got.Text != want.Text || got.HTML != want.HTML {
			t.Errorf("mail in sw differs from the English one:\nsubject %q\ntext %q", got.Subject, got.Text)
		}
		if cl := got.Header.Get("Content-Language"); cl != "en" {
			t.Errorf("Content-Language = %q, want en", cl)
		}
	})
}

// In HTML, a catalogue text keeps its apostrophes but not markup, values
// are escaped, and a link goes where the text puts its placeholder.
func TestMailTextsInHTML(t *testing.T) {
	c := dutch(t)
	product := `Acme's <b>"best"</b> +1`
	r, err := RenderWith(c, Message{Template: "registration_existing", To: "a@example.com", Lang: "nl", Data: map[string]any{
		"LoginURL": "https://id.acme.test/login", "RecoveryURL": "https://id.acme.test/recovery?a=1&b=2", "ProductName": product}})
	if err != nil {
		t.Fatal(err)
	}
	want := `Wachtwoord vergeten? Dan kun je <a href="https://id.acme.test/recovery?a=1&amp;b=2" style="color:#0b57d0;">je account herstellen</a> &lt;hier&gt;.`
	if !strings.Contains(r.HTML, want) {
		t.Errorf("HTML body lacks\n%s\n%s", want, r.HTML)
	}

	r, err = RenderWith(c, Message{Template: "security_notice", To: "a@example.com", Lang: "nl", Data: map[string]any{
		"Change": Text{ID: "notice.email_changed", Args: []any{"email", "<now>"}}, "AccountURL": "https://id.acme.test/account", "ProductName": product}})
	if err != nil {
		t.Fatal(err)
	}
	// Values as html/template escapes them elsewhere in the mail.
	want = `Je Acme&#39;s &lt;b&gt;&#34;best&#34;&lt;/b&gt; &#43;1-account is gewijzigd: the email address was changed to &lt;now&gt; (&lt;b&gt;let op&lt;/b&gt; &amp; controleer het).`
	if !strings.Contains(r.HTML, want) {
		t.Errorf("HTML body lacks\n%s\n%s", want, r.HTML)
	}
	if !strings.Contains(r.HTML, "Verstuurd door Acme&#39;s &lt;b&gt;&#34;best&#34;&lt;/b&gt; &#43;1</p>") ||
		!strings.Contains(r.HTML, "<title>Security change on your Acme&#39;s &lt;b&gt;&#34;best&#34;&lt;/b&gt; &#43;1 account</title>") {
		t.Errorf("layout:\n%s", r.HTML)
	}
	if strings.Contains(r.HTML, "<b>") || strings.Contains(r.HTML, "<now>") {
		t.Error("HTML body keeps markup from a text or a value")
	}
	// The text body is not HTML.
	if !strings.Contains(r.Text, "Je "+product+"-account is gewijzigd: the email address was changed to <now> (<b>let op</b> & controleer het).") ||
		!strings.Contains(r.Text, "If this was you, there is nothing to do.") {
		t.Errorf("text body:\n%s", r.Text)
	}
	// An English text keeps its apostrophe as the template had it; a
	// button's label is a value.
	r, err = RenderWith(c, Message{Template: "security_notice", To: "a@example.com", Data: map[string]any{
		"Change": Text{ID: "notice.password_changed"}, "AccountURL": "https://id.acme.test/account", "RevertURL": "https://id.acme.test/revert", "ProductName": "Acme"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.HTML, ">This wasn&#39;t me</a>") {
		t.Errorf("button label:\n%s", r.HTML)
	}
}

// tPattern finds the message ids the templates name.
var tPattern = regexp.MustCompile(`"(mail\.[a-z0-9_.]+)"`)

// Every message id a template names is in the English catalogue, and
// every mail message of the English catalogue is used by a template.
func TestTemplateMessagesAreInTheCatalogue(t *testing.T) {
	c, err := i18n.Load("")
	if err != nil {
		t.Fatal(err)
	}
	en := c.Messages(i18n.Default)
	used := map[string]bool{}
	err = fs.WalkDir(templateFS, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templateFS, path)
		if err != nil {
			return err
		}
		for _, m := range tPattern.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
			if _, ok := en[m[1]]; !ok {
				t.Errorf("%s names %s, which the English catalogue lacks", path, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var unused []string
	for id := range en {
		if strings.HasPrefix(id, "mail.") && !used[id] {
			unused = append(unused, id)
		}
	}
	slices.Sort(unused)
	if len(unused) > 0 {
		t.Errorf("no template uses %v", unused)
	}
}
