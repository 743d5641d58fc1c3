package i18n

import "testing"

// English is one Localizer for the process, of the built-in English
// catalogue, with its plural forms.
func TestEnglish(t *testing.T) {
	if English() != English() || English().Tag != Default {
		t.Fatal("English is not one English Localizer")
	}
	if got := English().T("code_resend_too_soon", "count", "1"); got != "Please wait 1 second before asking for another code." {
		t.Errorf("one: %q", got)
	}
	if got := English().T("code_resend_too_soon", "count", "30"); got != "Please wait 30 seconds before asking for another code." {
		t.Errorf("other: %q", got)
	}
}
