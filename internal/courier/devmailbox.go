package courier

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/foyer-id/foyer/internal/store"
)

// MailboxPath is where DevMailbox.Mount serves the dev mailbox.
const MailboxPath = "/dev/mailbox"

// DevMailbox serves the mail in the outbox as web pages, so a developer
// can read verification codes without a mail server:
//
//	GET /dev/mailbox            the newest mails: recipient, subject, time, status
//	GET /dev/mailbox/{id}       one mail: its text body, and its HTML body in a sandboxed frame
//	GET /dev/mailbox/{id}/html  the HTML body alone, under a CSP sandbox
//	GET /dev/mailbox/style.css  the pages' stylesheet
//
// It shows codes and addresses to anyone who can reach it, with no sign-in:
// the server mounts it in dev mode only, and never otherwise. In dev mode
// the Outbox should keep bodies (Outbox.KeepBodies), or sent mail shows
// without them. The pages use no JavaScript and no inline styles, under a
// strict Content-Security-Policy.
type DevMailbox struct {
	Outbox *Outbox
	Logger *slog.Logger
	// Limit is how many mails the list shows; 0 means 200.
	Limit int
}

//go:embed devmailbox
var mailboxFS embed.FS

var mailboxFuncs = template.FuncMap{
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"when":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
}

var mailboxPages = map[string]*template.Template{
	"list":     mustParseMailboxPage("list"),
	"show":     mustParseMailboxPage("show"),
	"notfound": mustParseMailboxPage("notfound"),
}

func mustParseMailboxPage(name string) *template.Template {
	return template.Must(template.New(name+".html").Funcs(mailboxFuncs).
		ParseFS(mailboxFS, "devmailbox/layout.html", "devmailbox/"+name+".html"))
}

var mailboxCSS = func() []byte {
	b, err := mailboxFS.ReadFile("devmailbox/style.css")
	if err != nil {
		panic(err)
	}
	return b
}()

// pageCSP allows the stylesheet and the frame of the HTML body, nothing
// else.
const pageCSP = "default-src 'none'; style-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// bodyCSP serves a mail's HTML in a sandbox (an opaque origin, no scripts,
// no forms) that only the mailbox page may frame. Mail carries inline
// styles; it loads nothing from the network.
const bodyCSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"

// Mount registers the dev mailbox routes on mux.
func (d *DevMailbox) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET "+MailboxPath, d.list)
	mux.HandleFunc("GET "+MailboxPath+"/style.css", d.style)
	mux.HandleFunc("GET "+MailboxPath+"/{id}", d.show)
	mux.HandleFunc("GET "+MailboxPath+"/{id}/html", d.html)
}

func (d *DevMailbox) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.Default()
	}
	return d.Logger
}

func securityHeaders(w http.ResponseWriter, csp string) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

// page is what every mailbox page template gets.
type page struct {
	Title   string
	Base    string
	Entries []Entry
	Entry   Entry
	Links   []string
	Message string
}

func (d *DevMailbox) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	p.Base = MailboxPath
	var buf bytes.Buffer
	if err := mailboxPages[name].Execute(&buf, p); err != nil {
		d.logger().ErrorContext(r.Context(), "courier: render dev mailbox page", slog.String("page", name), slog.String("error", err.Error()))
		http.Error(w, "The dev mailbox page could not be rendered.", http.StatusInternalServerError)
		return
	}
	securityHeaders(w, pageCSP)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (d *DevMailbox) list(w http.ResponseWriter, r *http.Request) {
	limit := d.Limit
	if limit <= 0 {
		limit = 200
	}
	entries, err := d.Outbox.List(r.Context(), limit)
	if err != nil {
		d.failed(w, r, err)
		return
	}
	d.render(w, r, http.StatusOK, "list", page{Title: "All mail", Entries: entries})
}

// linkPattern finds the web links in a text body.
var linkPattern = regexp.MustCompile(`https?://[^\s<>"]+`)

func (d *DevMailbox) show(w http.ResponseWriter, r *http.Request) {
	e, ok := d.get(w, r)
	if !ok {
		return
	}
	links := linkPattern.FindAllString(e.Text, -1)
	d.render(w, r, http.StatusOK, "show", page{Title: e.Subject, Entry: e, Links: links})
}

func (d *DevMailbox) html(w http.ResponseWriter, r *http.Request) {
	e, ok := d.get(w, r)
	if !ok {
		return
	}
	if e.HTML == "" {
		d.render(w, r, http.StatusNotFound, "notfound", page{Title: "No HTML body", Message: "This mail has no HTML body, or it was erased after delivery."})
		return
	}
	securityHeaders(w, bodyCSP)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(e.HTML))
}

func (d *DevMailbox) style(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w, "default-src 'none'")
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	_, _ = w.Write(mailboxCSS)
}

func (d *DevMailbox) get(w http.ResponseWriter, r *http.Request) (Entry, bool) {
	e, err := d.Outbox.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		d.render(w, r, http.StatusNotFound, "notfound", page{Title: "No such mail", Message: "There is no mail with this id in the outbox. It may have been pruned."})
		return Entry{}, false
	}
	if err != nil {
		d.failed(w, r, err)
		return Entry{}, false
	}
	return e, true
}

func (d *DevMailbox) failed(w http.ResponseWriter, r *http.Request, err error) {
	d.logger().ErrorContext(r.Context(), "courier: dev mailbox", slog.String("error", err.Error()))
	securityHeaders(w, pageCSP)
	http.Error(w, "The dev mailbox could not read the outbox.", http.StatusInternalServerError)
}
