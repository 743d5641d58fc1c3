package passkey

import (
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/google/uuid"
)

// A passkey is named after what made it ("iCloud Keychain on iPhone")
// when the customer gives it no name of their own: a list of "Passkey",
// "Passkey", "Passkey" does not say which one to remove when a phone is
// lost. What made it is the authenticator's AAGUID, which most password
// managers and platforms send even without attestation. It is the
// authenticator's own claim, unchecked (attestation is "none"), so it
// only ever names a passkey — a name the customer may change — and
// decides nothing.

// A Provider is what an AAGUID names: a password manager or platform
// that keeps passkeys, or a security key model.
type Provider struct {
	// Name is the provider's name as its makers write it.
	Name string
	// OnDevice reports whether the name says more with the device the
	// passkey was made on added ("Google Password Manager on Android"):
	// true for a provider on many systems; false for a security key (it
	// goes from device to device) and for a provider whose name says its
	// system already ("Chrome on Mac", "Windows Hello").
	OnDevice bool
}

// providers are well-known AAGUIDs, taken from the community list of
// passkey providers (github.com/passkeydeveloper/passkey-authenticator-aaguids),
// which exists for naming passkeys. Only entries of that list whose
// AAGUID is checked against it are here; an AAGUID not listed names no
// provider.
var providers = map[string]Provider{
	"fbfc3007-154e-4ecc-8c0b-6e020557d7bd": {"iCloud Keychain", true},
	"dd4ec289-e01d-41c9-bb89-70fa845d4bf2": {"iCloud Keychain", true}, // managed Apple accounts
	"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4": {"Google Password Manager", true},
	"adce0002-35bc-c60a-648b-0b25f1f05503": {"Chrome on Mac", false},
	"771b48fd-d3d4-4f74-9232-fc157ab0507a": {"Edge on Mac", false},
	"08987058-cadc-4b81-b6e1-30de50dcbe96": {"Windows Hello", false},
	"9ddd1817-af5a-4672-a2b9-3e3dd95000a9": {"Windows Hello", false},
	"6028b017-b1d4-4c02-b4b3-afcdafc96bb2": {"Windows Hello", false},
	"53414d53-554e-4700-0000-000000000000": {"Samsung Pass", true},
	"bada5566-a7aa-401f-bd96-45619a55120d": {"1Password", true},
	"d548826e-79b4-db40-a3d8-11116f7e8349": {"Bitwarden", true},
	"531126d6-e717-415c-9320-3d9aa6981239": {"Dashlane", true},
	"b84e4048-15dc-4dd0-8640-f4f60813c8af": {"NordPass", true},
	"0ea242b4-43c4-4a1b-8b17-dd6d0b6baec6": {"Keeper", true},
	"f3809540-7f14-49c1-a8b3-8f813b225541": {"Enpass", true},
	"fdb141b2-5d84-443e-8a35-4698c205a502": {"KeePassXC", true},
	"50726f74-6f6e-5061-7373-50726f746f6e": {"Proton Pass", true},
	"ee882879-721c-4913-9775-3dfcce97072a": {"YubiKey 5 Series", false},
	"2fc0579f-8113-47ea-b116-bb5a8db9202a": {"YubiKey 5 Series with NFC", false},
}

// ProviderOf returns the provider an AAGUID (a UUID, any case) names;
// false for one the list does not know, such as the all-zero AAGUID many
// authenticators send.
func ProviderOf(aaguid string) (Provider, bool) {
	p, ok := providers[strings.ToLower(aaguid)]
	return p, ok
}

// ResponseAAGUID reads the AAGUID of a registration response (the JSON
// FinishRegistration takes) before it is verified, to name the passkey
// it will make; "" when it has none or does not parse (FinishRegistration
// then refuses it anyway).
func ResponseAAGUID(response []byte) string {
	if len(response) > MaxResponseSize {
		return ""
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return ""
	}
	id, err := uuid.FromBytes(parsed.Response.AttestationObject.AuthData.AttData.AAGUID)
	if err != nil {
		return ""
	}
	return id.String()
}
