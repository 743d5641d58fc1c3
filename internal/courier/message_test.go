package courier

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// renderCases are the mails the golden files show.
var renderCases = []struct {
	name string
	msg  Message
}{
	{"verification_code", Message{Template: "verification_code", To: "alice@example.com", Data: map[string]any{
		"Code": "428197", "ExpiresInMinutes": 15, "ProductName": "Acme"}}},
	{"verification_code_link", Message{Template: "verification_code", To: "alice@example.com", Data: map[string]any{
		"Code": "428197", "ExpiresInMinutes": 1, "ProductName": "Acme",
		"Link": "https://id.acme.test/verify?flow=f1&code=428197"}}},
	{"login_code", Message{Template: "login_code", To: "alice@example.com", Data: map[string]any{
		"Code": "903114", "ExpiresInMinutes": 10, "ProductName": "Acme"}}},
	{"recovery_code", Message{Template: "recovery_code", To: "alice@example.com", Data: map[string]any{
		"Code": "551902", "ExpiresInMinutes": 15, "ProductName": "Acme"}}},
	{"finish_sign_up", Message{Template: "finish_sign_up", To: "alice@example.com", Data: map[string]any{
		"Code": "730284", "ExpiresInMinutes": 15, "ProductName": "Acme"}}},
	{"finish_sign_up_link", Message{Template: "finish_sign_up", To: "alice@example.com", Data: map[string]any{
		"Code": "730284", "ExpiresInMinutes": 15, "ProductName": "Acme", "Link": "https://id.acme.test/login?flow=f1"}}},
	{"sms_code", Message{Template: "sms_code", To: "+447946000123", Data: map[string]any{
		"Code": "204816", "ExpiresInMinutes": 15, "ProductName": "Acme", "Host": "id.acme.test"}}},
	{"security_notice_sms", Message{Template: "security_notice_sms", To: "+447946000123", Data: map[string]any{
		"Change": Text{ID: "notice.password_changed"}, "AccountURL": "https://id.acme.test/account", "ProductName": "Acme",
		"RevertURL": "https://id.acme.test/revert?token=fyr_abc"}}},
	{"registration_existing", Message{Template: "registration_existing", To: "alice@example.com", Data: map[string]any{
		"LoginURL": "https://id.acme.test/login", "ProductName": "Acme"}}},
	{"registration_existing_recovery", Message{Template: "registration_existing", To: "alice@example.com", Data: map[string]any{
		"LoginURL": "https://id.acme.test/login", "RecoveryURL": "https://id.acme.test/recovery", "ProductName": "Acme"}}},
	{"security_notice", Message{Template: "security_notice", To: "alice@example.com", Data: map[string]any{
		"Change": Text{ID: "notice.totp_on"}, "AccountURL": "https://id.acme.test/account", "ProductName": "Acme"}}},
	{"security_notice_revert", Message{Template: "security_notice", To: "alice@example.com", Data: map[string]any{
		"Change": Text{ID: "notice.password_changed"}, "AccountURL": "https://id.acme.test/account", "ProductName": "Acme",
		"RevertURL": "https://id.acme.test/revert?token=fyr_abc"}}},
	{"sign_in_notice", Message{Template: "sign_in_notice", To: "alice@example.com", Data: map[string]any{
		"ByCode": true, "FirstStepOnly": false, "Device": "Firefox on Linux", "When": time.Date(2026, 12, 5, 10, 4, 0, 0, time.UTC), "Network": "198.51.100.7",
		"AccountURL": "https://id.acme.test/account", "ProductName": "Acme"}}},
	{"sign_in_notice_first_step", Message{Template: "sign_in_notice", To: "alice@example.com", Data: map[string]any{
		"ByCode": true, "FirstStepOnly": true, "Device": "Safari on iPhone", "When": time.Date(2026, 12, 5, 10, 4, 0, 0, time.UTC), "Network": "198.51.100.7",
		"AccountURL": "https://id.acme.test/account", "ProductName": "Acme"}}},
	{"sign_in_notice_new_device", Message{Template: "sign_in_notice", To: "alice@example.com", Data: map[string]any{
		"ByCode": false, "FirstStepOnly": false, "Device": "Chrome on Android", "When": time.Date(2026, 12, 5, 10, 4, 0, 0, time.UTC), "Network": "198.51.100.7",
		"AccountURL": "https://id.acme.test/account", "ProductName": "Acme"}}},
	{"sign_in_notice_unknown_device", Message{Template: "sign_in_notice", To: "alice@example.com", Data: map[string]any{
		"ByCode": false, "FirstStepOnly": false, "Device": "", "When": time.Date(2026, 12, 5, 10, 4, 0, 0, time.UTC), "Network": "198.51.100.7",
		"AccountURL": "https://id.acme.test/account", "ProductName": "Acme"}}},
	{"sign_in_notice_known_device", Message{Template: "sign_in_notice", To: "alice@example.com", Data: map[string]any{
		"Known": true, "ByCode": false, "FirstStepOnly": false, "Device": "Chrome on Android", "When": time.Date(2026, 12, 5, 10, 4, 0, 0, time.UTC), "Network": "198.51.100.7",
		"AccountURL": "https://id.acme.test/account", "ProductName": "Acme"}}},
}

