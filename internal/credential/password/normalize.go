package password

import (
	"strings"

	"golang.org/x/text/unicode/norm"
)

// Normalize returns s in Unicode Normalization Form KC. Hash, Verify and
// Policy.Check apply it to every password, so that the same password typed on
// different keyboards or platforms (composed or decomposed accents, ligatures,
// full-width forms) is the same secret.
func Normalize(s string) string {
	return norm.NFKC.String(s)
}

// fold is the case-insensitive form used to compare passwords with the
// common-password list and with context words: NFKC, lower case, and NFKC
// again because lower-casing may leave a string that is no longer normal.
// internal/gen applies the same steps to build common.txt.gz.
func fold(s string) string {
	return norm.NFKC.String(strings.ToLower(norm.NFKC.String(s)))
}
