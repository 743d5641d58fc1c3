package flow

import "testing"

// A notice names the device in a few words, and nothing of a User-Agent
// that names no known browser (see risk.Family).
func TestDescribeDevice(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0": "Firefox on Linux",
		"IT Security: all is fine, see https://evil.example/ok":                  "an app or device we could not identify",
		"": "an app or device we could not identify",
	} {
		if got := describeDevice(ua); got != want {
			t.Errorf("describeDevice(%q) = %q, want %q", ua, got, want)
		}
	}
}
