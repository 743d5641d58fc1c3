package upstream

import (
	"encoding/json"
	"slices"
	"strings"
)

// Claims are what a provider vouches for about the customer who signed in.
type Claims struct {
	// Subject is the provider's stable id of the account: "sub", or for
	// GitHub the numeric user id as a string (never the login, which the
	// customer can change).
	Subject string
	// Email is the address, lower-cased; "" when the provider gave none.
	Email string
	// EmailVerified is true only when the provider says the address is
	// verified: email_verified true (or "true", as Apple sends it); for
	// Microsoft also xms_edov true, as its email claim alone is not
	// verified; for GitHub, an address /user/emails marks verified.
	EmailVerified bool
	// PrivateEmail is Apple's is_private_email: a relay address.
	PrivateEmail bool
	// Name, GivenName, FamilyName and Locale are as the provider gave
	// them (Apple's name comes from the callback's user parameter).
	Name, GivenName, FamilyName, Locale string
	// AMR and ACR are the token's authentication methods and context.
	AMR []string
	ACR string
	// MFA reports whether AMR or ACR holds one of the provider's
	// MFAValues: the customer used two factors at the provider.
	MFA bool
	// Traits are the values of the claims that Config.Claims maps to
	// traits, plus "email" and "name" when present and not mapped.
	Traits map[string]any
	// Issuer is the token's actual issuer (for Microsoft, the tenant's);
	// for GitHub the origin of its authorization endpoint.
	Issuer string
	// Nonce is the ID token's nonce ("" for GitHub): VerifyIDToken's
	// caller may bind it to something of its own.
	Nonce string
}

// claims makes Claims of an ID token's checked claims c and all its
// claims.
func (p *Provider) claims(c *idClaims, all map[string]any) *Claims {
	cl := &Claims{
		Subject:      c.Subject,
		Issuer:       c.Issuer,
		Nonce:        c.Nonce,
		Email:        normalizeEmail(str(all, "email")),
		PrivateEmail: bool(c.PrivateEmail),
		Name:         str(all, "name"),
		GivenName:    str(all, "given_name"),
		FamilyName:   str(all, "family_name"),
		Locale:       str(all, "locale"),
		AMR:          []string(c.AMR),
		ACR:          str(all, "acr"),
	}
	verified := bool(c.EmailVerified) || p.cfg.Kind == KindMicrosoft && bool(c.DomainOwnerVerified)
	cl.EmailVerified = cl.Email != "" && verified
	p.finish(cl, all)
	return cl
}

// finish sets MFA and Traits from the provider's settings and all the
// claims the provider gave.
func (p *Provider) finish(cl *Claims, all map[string]any) {
	for _, v := range p.cfg.MFAValues {
		if v == cl.ACR || slices.Contains(cl.AMR, v) {
			cl.MFA = true
			break
		}
	}
	cl.Traits = map[string]any{}
	for trait, claim := range p.cfg.Claims {
		if v, ok := all[claim]; ok && v != nil {
			cl.Traits[trait] = v
		}
	}
	if _, ok := cl.Traits["email"]; !ok && cl.Email != "" {
		cl.Traits["email"] = cl.Email
	}
	if _, ok := cl.Traits["name"]; !ok && cl.Name != "" {
		cl.Traits["name"] = cl.Name
	}
}

// appleName adds to the claims of an Apple ID token the name from the
// callback's user parameter, which Apple sends on the first sign-in only.
// Only the name is taken from it (claims the token has win): it comes
// through the browser, unsigned, so its address is never trusted.
func appleName(all map[string]any, user string) {
	if user == "" || len(user) > 4096 {
		return
	}
	var u struct {
		Name struct {
			FirstName string `json:"firstName"`
			LastName  string `json:"lastName"`
		} `json:"name"`
	}
	if json.Unmarshal([]byte(user), &u) != nil {
		return
	}
	first, last := strings.TrimSpace(u.Name.FirstName), strings.TrimSpace(u.Name.LastName)
	for claim, v := range map[string]string{
		"given_name":  first,
		"family_name": last,
		"name":        strings.TrimSpace(first + " " + last),
	} {
		if _, ok := all[claim]; !ok && v != "" {
			all[claim] = v
		}
	}
}

// str is claim name of all if it is a string, else "".
func str(all map[string]any, name string) string {
	s, _ := all[name].(string)
	return s
}

func normalizeEmail(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}

// flexBool is a boolean claim that providers send as true or as "true"
// (Apple). Anything else is false.
type flexBool bool

// UnmarshalJSON reads true or "true" as true, anything else as false.
func (b *flexBool) UnmarshalJSON(data []byte) error {
	*b = flexBool(string(data) == "true" || string(data) == `"true"`)
	return nil
}

// stringList is a claim that is a list of strings or a single string
// (amr). Any other value reads as empty.
type stringList []string

// UnmarshalJSON reads a string or a list of strings.
func (l *stringList) UnmarshalJSON(data []byte) error {
	var one string
	if json.Unmarshal(data, &one) == nil {
		*l = stringList{one}
		return nil
	}
	var many []string
	if json.Unmarshal(data, &many) != nil {
		many = nil
	}
	*l = many
	return nil
}