// TestRenderGolden compares each rendered mail with its golden file; run
// with -update after changing a template, and review the diff.
func TestRenderGolden(t *testing.T) {
	for _, tc := range renderCases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Render(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			got := "Subject: " + r.Subject + "\n\n===== text/plain =====\n" + r.Text + "\n===== text/html =====\n" + r.HTML
			path := filepath.Join("testdata", "golden", tc.name+".txt")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("rendered mail differs from %s (run go test -update and review the diff):\n%s", path, got)
			}
		})
	}
}

// Every shipped template renders, with no remote content and with its code
// out of the subject (subjects stay at rest after delivery).
func TestTemplatesAreSelfContained(t *testing.T) {
	covered := map[string]bool{}
	for _, tc := range renderCases {
		covered[tc.msg.Template] = true
		r, err := Render(tc.msg)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"<img", "<script", "src=", "<link", "url(", "@import"} {
			if strings.Contains(strings.ToLower(r.HTML), bad) {
				t.Errorf("%s: HTML contains %q", tc.name, bad)
			}
		}
		if code, ok := tc.msg.Data["Code"].(string); ok {
			if strings.Contains(r.Subject, code) {
				t.Errorf("%s: subject %q contains the code", tc.name, r.Subject)
			}
			if !strings.Contains(r.Text, code) || !strings.Contains(r.HTML, code) {
				t.Errorf("%s: the code is missing from a body", tc.name)
			}
		}
		if !strings.Contains(r.HTML, `<html lang="en">`) {
			t.Errorf("%s: HTML has no language", tc.name)
		}
	}
	for _, name := range Templates() {
		if !covered[name] {
			t.Errorf("template %s has no golden case", name)
		}
	}
}

func TestRenderEscapes(t *testing.T) {
	r, err := Render(Message{Template: "verification_code", To: "a@example.com", Data: map[string]any{
		"Code": "1", "ExpiresInMinutes": 5, "ProductName": `<b onclick="x">Evil</b>`,
		"Link": "javascript:alert(1)"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.HTML, "<b onclick") {
		t.Error("HTML does not escape Data")
	}
	if strings.Contains(r.HTML, `href="javascript:`) {
		t.Error("HTML keeps a javascript: link")
	}
	// Plain text is not HTML: it shows values as they are.
	if !strings.Contains(r.Text, `<b onclick="x">Evil</b>`) {
		t.Error("text body escapes Data")
	}
}

func TestRenderErrors(t *testing.T) {
	ok := map[string]any{"Code": "1", "ExpiresInMinutes": 5, "ProductName": "Acme"}
	tests := []struct {
		name string
		msg  Message
		want string
	}{
		{"unknown template", Message{Template: "nope", To: "a@example.com", Data: ok}, "unknown template"},
		{"missing data", Message{Template: "verification_code", To: "a@example.com", Data: map[string]any{"ProductName": "Acme"}}, "missing Data Code, ExpiresInMinutes"},
		{"no recipient", Message{Template: "verification_code", Data: ok}, "no recipient"},
		{"display name", Message{Template: "verification_code", To: "Alice <a@example.com>", Data: ok}, "not a bare email address"},
		{"header injection", Message{Template: "verification_code", To: "a@example.com\r\nBcc: b@example.com", Data: ok}, "not a bare email address"},
		{"two recipients", Message{Template: "verification_code", To: "a@example.com, b@example.com", Data: ok}, "not a bare email address"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Render(tc.msg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// A language the catalogue lacks, or no language, is English.
func TestRenderLanguageFallsBackToEnglish(t *testing.T) {
	m := renderCases[0].msg
	want, err := Render(m)
	if err != nil {
		t.Fatal(err)
	}
	if want.Lang != "en" {
		t.Errorf("Lang = %q, want en", want.Lang)
	}
	for _, lang := range []string{"en", "en-GB", "sw", "tlh", "../x", "not a tag !"} {
		m.Lang = lang
		got, err := Render(m)
		if err != nil || got != want {
			t.Errorf("language %q: %v, want the English mail", lang, err)
		}
	}
}

func TestSubjectIsOneLine(t *testing.T) {
	r, err := Render(Message{Template: "login_code", To: "a@example.com", Data: map[string]any{
		"Code": "1", "ExpiresInMinutes": 5, "ProductName": "Acme\r\nBcc: x@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(r.Subject, "\r\n") {
		t.Fatalf("subject %q spans lines", r.Subject)
	}
}
