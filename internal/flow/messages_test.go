package flow

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/foyer-id/foyer/internal/credential/password"
	"github.com/foyer-id/foyer/internal/i18n"
	"github.com/foyer-id/foyer/internal/identity"
	"golang.org/x/text/language"
)

// Every message the journeys build names an id of the English catalogue,
// with the values of exactly its placeholders. The calls are read from
// the source, so that a message on a path no test takes is checked too;
// the JSON API's (internal/api) as well.
func TestMessagesAreInTheCatalogue(t *testing.T) {
	for _, dir := range []string{".", filepath.Join("..", "api")} {
		checkMessageCalls(t, dir, map[string]int{"invalid": 1, "errorMsg": 1, "info": 0, "Invalid": 1, "ErrorMessage": 1, "InfoMessage": 0})
	}
}

// checkMessageCalls checks the calls in dir's Go files (tests aside) of
// the functions named in idArg, whose argument at that index is a message
// id followed by name, value pairs.
func checkMessageCalls(t *testing.T, dir string, idArg map[string]int) {
	t.Helper()
	c, err := i18n.Load("")
	if err != nil {
		t.Fatal(err)
	}
	en := c.Messages(i18n.Default)
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{"MsgCodeUndeliverable": MsgCodeUndeliverable, "MsgLoginCodeUndeliverable": MsgLoginCodeUndeliverable,
		"MsgCodeUndeliverableLater": MsgCodeUndeliverableLater}
	fset := token.NewFileSet()
	calls := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			var fn string
			switch f := call.Fun.(type) {
			case *ast.Ident:
				fn = f.Name
			case *ast.SelectorExpr:
				if x, ok := f.X.(*ast.Ident); ok && x.Name == "flow" {
					fn = f.Sel.Name
				}
			}
			i, ok := idArg[fn]
			if !ok || len(call.Args) <= i {
				return true
			}
			pos := fset.Position(call.Pos())
			id, ok := literal(call.Args[i], consts)
			if !ok {
				return true // a helper passing its own parameter on
			}
			calls++
			msg, ok := en[id]
			if !ok {
				t.Errorf("%s: %s: no message %q in the English catalogue", pos, fn, id)
				return true
			}
			var names []string
			rest := call.Args[i+1:]
			if len(rest)%2 != 0 {
				t.Errorf("%s: %s(%q): args are not name, value pairs", pos, fn, id)
				return true
			}
			for j := 0; j < len(rest); j += 2 {
				name, ok := literal(rest[j], nil)
				if !ok {
					t.Errorf("%s: %s(%q): placeholder name is not a literal", pos, fn, id)
					continue
				}
				names = append(names, name)
			}
			slices.Sort(names)
			if want := i18n.Placeholders(msg); !slices.Equal(names, want) {
				t.Errorf("%s: %s(%q) gives %v, the text has the placeholders %v", pos, fn, id, names, want)
			}
			return true
		})
	}
	if calls == 0 {
		t.Fatalf("no message calls found in %s", dir)
	}
}

func literal(e ast.Expr, consts map[string]string) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING {
			s, err := strconv.Unquote(e.Value)
			return s, err == nil
		}
	case *ast.Ident:
		s, ok := consts[e.Name]
		return s, ok
	case *ast.SelectorExpr:
		s, ok := consts[e.Sel.Name]
		return s, ok
	}
	return "", false
}

// A message carries its id, its English text from the catalogue and the
// values of its placeholders.
func TestMessageTextAndArgs(t *testing.T) {
	m := info("code_sent", "email", "ann@example.com")
	want := Message{ID: "code_sent", Type: "info", Text: "We sent a 6-digit code to ann@example.com. Enter it to finish signing up.",
		Args: map[string]string{"email": "ann@example.com"}}
	if m.ID != want.ID || m.Type != want.Type || m.Text != want.Text || !maps.Equal(m.Args, want.Args) {
		t.Errorf("got %+v, want %+v", m, want)
	}
	if m := errorMsg("code", "code_expired"); m.Args != nil || m.Field != "code" || m.Text != "That code has expired. Ask for a new one." {
		t.Errorf("without args: %+v", m)
	}
	for n, text := range map[int]string{
		1:  "Please wait 1 second before asking for another code.",
		30: "Please wait 30 seconds before asking for another code.",
	} {
		m := invalid("", "code_resend_too_soon", "count", n).Messages[0]
		if m.Text != text || m.Args["count"] != strconv.Itoa(n) {
			t.Errorf("%d: %+v", n, m)
		}
	}
}

// The texts of a code that will not arrive, by journey.
func TestUndeliverableTexts(t *testing.T) {
	for typ, want := range map[string]Message{
		TypeRegistration: {ID: "code_undeliverable", Text: "We could not deliver the code to ann@example.com. Ask for a new code, or sign up with another email address."},
		TypeLogin:        {ID: "login_code_undeliverable", Text: "We could not deliver the sign-in code to ann@example.com. Ask for a new code, or sign in another way."},
		TypeRecovery:     {ID: "code_undeliverable_later", Text: "We could not deliver the code to ann@example.com. Ask for a new code, or try again later."},
		TypeVerification: {ID: "code_undeliverable_later", Text: "We could not deliver the code to ann@example.com. Ask for a new code, or try again later."},
	} {
		got := undeliverable(&Flow{Type: typ, Data: Data{Email: "ann@example.com"}})
		if got.ID != want.ID || got.Text != want.Text || got.Type != "error" || got.Args["email"] != "ann@example.com" {
			t.Errorf("%s: %+v", typ, got)
		}
	}
}

