package passkey

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/foyer-id/foyer/internal/store"
)

// ChallengeTTL is how long a ceremony may take from Begin to Finish. It is
// also the timeout sent to the browser.
const ChallengeTTL = 5 * time.Minute

// MaxResponseSize is the largest browser response FinishRegistration and
// FinishLogin accept, in bytes.
const MaxResponseSize = 64 << 10

// MaxNameLength is the longest passkey name, in characters.
const MaxNameLength = 64

// DefaultName is the name of a passkey registered or renamed with an
// empty name.
const DefaultName = "Passkey"

// maxUserHandle is WebAuthn's limit on the user handle (the identity id).
const maxUserHandle = 64

// Errors returned by Service. Show customers one message for ErrChallenge,
// ErrInvalidResponse and ErrUnknownCredential ("That didn't work. Try
// again."); the distinction is for logs and events.
var (
	// ErrChallenge means the challenge id is unknown, was used already
	// (finished, successfully or not), belongs to another ceremony or
	// identity, or expired (ErrChallengeExpired). Begin again.
	ErrChallenge = errors.New("passkey: unknown, used or expired challenge")
	// ErrChallengeExpired means the challenge was issued more than
	// ChallengeTTL ago. errors.Is(ErrChallengeExpired, ErrChallenge) is
	// true.
	ErrChallengeExpired = fmt.Errorf("%w: expired", ErrChallenge)
	// ErrInvalidResponse means the browser's response is malformed or does
	// not verify: wrong type, challenge, origin or RP ID, user presence or
	// verification missing, bad signature, user handle of someone else.
	ErrInvalidResponse = errors.New("passkey: invalid response")
	// ErrUnknownCredential means the response names a credential Foyer
	// does not have (deleted, or registered elsewhere). The page may tell
	// the browser with PublicKeyCredential.signalUnknownCredential.
	ErrUnknownCredential = errors.New("passkey: unknown credential")
	// ErrCloned means the signature verified but the credential's
	// signature counter did not increase: the private key may have been
	// copied. Nothing was updated. FinishLogin returns the identity and
	// credential with it, so the caller can record an event and let
	// policy decide whether to sign the customer in.
	ErrCloned = errors.New("passkey: signature counter did not increase; the authenticator may be cloned")
	// ErrAlreadyRegistered means the credential id is registered already
	// (to this identity or another).
	ErrAlreadyRegistered = errors.New("passkey: credential already registered")
	// ErrInvalidName means a passkey name is too long or contains control
	// characters or invalid UTF-8.
	ErrInvalidName = errors.New("passkey: invalid name")
)

// Config is the relying party a Service acts as.
type Config struct {
	// RPID is the relying party id: the host of the public URL, without
	// scheme or port ("id.example.com", "localhost").
	RPID string
	// RPName is the name authenticators may show when registering
	// ("Acme").
	RPName string
	// Origins are the origins ceremonies may come from: the public URL's
	// origin ("https://id.example.com", "http://localhost:4455"). Each
	// host must be RPID or a subdomain of it.
	Origins []string
}

// Validate reports the first problem with c, naming the field.
func (c Config) Validate() error {
	if c.RPID == "" {
		return errors.New("passkey: config: RPID is empty; set it to the host of the public URL")
	}
	if strings.ContainsAny(c.RPID, ":/") || net.ParseIP(c.RPID) != nil || c.RPID != strings.ToLower(c.RPID) {
		return fmt.Errorf("passkey: config: RPID %q must be a lower-case host name without scheme or port", c.RPID)
	}
	if strings.TrimSpace(c.RPName) == "" {
		return errors.New("passkey: config: RPName is empty")
	}
	if len(c.Origins) == 0 {
		return errors.New("passkey: config: Origins is empty; set it to the public URL's origin")
	}
	for _, o := range c.Origins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return fmt.Errorf("passkey: config: origin %q must be scheme://host[:port]", o)
		}
		h := strings.ToLower(u.Hostname())
		if h != c.RPID && !strings.HasSuffix(h, "."+c.RPID) {
			return fmt.Errorf("passkey: config: origin %q is not on RPID %q or a subdomain of it", o, c.RPID)
		}
		if u.Scheme == "http" && h != "localhost" && !strings.HasSuffix(h, ".localhost") {
			return fmt.Errorf("passkey: config: origin %q: browsers allow WebAuthn over http only on localhost", o)
		}
	}
	return nil
}

