// Package e2e holds Foyer's end-to-end tests: real headless Chromium
// driving the hosted pages of a real server (servertest) on a real store,
// with mail read from a real SMTP capture. The package has no code of its
// own; the tests are in the _test.go files.
//
// The browser tests need Chromium: FOYER_CHROMIUM names the binary, else
// /usr/bin/chromium or chromium, chromium-browser or google-chrome on PATH.
// Without one they skip, unless FOYER_TEST_BROWSER=1 (CI sets it), which
// makes a missing browser a failure.
package e2e