// A refused password reads as the password policy words it.
func TestPasswordMessages(t *testing.T) {
	for _, v := range []*password.Violation{
		{Reason: password.ReasonEmpty}, {Reason: password.ReasonInvalidText},
		{Reason: password.ReasonTooShort, Limit: 1}, {Reason: password.ReasonTooShort, Limit: 8},
		{Reason: password.ReasonTooLong, Limit: 64}, {Reason: password.ReasonCommon},
		{Reason: password.ReasonSimilarToIdentifier}, {Reason: "something_new"},
	} {
		m := passwordMessage(v)
		if m.Text != v.Message() || m.Field != "password" {
			t.Errorf("%s (%d): %q, the policy says %q", v.Reason, v.Limit, m.Text, v.Message())
		}
	}
}

// A trait that fails validation reads "<label> <what is wrong>.", one id
// per problem.
func TestTraitMessages(t *testing.T) {
	for _, tc := range []struct {
		te     identity.TraitError
		id     string
		text   string
		values map[string]string
	}{
		{identity.TraitError{Trait: "email", Message: "must be a valid email address"}, "email_invalid", "Enter a valid email address.", nil},
		{identity.TraitError{Trait: "email", Message: "is required"}, "trait_required", "Email address is required.", map[string]string{"field": "Email address"}},
		{identity.TraitError{Trait: "name", Message: "must be at most 100 characters"}, "trait_too_long", "Name must be at most 100 characters.",
			map[string]string{"field": "Name", "count": "100"}},
		{identity.TraitError{Trait: "nick", Message: "must be at least 2 characters"}, "trait_too_short", "nick must be at least 2 characters.", nil},
		{identity.TraitError{Trait: "work_email", Message: "must be a valid email address"}, "trait_email_invalid", "work_email must be a valid email address.", nil},
		{identity.TraitError{Trait: "phone", Message: "must be a phone number in international form, like +44 20 7946 0958"}, "trait_phone_invalid",
			"Phone number must be in international form, like +44 20 7946 0958.", nil},
		{identity.TraitError{Trait: "name", Message: "must be text"}, "trait_not_text", "Name must be text.", nil},
		{identity.TraitError{Trait: "name", Message: "has characters that are not allowed"}, "trait_characters", "Name has characters that are not allowed.", nil},
		{identity.TraitError{Trait: "age", Message: "is not a field this form accepts"}, "trait_unknown", "age is not a field this form accepts.", nil},
		{identity.TraitError{Trait: "age", Message: "has the wrong type"}, "trait_wrong_type", "age has the wrong type.", nil},
		{identity.TraitError{Trait: "site", Message: "has the wrong format"}, "trait_wrong_format", "site has the wrong format.", nil},
		{identity.TraitError{Trait: "site", Message: "is not valid"}, "trait_invalid", "site is not valid.", nil},
		{identity.TraitError{Trait: "traits", Message: "are not valid"}, "traits_invalid", "traits are not valid.", nil},
	} {
		m := traitMessage(&tc.te)
		if m.ID != tc.id || m.Text != tc.text || m.Field != tc.te.Trait {
			t.Errorf("%+v: %s %q, want %s %q", tc.te, m.ID, m.Text, tc.id, tc.text)
		}
		if tc.values != nil && !maps.Equal(m.Args, tc.values) {
			t.Errorf("%+v: args %v, want %v", tc.te, m.Args, tc.values)
		}
	}
}

// A wrong second-factor code says what kind of code was wrong.
func TestFactorInvalid(t *testing.T) {
	if m := FactorInvalid(FactorTOTP); m.ID != "totp_code_invalid" || m.Text != "That code is not right. Codes from your app change every 30 seconds; each works once." {
		t.Errorf("totp: %+v", m)
	}
	if m := FactorInvalid(FactorRecovery); m.ID != "second_factor_recovery_code_invalid" || m.Text != i18n.English().T("second_factor_recovery_code_invalid") {
		t.Errorf("recovery code: %+v", m)
	}
}

func TestCleanCode(t *testing.T) {
	for in, want := range map[string]string{
		"123456": "123456", " 123 456 ": "123456", "123-456": "123456", "123\u00a0456": "123456", "１２３４５６": "123456",
		"123.456": "123456", "12\u20133456": "123456", "abcd-efgh": "abcdefgh", "": "",
	} {
		if got := CleanCode(in); got != want {
			t.Errorf("CleanCode(%q) = %q, want %q", in, got, want)
		}
	}
}

// A trait's problem names the field in the customer's language when the
// catalogues name it, and by its name otherwise.
func TestTraitMessageLocalized(t *testing.T) {
	fr := i18n.Builtin().For(language.French)
	msgs := Localize(fr, []Message{
		traitMessage(&identity.TraitError{Trait: "name", Message: "must be at most 200 characters"}),
		traitMessage(&identity.TraitError{Trait: "age", Message: "has the wrong type"}),
	})
	if msgs[0].Text != "Le champ Nom doit contenir au maximum 200 caractères." {
		t.Errorf("name: %q", msgs[0].Text)
	}
	if !strings.Contains(msgs[1].Text, "age") {
		t.Errorf("a trait the catalogues do not name: %q", msgs[1].Text)
	}
}

// Every entry of the security activity is worded in the catalogue, with
// no placeholder left to fill.
func TestActivityWordsAreInTheCatalogue(t *testing.T) {
	en := i18n.English()
	for typ, byReason := range activityWords {
		for reason, id := range byReason {
			if !en.Has(id) {
				t.Errorf("activity of %s (%q): %s is not in the English catalogue", typ, reason, id)
			} else if ps := i18n.Placeholders(i18n.Builtin().Messages(language.English)[id]); len(ps) != 0 {
				t.Errorf("activity of %s (%q): %s has placeholders %v", typ, reason, id, ps)
			}
		}
	}
}
