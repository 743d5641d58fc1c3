package upstreamtest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"time"
)

// s256 is a PKCE S256 challenge.
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// wait sleeps d, or less if the request is cancelled; it reports whether
// the request is still on.
func wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	// The server notices that the client went away only once it has read
	// the request's body.
	_ = r.ParseForm()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// hiddenInput is a field of a form_post page (written with html/template,
// so its attributes are quoted and escaped).
var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)

// authorize follows an authorization request the way a browser would up to
// the callback, and returns the callback's parameters: from the redirect's
// query, or from a form_post page's fields.
func authorize(client *http.Client, authURL string) (url.Values, error) {
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(authURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusFound, http.StatusSeeOther:
		loc, err := resp.Location()
		if err != nil {
			return nil, err
		}
		return loc.Query(), nil
	case http.StatusOK:
		v := url.Values{}
		for _, m := range hiddenInput.FindAllStringSubmatch(string(body), -1) {
			v.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
		}
		if len(v) == 0 {
			return nil, fmt.Errorf("authorize: a page without a form: %s", body)
		}
		return v, nil
	default:
		return nil, fmt.Errorf("authorize answered %s: %s", resp.Status, body)
	}
}
