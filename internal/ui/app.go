package ui

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	foidc "github.com/foyer-id/foyer/internal/oidc"
)

// App is what a page shows of the app that sent the customer: every page
// of a journey that will end at the app says so ("to continue to Shop"),
// with the app's logo, and offers the way back to it.
type App struct {
	// ClientID is the app's client id, by which it may have a look of
	// its own (branding.apps).
	ClientID  string
	Name      string
	ClientURI string
	LogoURI   string
	PolicyURI string
	TosURI    string
	// RequestID is the authorization request the journey answers.
	RequestID string
	// UILocales are the languages the app asked for (ui_locales).
	UILocales string
}

// appFor returns the app a journey's return_to leads back to — an
// authorization request of this browser's — or nil.
func (p *Pages) appFor(w http.ResponseWriter, r *http.Request, returnTo string) *App {
	if p.OAuth == nil || !strings.HasPrefix(returnTo, foidc.ContinuePath+"?") {
		return nil
	}
	u, err := url.Parse(returnTo)
	if err != nil {
		return nil
	}
	pd, err := p.OAuth.Pending(r.Context(), u.Query().Get("id"), binding(p.Cookies.browserSecret(w, r)))
	if err != nil {
		return nil
	}
	c := pd.Client
	return &App{ClientID: c.ID, Name: c.Name, ClientURI: c.ClientURI, LogoURI: c.LogoURI, PolicyURI: c.PolicyURI, TosURI: c.TosURI, RequestID: pd.Request.ID,
		UILocales: locales(pd.Request.Request.UILocales)}
}

// locales writes an authorization request's ui_locales back as sent.
func locales(tags oidc.Locales) string {
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = t.String()
	}
	return strings.Join(out, " ")
}

// allowImage lets the page show images from the origin of src (an app's
// logo), adding it to img-src of the page's Content-Security-Policy.
func allowImage(h http.Header, src string) {
	u, err := url.Parse(src)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return
	}
	csp := h.Get("Content-Security-Policy")
	h.Set("Content-Security-Policy", strings.Replace(csp, "img-src 'self' data:", "img-src 'self' data: "+u.Scheme+"://"+u.Host, 1))
}

// POST /oauth/cancel?id=: the customer goes back to the app without
// signing in; the app hears access_denied.
func (p *Pages) oauthCancel(w http.ResponseWriter, r *http.Request) {
	pd := p.oauthPending(w, r)
	if pd == nil {
		return
	}
	if err := p.OAuth.Cancel(w, r, pd); err != nil {
		p.fail(w, r, err)
	}
}
