package flow

import (
	"fmt"
	"maps"
	"strings"

	"github.com/foyer-id/foyer/internal/credential/password"
	"github.com/foyer-id/foyer/internal/i18n"
	"github.com/foyer-id/foyer/internal/identity"
)

// The journeys' messages are worded in the message catalogues
// (internal/i18n/locales/<lang>/messages.json), by id: a Message carries
// its id, the values of its placeholders (Args) and its English text,
// taken from the built-in English catalogue, so that the wording lives in
// one place and a page or an app can say it in another language.

// newMessage is the message id of type typ (error, info) about field,
// worded in English; args are the values of its placeholders as name,
// value pairs ("email", "ann@example.com", "count", 5), kept as Args.
func newMessage(typ, field, id string, args ...any) Message {
	m := Message{Field: field, ID: id, Type: typ, Text: i18n.English().T(id, args...)}
	if len(args) > 1 {
		m.Args = make(map[string]string, len(args)/2)
		for i := 0; i+1 < len(args); i += 2 {
			m.Args[fmt.Sprint(args[i])] = fmt.Sprint(args[i+1])
		}
	}
	return m
}

// ErrorMessage is the error message id about field ("" for the whole
// form), its placeholders filled from args (name, value pairs).
func ErrorMessage(field, id string, args ...any) Message {
	return newMessage("error", field, id, args...)
}

// InfoMessage is the informative message id, its placeholders filled from
// args (name, value pairs).
func InfoMessage(id string, args ...any) Message { return newMessage("info", "", id, args...) }

// Invalid is the *InvalidError of one error message (see ErrorMessage).
func Invalid(field, id string, args ...any) *InvalidError {
	return &InvalidError{Messages: []Message{ErrorMessage(field, id, args...)}}
}

func invalid(field, id string, args ...any) *InvalidError { return Invalid(field, id, args...) }

func errorMsg(field, id string, args ...any) Message { return ErrorMessage(field, id, args...) }

func info(id string, args ...any) Message { return InfoMessage(id, args...) }

// MaxPasskeyName is the most characters a passkey's name may have (see
// passkey.ErrInvalidName), as the messages about it say.
const MaxPasskeyName = 64

// FactorInvalid is the message for a wrong second-factor code of kind
// (FactorTOTP, FactorRecovery).
func FactorInvalid(kind string) Message {
	if kind == FactorRecovery {
		return errorMsg("code", "second_factor_recovery_code_invalid")
	}
	return errorMsg("code", "totp_code_invalid")
}

// undeliverable is the message (MsgCodeUndeliverable or its variants) of
// f's code that will not arrive.
func undeliverable(f *Flow) Message {
	switch f.Type {
	case TypeRegistration:
		return errorMsg("", MsgCodeUndeliverable, "email", f.Data.Email)
	case TypeLogin:
		return errorMsg("", MsgLoginCodeUndeliverable, "email", f.Data.Email)
	default:
		return errorMsg("", MsgCodeUndeliverableLater, "email", f.Data.Email)
	}
}

// passwordMessage is the message of a password the policy refused: id
// password_<reason>, or password_rejected for a reason it has no message
// for.
func passwordMessage(v *password.Violation) Message {
	switch v.Reason {
	case password.ReasonTooShort, password.ReasonTooLong:
		return errorMsg("password", "password_"+v.Reason, "count", v.Limit)
	case password.ReasonEmpty, password.ReasonInvalidText, password.ReasonCommon, password.ReasonSimilarToIdentifier:
		return errorMsg("password", "password_"+v.Reason)
	}
	return errorMsg("password", "password_rejected")
}

// traitProblems are the messages of the identity schema's trait errors
// (identity.TraitError.Message), by the start of their text; those with a
// number have it after the prefix.
var traitProblems = []struct {
	prefix, id string
	count      bool
}{
	{"is required", "trait_required", false},
	{"must be text", "trait_not_text", false},
	{"must be a valid email address", "trait_email_invalid", false},
	{"must be a phone number in international form", "trait_phone_invalid", false},
	{"has characters that are not allowed", "trait_characters", false},
	{"is not a field this form accepts", "trait_unknown", false},
	{"must be at most ", "trait_too_long", true},
	{"must be at least ", "trait_too_short", true},
	{"has the wrong type", "trait_wrong_type", false},
	{"has the wrong format", "trait_wrong_format", false},
	{"is not valid", "trait_invalid", false},
}

// traitMessage is the message of a trait that failed validation: the
// trait's label ({field}: "Email address", "Name", else the trait's name)
// and what is wrong with it.
func traitMessage(te *identity.TraitError) Message {
	if te.Trait == "email" && strings.HasPrefix(te.Message, "must be a valid") {
		return errorMsg(te.Trait, "email_invalid") // as sign-in and verification say
	}
	// A trait the catalogues name (trait.<name>) is named so, in the
	// customer's language too (Localize); another by its name.
	label := te.Trait
	if en := i18n.English(); en.Has("trait." + te.Trait) {
		label = en.T("trait." + te.Trait)
	}
	if te.Message == "are not valid" { // the traits as a whole
		return errorMsg(te.Trait, "traits_invalid", "field", label)
	}
	for _, p := range traitProblems {
		rest, ok := strings.CutPrefix(te.Message, p.prefix)
		if !ok {
			continue
		}
		if p.count {
			var n int
			if _, err := fmt.Sscanf(rest, "%d characters", &n); err != nil {
				continue
			}
			return errorMsg(te.Trait, p.id, "field", label, "count", n)
		}
		return errorMsg(te.Trait, p.id, "field", label)
	}
	return errorMsg(te.Trait, "trait_invalid", "field", label)
}

// Localize returns msgs worded by loc (i18n.Localizer.Reword): a message
// whose ID the catalogue has takes its text from there, with its Args;
// one it lacks keeps its English Text. msgs is left as it is (an error's
// messages may be shared).
func Localize(loc *i18n.Localizer, msgs []Message) []Message {
	if len(msgs) == 0 {
		return msgs
	}
	out := make([]Message, len(msgs))
	for i, m := range msgs {
		args := m.Args
		if _, ok := args["field"]; ok && m.Field != "" && loc.Has("trait."+m.Field) {
			// The field's name, in the customer's language too.
			args = maps.Clone(args)
			args["field"] = loc.T("trait." + m.Field)
		}
		m.Text = loc.Reword(m.ID, args, m.Text)
		out[i] = m
	}
	return out
}
