package e2e

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/foyer-id/foyer/internal/testsuites"
)

const (
	// chromiumEnv names the Chromium binary to use.
	chromiumEnv = "FOYER_CHROMIUM"
	// requireBrowserEnv, set to 1, makes a missing Chromium a failure
	// instead of a skip. CI sets it.
	requireBrowserEnv = "FOYER_TEST_BROWSER"
	// testTimeout bounds each browser test. It is a safety net against a
	// hung browser, not an assertion: nothing checks how long steps take.
	testTimeout = 60 * time.Second
)

// chromiumCandidates are tried in order when FOYER_CHROMIUM is not set:
// Debian's path first, then the usual names on PATH.
var chromiumCandidates = []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"}

// findChromium returns the Chromium binary, or "" and what was tried. An
// explicit FOYER_CHROMIUM is the only candidate, so a wrong path is
// reported rather than silently replaced by another browser.
func findChromium() (path, tried string) {
	candidates := chromiumCandidates
	if p := os.Getenv(chromiumEnv); p != "" {
		candidates = []string{p}
	}
	return lookPath(candidates)
}

// lookPath returns the first candidate that is an executable (a path, or
// a name on PATH), or "" and the candidates.
func lookPath(candidates []string) (path, tried string) {
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p, ""
		}
	}
	return "", strings.Join(candidates, ", ")
}

// requireChromium returns the Chromium binary, or skips the test (fails
// it when FOYER_TEST_BROWSER=1) when there is none.
func requireChromium(t *testing.T) string {
	t.Helper()
	path, tried := findChromium()
	if path != "" {
		return path
	}
	testsuites.Skip(t, "browser tests", "Chromium not found (tried "+tried+"): install it (apt-get install chromium) or set "+chromiumEnv,
		requireBrowserEnv+"=1")
	return ""
}

func TestFindChromium(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "chromium-browser")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	missing := filepath.Join(dir, "no-such-chromium")
	for _, tc := range []struct {
		candidates []string
		want       string
	}{
		{[]string{missing, "chromium", "chromium-browser"}, fake},
		{[]string{fake}, fake},
		{[]string{missing, "chromium"}, ""},
		{[]string{filepath.Join(dir)}, ""}, // a directory is not a browser
	} {
		got, tried := lookPath(tc.candidates)
		if got != tc.want {
			t.Errorf("lookPath(%q) = %q, want %q", tc.candidates, got, tc.want)
		}
		if got == "" && tried != strings.Join(tc.candidates, ", ") {
			t.Errorf("lookPath(%q) reports it tried %q", tc.candidates, tried)
		}
	}
}

// newTab starts a fresh headless Chromium for the test and returns the
// context of its first tab, limited to testTimeout. The browser, its
// temporary profile and its processes are gone when the test ends; its
// output is logged if the test failed.
func newTab(t *testing.T) context.Context {
	t.Helper()
	exe := requireChromium(t)
	out := &lockedBuffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		// The machine may have no network: keep Chromium from calling home,
		// where the failures would only add noise.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(out),
		// No UserDataDir: chromedp then creates a fresh temporary profile
		// for this browser and removes it, after killing any leftover
		// Chromium process, when the browser closes.
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		// Close the browser gracefully, waiting at most a few seconds, then
		// make sure everything is released.
		closeCtx, cancel := context.WithTimeout(browserCtx, 10*time.Second)
		if err := chromedp.Cancel(closeCtx); err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("close Chromium: %v", err)
		}
		cancel()
		cancelBrowser()
		cancelAlloc()
		if t.Failed() {
			t.Logf("Chromium output:\n%s", out.String())
		}
	})
	// The first Run starts the browser and ties its life to browserCtx, so
	// it must not carry the test's timeout.
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start Chromium %s: %v\n%s", exe, err, out.String())
	}
	ctx, cancel := context.WithTimeout(browserCtx, testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// lockedBuffer collects Chromium's output, written from another goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// open navigates to rawURL, waits for the page to load and returns the
// response of the document.
func open(t *testing.T, ctx context.Context, rawURL string) *network.Response {
	t.Helper()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(rawURL))
	if err != nil {
		t.Fatalf("open %s: %v", rawURL, err)
	}
	return resp
}

// do runs browser steps, failing the test with what was being done.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v\npage: %s", what, err, pageText(ctx))
	}
}

// eval evaluates a JavaScript expression in the page; promises are awaited.
func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// typeInto waits for the field sel to be visible and types text into it
// with key events, as a person (or a password manager) would.
func typeInto(t *testing.T, ctx context.Context, sel chromedp.CSS, text string) {
	t.Helper()
	do(t, ctx, "type into "+string(sel), chromedp.WaitVisible(sel), chromedp.SendKeys(sel, text))
}

// clickAndWait clicks sel, waits for the navigation it causes (following
// redirects) and returns the response of the new document.
func clickAndWait[S chromedp.Selectable](t *testing.T, ctx context.Context, sel S) *network.Response {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, chromedp.WaitVisible(sel), chromedp.Click(sel))
	if err != nil {
		t.Fatalf("click %v: %v\npage: %s", sel, err, pageText(ctx))
	}
	return resp
}

// pageText is the visible text of the current page, for messages.
func pageText(ctx context.Context) string {
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return s
}

// location is the current page's URL.
func location(t *testing.T, ctx context.Context) *url.URL {
	t.Helper()
	raw := eval[string](t, ctx, `document.location.href`)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("page URL %q: %v", raw, err)
	}
	return u
}

// cookie returns the browser's cookie name for rawURL, or nil.
func cookie(t *testing.T, ctx context.Context, rawURL, name string) *network.Cookie {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{rawURL}})
	if err != nil {
		t.Fatalf("get cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}
