package oidc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// Rich Authorization Requests (RFC 9396): an app says what an
// authorization is for — a payment of 250 EUR to a named creditor, access
// to one account — in the authorization_details parameter, a JSON array
// of objects that each name their type. Foyer takes the types a client
// registered (client.AuthorizationDetailsTypes), gives the details to the
// policy as `transaction` at oauth.authorize, shows them on the consent
// page, and returns them with the tokens (token response, JWT access
// token, introspection), so the resource server acts on what the customer
// allowed and nothing else.

// paramDetails is the authorization request parameter.
const paramDetails = "authorization_details"

// errDetails is the error code of RFC 9396, section 5.
const errDetails = "invalid_authorization_details"

// Bounds on an authorization_details parameter: ample for real payment
// and account details, small enough that a request stays cheap to store
// and decide on.
const (
	maxDetailsBytes = 8 << 10
	maxDetails      = 10
	maxDetailsDepth = 8
)

// detailsStringLists are the common fields of RFC 9396, section 2.2, that
// hold arrays of strings; identifier holds a string.
var detailsStringLists = []string{"locations", "actions", "datatypes", "privileges"}

// parseDetails checks an authorization_details parameter against the
// types the client may send, and returns it as compact JSON. A refusal is
// an invalid_authorization_details error whose description says what is
// wrong, for the client's developer.
func parseDetails(raw string, allowed []string) (json.RawMessage, *oidc.Error) {
	refuse := func(format string, args ...any) (json.RawMessage, *oidc.Error) {
		return nil, &oidc.Error{ErrorType: errDetails, Description: fmt.Sprintf(format, args...)}
	}
	if len(raw) > maxDetailsBytes {
		return refuse("authorization_details must be at most %d bytes", maxDetailsBytes)
	}
	if err := strictJSON([]byte(raw)); err != nil {
		return refuse("authorization_details is not valid JSON: %v", err)
	}
	var list []json.RawMessage
	if err := json.Unmarshal([]byte(raw), &list); err != nil {
		return refuse("authorization_details must be a JSON array of objects")
	}
	if len(list) == 0 || len(list) > maxDetails {
		return refuse("authorization_details must hold 1 to %d objects", maxDetails)
	}
	for i, item := range list {
		var d map[string]json.RawMessage
		if err := json.Unmarshal(item, &d); err != nil || d == nil {
			return refuse("authorization_details[%d] must be an object", i)
		}
		var typ string
		if err := json.Unmarshal(d["type"], &typ); err != nil || typ == "" {
			return refuse("authorization_details[%d] needs a type, a string", i)
		}
		if !slices.Contains(allowed, typ) {
			return refuse("authorization_details[%d]: this application may not send type %s", i, strconv.Quote(typ))
		}
		for _, name := range detailsStringLists {
			if v, ok := d[name]; ok {
				var ss []string
				if err := json.Unmarshal(v, &ss); err != nil {
					return refuse("authorization_details[%d].%s must be an array of strings", i, name)
				}
			}
		}
		if v, ok := d["identifier"]; ok {
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return refuse("authorization_details[%d].identifier must be a string", i)
			}
		}
	}
	var out bytes.Buffer
	if err := json.Compact(&out, []byte(raw)); err != nil {
		return refuse("authorization_details is not valid JSON")
	}
	return out.Bytes(), nil
}

// strictJSON refuses what encoding/json lets through and would make two
// readers of the same details disagree: an object naming a key twice
// (Go keeps the last, other parsers the first), nesting deeper than
// maxDetailsDepth, and anything after the value.
func strictJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := strictValue(dec, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("text after the value")
	}
	return nil
}

// strictValue reads one value, containers whole, at the given depth.
func strictValue(dec *json.Decoder, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	open, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if depth == maxDetailsDepth {
		return fmt.Errorf("nested deeper than %d levels", maxDetailsDepth)
	}
	seen := map[string]bool{}
	for dec.More() {
		if open == '{' {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			k, _ := tok.(string)
			if seen[k] {
				return fmt.Errorf("key %s appears twice", strconv.Quote(k))
			}
			seen[k] = true
		}
		if err := strictValue(dec, depth+1); err != nil {
			return err
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}
