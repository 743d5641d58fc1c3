package password

import "fmt"

// Reason codes of a Violation. They are stable: store them, count them, or use
// them as translation keys.
const (
	// ReasonEmpty: the password is empty, or only white space and
	// invisible formatting characters (zero-width spaces, joiners).
	ReasonEmpty = "empty"
	// ReasonInvalidText: the password is not valid UTF-8, or holds a
	// control character (NUL, escapes) or U+FFFD. No keyboard types those
	// (JSON decoders turn invalid bytes and lone surrogates into U+FFFD, so
	// many inputs would end up one password).
	ReasonInvalidText = "invalid_text"
	// ReasonTooShort: fewer code points than Policy.MinLength.
	ReasonTooShort = "too_short"
	// ReasonTooLong: more code points than Policy.MaxLength.
	ReasonTooLong = "too_long"
	// ReasonCommon: the password is in the common-password list (IsCommon).
	ReasonCommon = "common"
	// ReasonSimilarToIdentifier: the password is too close to one of the
	// context strings given to Policy.Check, such as the email address or
	// the name.
	ReasonSimilarToIdentifier = "similar_to_identifier"
)

// Violation is the error Policy.Check returns for a password the policy
// rejects. Neither its Error nor its Message contains the password.
type Violation struct {
	// Reason is one of the Reason constants.
	Reason string
	// Limit is the length bound that was not met, in code points, for
	// ReasonTooShort and ReasonTooLong; zero otherwise.
	Limit int
}

// Error returns a short description for logs, such as
// "password: policy: too_short (limit 8)".
func (v *Violation) Error() string {
	if v.Limit != 0 {
		return fmt.Sprintf("password: policy: %s (limit %d)", v.Reason, v.Limit)
	}
	return "password: policy: " + v.Reason
}

// Message returns an English sentence about the violation that is safe to
// show to the person choosing the password.
func (v *Violation) Message() string {
	switch v.Reason {
	case ReasonEmpty:
		return "Enter a password."
	case ReasonInvalidText:
		return "This password has characters that are not valid text. Choose a different one."
	case ReasonTooShort:
		return fmt.Sprintf("Choose a password of at least %s.", characters(v.Limit))
	case ReasonTooLong:
		return fmt.Sprintf("Choose a password of at most %s.", characters(v.Limit))
	case ReasonCommon:
		return "This password is too common: it appears in lists of passwords that attackers try first. Choose a different one."
	case ReasonSimilarToIdentifier:
		return "This password is too similar to your email address or name. Choose a different one."
	default:
		return "Choose a different password."
	}
}

func characters(n int) string {
	if n == 1 {
		return "1 character"
	}
	return fmt.Sprintf("%d characters", n)
}
