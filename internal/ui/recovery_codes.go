package ui

import (
	"html/template"
	"net/url"
	"strings"
	"time"
)

// Recovery codes are shown once, on the page that made them (the
// recovery_codes page, or the account page after a first passkey), and
// kept only hashed: nothing can send them again. So everything the page
// offers to keep them is in the page itself. Download is a data: URL
// made here, which needs no script; copying (the Clipboard API) and
// printing (a print stylesheet that keeps only the codes, with the
// product and the date) are assets/account.js's, and their buttons show
// only where it runs.

// CodesFile is the recovery codes made at made as a text file, for the
// page's Download link: the product, the account, the date, the codes
// one a line, and what they are for, in the page's language.
func (v view) CodesFile(codes []string, made time.Time) template.URL {
	var b strings.Builder
	b.WriteString(v.T("recovery_codes.file_title", "product", v.ProductName) + "\n")
	if v.Identity != nil {
		b.WriteString(v.T("recovery_codes.file_account", "email", v.Identity.Email().Value) + "\n")
	}
	b.WriteString(v.T("recovery_codes.file_made", "date", v.Date(made)) + "\n\n")
	for _, c := range codes {
		b.WriteString(c + "\n")
	}
	b.WriteString("\n" + v.T("recovery_codes.file_note") + "\n")
	// Built here from the catalogue and the codes, escaped whole: it is
	// safe as a URL.
	return template.URL("data:text/plain;charset=utf-8," + url.PathEscape(b.String()))
}

// CodesFileName names the downloaded file after the product:
// "acme-recovery-codes.txt".
func (v view) CodesFileName() string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(v.ProductName) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	name := strings.TrimSuffix(b.String(), "-")
	if name == "" {
		return "recovery-codes.txt"
	}
	return name + "-recovery-codes.txt"
}
