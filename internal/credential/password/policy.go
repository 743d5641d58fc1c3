package password

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Policy is what Foyer asks of a new password, after NIST SP 800-63B: a length
// range, the common-password list and the person's own identifiers, and no
// composition rules (no required digits, symbols or mixed case).
type Policy struct {
	// MinLength is the fewest code points a password may have after NFKC
	// normalisation.
	MinLength int
	// MaxLength is the most code points a password may have after NFKC
	// normalisation.
	MaxLength int
}

// maxPolicyLength bounds Policy.MaxLength, which keeps Check's work small.
const maxPolicyLength = 1024

// DefaultPolicy returns a Policy of 8 to 256 code points: the NIST minimum for
// a password used with a second factor. See the package documentation for
// password-only accounts.
func DefaultPolicy() Policy {
	return Policy{MinLength: 8, MaxLength: 256}
}

// Validate reports whether p is usable. The error names the field and the
// bound it breaks.
func (p Policy) Validate() error {
	switch {
	case p.MinLength < 1:
		return fmt.Errorf("password: policy: min length must be at least 1, got %d", p.MinLength)
	case p.MaxLength < p.MinLength:
		return fmt.Errorf("password: policy: max length must be at least min length %d, got %d", p.MinLength, p.MaxLength)
	case p.MaxLength > maxPolicyLength:
		return fmt.Errorf("password: policy: max length must be at most %d, got %d", maxPolicyLength, p.MaxLength)
	}
	return nil
}

// Check reports whether password may be chosen under p. context holds strings
// tied to the account that a password must not resemble: the email address,
// the username, the person's name, the service's name. Empty context strings
// are ignored.
//
// A rejected password gives a *Violation, the first that applies of:
// ReasonInvalidText (not UTF-8, or a character nobody types: a control
// character, or U+FFFD, which a client puts for what it could not
// encode), ReasonEmpty (nothing but white space and invisible formatting
// characters), ReasonTooShort, ReasonTooLong (in
// code points after NFKC), ReasonCommon (IsCommon) and
// ReasonSimilarToIdentifier (see below). An invalid p gives p.Validate's
// error instead, which is not a *Violation.
//
// Comparisons with context ignore case and use NFKC. From each context string
// Check takes the whole string, the local part if it looks like an email
// address, and the words of that local part or name (runs of letters and
// digits); only the first 256 code points of a context string are read. The
// password is too similar to such a word when any of these holds:
//   - it equals the word;
//   - the word has at least 4 code points and the password contains it, or
//     contains it reversed;
//   - the password has at least 4 code points and the word contains it;
//   - the word has at least 4 code points and the two are at most a quarter
//     of the longer one's length apart in Levenshtein distance (for example
//     "zacharias" and "zachariaz1").
func (p Policy) Check(password string, context ...string) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if !utf8.ValidString(password) || strings.ContainsFunc(password, untypeable) {
		return &Violation{Reason: ReasonInvalidText}
	}
	pw := Normalize(password)
	if strings.TrimFunc(pw, invisible) == "" {
		return &Violation{Reason: ReasonEmpty}
	}
	n := utf8.RuneCountInString(pw)
	if n < p.MinLength {
		return &Violation{Reason: ReasonTooShort, Limit: p.MinLength}
	}
	if n > p.MaxLength {
		return &Violation{Reason: ReasonTooLong, Limit: p.MaxLength}
	}
	folded := fold(pw)
	if commonList().contains(folded) {
		return &Violation{Reason: ReasonCommon}
	}
	for _, c := range context {
		for _, word := range contextWords(c) {
			if similar(folded, word) {
				return &Violation{Reason: ReasonSimilarToIdentifier}
			}
		}
	}
	return nil
}

// untypeable reports a character a password cannot hold: a control
// character other than white space (NUL, escapes) or the replacement
// character, which many different inputs turn into.
func untypeable(r rune) bool {
	return unicode.IsControl(r) && !unicode.IsSpace(r) || r == utf8.RuneError
}

// invisible reports a character that shows nothing: white space, or a
// format character (zero-width space and joiners, direction marks).
func invisible(r rune) bool {
	return unicode.IsSpace(r) || unicode.Is(unicode.Cf, r)
}

// Bounds of the context comparison, in code points.
const (
	minContextWord = 4
	maxContextRead = 256
)

// contextWords returns the folded words of a context string that a password
// must not resemble: the whole string, the local part of an email address,
// and the runs of letters and digits in the local part or name.
func contextWords(s string) []string {
	s = fold(strings.TrimSpace(s))
	if utf8.RuneCountInString(s) > maxContextRead {
		s = string([]rune(s)[:maxContextRead])
	}
	if s == "" {
		return nil
	}
	words := []string{s}
	base := s
	if at := strings.LastIndexByte(s, '@'); at > 0 {
		base = s[:at]
		words = append(words, base)
	}
	for _, w := range strings.FieldsFunc(base, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r)
	}) {
		if w != base {
			words = append(words, w)
		}
	}
	return words
}

// similar reports whether the folded password pw is too close to the folded
// context word w; the rules are listed on Policy.Check.
func similar(pw, w string) bool {
	if pw == w {
		return true
	}
	wn := utf8.RuneCountInString(w)
	pn := utf8.RuneCountInString(pw)
	if wn >= minContextWord && (strings.Contains(pw, w) || strings.Contains(pw, reverse(w))) {
		return true
	}
	if pn >= minContextWord && strings.Contains(w, pw) {
		return true
	}
	if wn < minContextWord {
		return false
	}
	longer := max(pn, wn)
	limit := longer / 4
	if abs(pn-wn) > limit {
		return false // the distance is at least the length difference
	}
	return levenshtein([]rune(pw), []rune(w)) <= limit
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// levenshtein returns the edit distance between a and b (insertions,
// deletions and substitutions of one code point each).
func levenshtein(a, b []rune) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