// Credential is a customer's passkey as Foyer stores it.
type Credential struct {
	// ID is the credential id in base64url without padding.
	ID         string `json:"id"`
	IdentityID string `json:"identity_id"`
	Domain     string `json:"domain"`
	// Name is chosen by the customer ("iPhone"); DefaultName otherwise.
	Name string `json:"name"`
	// AAGUID names the authenticator model as a UUID; usually all zeros,
	// since attestation is not requested.
	AAGUID string `json:"aaguid"`
	// Transports are the browser's hints for reaching the authenticator
	// ("internal", "hybrid", "usb", …).
	Transports []string `json:"transports"`
	// SignCount is the last accepted signature counter; 0 for
	// authenticators without one.
	SignCount uint32 `json:"sign_count"`
	// BackupEligible means the passkey can be synced (a password manager
	// or platform keychain); it never changes. BackupState means it is
	// synced now, as of the last use.
	BackupEligible bool `json:"backup_eligible"`
	BackupState    bool `json:"backup_state"`
	// UserVerified means the authenticator verified the customer when the
	// passkey was registered (always true: it is required).
	UserVerified bool      `json:"user_verified"`
	CreatedAt    time.Time `json:"created_at"`
	// LastUsedAt is the last successful sign-in; zero if never.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`

	publicKey []byte // COSE_Key
}

// record returns the credential record the library verifies assertions
// against.
func (c *Credential) record() (webauthn.Credential, error) {
	id, err := decodeID(c.ID)
	if err != nil {
		return webauthn.Credential{}, err
	}
	flags := protocol.FlagUserPresent
	if c.UserVerified {
		flags |= protocol.FlagUserVerified
	}
	if c.BackupEligible {
		flags |= protocol.FlagBackupEligible
	}
	if c.BackupState {
		flags |= protocol.FlagBackupState
	}
	return webauthn.Credential{
		ID:        id,
		PublicKey: c.publicKey,
		Flags:     webauthn.NewCredentialFlags(flags),
		Authenticator: webauthn.Authenticator{
			SignCount: c.SignCount,
		},
	}, nil
}

// Service registers passkeys, signs customers in with them and manages
// them, on one relying party.
type Service struct {
	db  *store.DB
	wa  *webauthn.WebAuthn
	now func() time.Time
}

// New returns a Service on db for cfg (see Config.Validate); now is the
// clock (time.Now when nil), which alone decides challenge expiry.
func New(db *store.DB, cfg Config, now func() time.Time) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	timeout := webauthn.TimeoutConfig{Timeout: ChallengeTTL, TimeoutUVD: ChallengeTTL}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          cfg.RPID,
		RPDisplayName: cfg.RPName,
		RPOrigins:     cfg.Origins,
		// Expiry is ours (expires_at, by the injected clock), not the
		// library's (Enforce would use time.Now).
		Timeouts:                          webauthn.TimeoutsConfig{Login: timeout, Registration: timeout},
		AttestationPreference:             protocol.PreferNoAttestation,
		ExtensionsUnsolicitedOutputPolicy: protocol.UnsolicitedOutputPolicyIgnore,
	})
	if err != nil {
		return nil, fmt.Errorf("passkey: config: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, wa: wa, now: now}, nil
}

// user is an identity as the library sees it.
type user struct {
	id          string
	name        string
	displayName string
	creds       []webauthn.Credential
}

func (u *user) WebAuthnID() []byte                         { return []byte(u.id) }
func (u *user) WebAuthnName() string                       { return u.name }
func (u *user) WebAuthnDisplayName() string                { return u.displayName }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// normalizeName trims name and checks it; empty becomes DefaultName.
func normalizeName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return DefaultName, nil
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxNameLength {
		return "", ErrInvalidName
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return "", ErrInvalidName
		}
	}
	return name, nil
}

// invalid wraps a verification failure from the library as
// ErrInvalidResponse, keeping its details (which say which check failed)
// for the logs.
func invalid(op string, err error) error {
	var perr *protocol.Error
	if errors.As(err, &perr) && perr.DevInfo != "" {
		return fmt.Errorf("passkey: %s: %w: %w (%s)", op, ErrInvalidResponse, err, strings.ReplaceAll(perr.DevInfo, "\n", "; "))
	}
	return fmt.Errorf("passkey: %s: %w: %w", op, ErrInvalidResponse, err)
}
