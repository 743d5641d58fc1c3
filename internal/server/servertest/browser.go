package servertest

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Browser is a cookie-keeping HTTP client that does not follow redirects,
// so tests see every 303.
type Browser struct {
	t    testing.TB
	base string
	HTTP *http.Client
	// Header is sent with every request (Accept-Language, …).
	Header http.Header
}

// NewBrowser returns a Browser for env.
func (e *Env) NewBrowser(t testing.TB) *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{t: t, base: e.URL, Header: http.Header{}, HTTP: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Response is a read response.
type Response struct {
	*http.Response
	Body string
}

func (b *Browser) do(req *http.Request) *Response {
	b.t.Helper()
	for k, v := range b.Header {
		req.Header[k] = v
	}
	resp, err := b.HTTP.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return &Response{Response: resp, Body: string(body)}
}

// Base is the server's URL the browser's paths are relative to.
func (b *Browser) Base() string { return b.base }

// Get fetches a path.
func (b *Browser) Get(path string) *Response {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	return b.do(req)
}

// Post submits a form as a same-origin browser would.
func (b *Browser) Post(path string, form url.Values) *Response {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// CSRF returns the first CSRF token on a page.
func CSRF(t testing.TB, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf token in page:\n%s", page)
	}
	return m[1]
}

// Submit loads path, fills the form's CSRF token into values and posts it
// to the page's form action. It returns the POST response.
func (b *Browser) Submit(path string, values url.Values) *Response {
	b.t.Helper()
	page := b.Get(path)
	if page.StatusCode != http.StatusOK {
		b.t.Fatalf("GET %s: %d\n%s", path, page.StatusCode, page.Body)
	}
	values.Set("csrf_token", CSRF(b.t, page.Body))
	return b.Post(path, values)
}

// Cookie returns the value of a cookie the browser holds for the server.
func (b *Browser) Cookie(name string) string {
	u, _ := url.Parse(b.base)
	for _, c := range b.HTTP.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// JSON sends a JSON request with an optional bearer token and decodes the
// answer into out (if not nil). It may run on any goroutine (tests send
// bursts of requests at once): a request that fails, or an answer that
// does not decode, fails the test with t.Errorf, and the Response then
// has status 0.
func (e *Env) JSON(t testing.TB, method, path, token string, body any, out any) *Response {
	t.Helper()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return e.JSONWith(t, method, path, h, body, out)
}

// JSONWith is JSON with request headers of the caller's (a device id, a
// solved challenge, X-Forwarded-For behind a trusted proxy).
func (e *Env) JSONWith(t testing.TB, method, path string, h http.Header, body any, out any) *Response {
	t.Helper()
	var r io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			r = strings.NewReader(s)
		} else {
			raw, _ := json.Marshal(body)
			r = strings.NewReader(string(raw))
		}
	}
	req, _ := http.NewRequest(method, e.URL+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		// t.Fatal must not be called off the test's own goroutine.
		t.Errorf("%s %s: %v", method, path, err)
		return &Response{Response: &http.Response{Header: http.Header{}}}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Errorf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return &Response{Response: resp, Body: string(raw)}
}

// Field returns the value of the first input with the given name on a page.
func Field(t testing.TB, page, name string) string {
	t.Helper()
	re := regexp.MustCompile(`name="` + regexp.QuoteMeta(name) + `" value="([^"]*)"`)
	m := re.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no field %s in page", name)
	}
	return html.UnescapeString(m[1])
}
