package rules

import (
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/foyer-id/foyer/internal/policy"
)

// A field is one name a rule's condition may use, with its type and where
// its value comes from. The table is the whole context: the CEL
// environment declares each field, the activation answers each, and
// docs/policies.md lists each (a test keeps them in step).
type field struct {
	name string
	typ  *cel.Type
	doc  string
	get  func(a *activation) ref.Val
}

// activation answers a condition's names from one decision's input and
// the domain's settings, computing only the names the condition reads.
type activation struct {
	in  *policy.Input
	set *policy.Default
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	f, ok := fieldIndex[name]
	if !ok {
		return nil, false
	}
	return f.get(a), true
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

func str(s string) ref.Val             { return types.String(s) }
func boolean(b bool) ref.Val           { return types.Bool(b) }
func integer(n int) ref.Val            { return types.Int(n) }
func duration(d time.Duration) ref.Val { return types.Duration{Duration: d} }

// timestamp is t, or the Unix epoch for an unknown time (so that
// comparisons with it read as "long ago" rather than fail).
func timestamp(t time.Time) ref.Val {
	if t.IsZero() {
		t = time.Unix(0, 0)
	}
	return types.Timestamp{Time: t.UTC()}
}

func stringList(l []string) ref.Val {
	if l == nil {
		l = []string{}
	}
	return types.NewStringList(types.DefaultTypeAdapter, l)
}

func anyMap(m map[string]any) ref.Val {
	if m == nil {
		m = map[string]any{}
	}
	return types.NewStringInterfaceMap(types.DefaultTypeAdapter, m)
}

// since is how long before the decision t was, 0 for an unknown t.
func since(in *policy.Input, t time.Time) time.Duration {
	if t.IsZero() {
		return 0
	}
	return in.Time.Sub(t)
}

var dynMap = cel.MapType(cel.StringType, cel.DynType)

// noTransaction is the transaction of a decision nothing is at stake in.
var noTransaction = anyMap(map[string]any{"details": []any{}})

// fields is the context of a decision.
var fields = []field{
	{"action", cel.StringType, "What is about to happen: `login.submit`, `session.issue`, … (the list below).",
		func(a *activation) ref.Val { return str(string(a.in.Action)) }},
	{"time", cel.TimestampType, "When the decision is made (UTC).",
		func(a *activation) ref.Val { return timestamp(a.in.Time) }},
	{"change", cel.StringType, "What an `account.change`, `methods.change` or `account.revert` is about: `password`, `email`, `phone`, `traits`, `add_factor`, `remove_factor`, `only_passkey`.",
		func(a *activation) ref.Val { return str(a.in.Change) }},

	{"domain.name", cel.StringType, "The policy domain (`customers`).",
		func(a *activation) ref.Val { return str(a.in.Domain) }},
	{"domain.require_verified_email", cel.BoolType, "The domain asks for a verified address before a session (`domains.<n>.require_verified_email`).",
		func(a *activation) ref.Val { return boolean(a.set.RequireVerifiedEmail) }},
	{"domain.app_aal", cel.StringType, "The assurance level the domain's apps require when they say nothing themselves: `aal1` or `aal2`.",
		func(a *activation) ref.Val { return str(a.set.AppAAL) }},
	{"domain.fresh_for", cel.DurationType, "How recent a sign-in must be to change how the customer signs in.",
		func(a *activation) ref.Val { return duration(a.set.FreshFor) }},
	{"domain.spread_limit", cel.IntType, "How many accounts may begin failing from one network before it counts as credential stuffing.",
		func(a *activation) ref.Val { return integer(a.set.SpreadLimit) }},
	{"domain.max_travel_kmh", cel.DoubleType, "The fastest a customer travels between sign-ins; faster is impossible travel.",
		func(a *activation) ref.Val { return types.Double(a.set.MaxTravelKmh) }},
	{"domain.challenge_bits", cel.IntType, "The difficulty of a network's first proof-of-work challenge, in leading zero bits.",
		func(a *activation) ref.Val { return integer(a.set.ChallengeBits) }},
	{"domain.allow_cloned_passkeys", cel.BoolType, "The operator lets passkeys whose signature counter went backwards sign in.",
		func(a *activation) ref.Val { return boolean(a.set.AllowClonedPasskeys) }},

	{"identity.id", cel.StringType, "The account's id, `\"\"` while unknown (a sign-in before its password is checked, a sign-up).",
		func(a *activation) ref.Val { return str(a.in.IdentityID) }},
	{"identity.email", cel.StringType, "The email address the journey is about: typed at sign-up or sign-in, or the account's.",
		func(a *activation) ref.Val { return str(a.in.Email) }},
	{"identity.traits", dynMap, "The account's traits (name, …) where the journey has them: at sign-up, what was typed. Use `has(identity.traits.x)` before reading one.",
		func(a *activation) ref.Val { return anyMap(a.in.Traits) }},
	{"identity.state", cel.StringType, "`active` or `disabled`, `\"\"` while unknown.",
		func(a *activation) ref.Val { return str(a.in.IdentityState) }},
	{"identity.email_verified", cel.BoolType, "The account's address is verified.",
		func(a *activation) ref.Val { return boolean(a.in.EmailVerified) }},
	{"identity.created_at", cel.TimestampType, "When the account was made (the Unix epoch while unknown).",
		func(a *activation) ref.Val {
			if a.in.Signals.AccountAge <= 0 {
				return timestamp(time.Time{})
			}
			return timestamp(a.in.Time.Add(-a.in.Signals.AccountAge))
		}},
	{"identity.age", cel.DurationType, "How old the account is (0 while unknown).",
		func(a *activation) ref.Val { return duration(a.in.Signals.AccountAge) }},
	{"identity.factors", cel.ListType(cel.StringType), "The ways in the account has besides its password and address: `totp` (confirmed), `passkey`, `recovery_code` (while one is unused), `phone` (verified). Read at `session.issue`; empty at other actions.",
		func(a *activation) ref.Val { return stringList(a.in.Factors) }},
	{"identity.second_factor", cel.BoolType, "The account has a second factor that the decision's action can ask for (an authenticator app at sign-in; an app or a passkey for a change).",
		func(a *activation) ref.Val { return boolean(a.in.SecondFactor) }},
	{"identity.recently_recovered", cel.BoolType, "The account is in the cool-off after a recovery.",
		func(a *activation) ref.Val { return boolean(a.in.Signals.RecentlyRecovered) }},
	{"identity.protected", cel.BoolType, "The owner said a change was not theirs (\"this wasn't me\"); a password alone no longer signs in.",
		func(a *activation) ref.Val { return boolean(a.in.Signals.Protected) }},
	{"identity.since_methods_change", cel.DurationType, "How long ago the account last changed how it signs in (0 for never).",
		func(a *activation) ref.Val { return duration(a.in.Signals.SinceMethodsChange) }},
	{"identity.since_email_change", cel.DurationType, "How long ago the account's address last changed (0 for never).",
		func(a *activation) ref.Val { return duration(a.in.Signals.SinceEmailChange) }},
	{"identity.since_last_sign_in", cel.DurationType, "How long ago a device last signed in to the account (0 for never).",
		func(a *activation) ref.Val { return duration(a.in.Signals.SinceLastSignIn) }},

	{"device.id", cel.StringType, "The browser's device id (its cookie), or the app's (`X-Foyer-Device`).",
		func(a *activation) ref.Val { return str(a.in.DeviceID) }},
	{"device.known", cel.BoolType, "The device has held a session of the account before.",
		func(a *activation) ref.Val { return boolean(a.in.Signals.KnownDevice) }},
	{"device.first_seen", cel.TimestampType, "When the device first held a session of the account (the Unix epoch for a device new to it). Read at `session.issue`.",
		func(a *activation) ref.Val {
			if a.in.Signals.DeviceAge <= 0 {
				return timestamp(time.Time{})
			}
			return timestamp(a.in.Time.Add(-a.in.Signals.DeviceAge))
		}},
	{"device.age", cel.DurationType, "How long ago the device first held a session of the account (0 for a device new to it). Read at `session.issue`.",
		func(a *activation) ref.Val { return duration(a.in.Signals.DeviceAge) }},
	{"device.first", cel.BoolType, "The account has signed in from no device yet.",
		func(a *activation) ref.Val { return boolean(a.in.Signals.FirstDevice) }},
	{"device.wait", cel.DurationType, "What a known device must still wait after its own failed attempts on the account.",
		func(a *activation) ref.Val { return duration(a.in.Signals.DeviceWait) }},
	{"device.user_agent", cel.StringType, "The client's User-Agent header: its first 512 bytes, as recorded.",
		func(a *activation) ref.Val { return str(policy.UserAgent(a.in.UserAgent)) }},

	{"network.ip", cel.StringType, "The client's address.",
		func(a *activation) ref.Val { return str(a.in.ClientIP) }},
	{"network.country", cel.StringType, "The client's country (ISO 3166 code) when a GeoIP database knows it, else `\"\"`.",
		func(a *activation) ref.Val { return str(a.in.Signals.Country) }},
	{"network.asn", cel.IntType, "The client's autonomous system when a GeoIP database knows it, else 0.",
		func(a *activation) ref.Val { return integer(int(a.in.Signals.ASN)) }},
	{"network.known_country", cel.BoolType, "The account has signed in from this country before (true when there is nothing to compare with).",
		func(a *activation) ref.Val { return boolean(!a.in.Signals.NewCountry) }},
	{"network.known_network", cel.BoolType, "The account has signed in from this autonomous system before (true when there is nothing to compare with).",
		func(a *activation) ref.Val { return boolean(!a.in.Signals.NewNetwork) }},
	{"network.failures", cel.IntType, "Recent failed attempts from the client's network.",
		func(a *activation) ref.Val { return integer(a.in.Signals.NetworkFailures) }},
	{"network.wait", cel.DurationType, "What the client's network must still wait after its failures (0 for nothing).",
		func(a *activation) ref.Val { return duration(a.in.Signals.NetworkWait) }},
	{"network.spread", cel.IntType, "How many accounts began failing from the client's network lately.",
		func(a *activation) ref.Val { return integer(a.in.Signals.NetworkSpread) }},

	{"risk.failures", cel.IntType, "Recent failed attempts on the identifier tried (the account, the address).",
		func(a *activation) ref.Val { return integer(a.in.Signals.IdentifierFailures) }},
	{"risk.identifier_wait", cel.DurationType, "What the identifier tried must still wait after its failures.",
		func(a *activation) ref.Val { return duration(a.in.Signals.IdentifierWait) }},
	{"risk.identifier_wide_wait", cel.DurationType, "What the identifier must still wait counted from every network (codes mailed to one address from many).",
		func(a *activation) ref.Val { return duration(a.in.Signals.IdentifierWideWait) }},
	{"risk.stuffing", cel.BoolType, "Credential stuffing from the client's network: `network.spread` at or past `domain.spread_limit`.",
		func(a *activation) ref.Val { return boolean(a.in.Signals.NetworkSpread >= a.set.SpreadLimit) }},
	{"risk.spike", cel.BoolType, "Sign-in failures across the whole site spike far above their recent rate.",
		func(a *activation) ref.Val { return boolean(a.in.Signals.SiteSpike) }},
	{"risk.site_failures", cel.IntType, "The busiest recent minute's count of failed sign-ins across the site.",
		func(a *activation) ref.Val { return integer(a.in.Signals.SiteFailures) }},
	{"risk.travel_kmh", cel.DoubleType, "The speed the customer would have travelled at since the last sign-in's place (0 when unknown).",
		func(a *activation) ref.Val { return types.Double(a.in.Signals.TravelKmh) }},
	{"risk.breached_password", cel.BoolType, "The password the sign-in passed with is on the list of breached and common passwords.",
		func(a *activation) ref.Val { return boolean(a.in.Signals.BreachedPassword) }},
	{"risk.challenge_solved", cel.BoolType, "The request carries a solved proof-of-work challenge made for its network.",
		func(a *activation) ref.Val { return boolean(a.in.Signals.ChallengeSolved) }},
	{"risk.cloned_authenticator", cel.BoolType, "A passkey's signature counter did not go up: the authenticator may have been copied.",
		func(a *activation) ref.Val { return boolean(a.in.Signals.ClonedAuthenticator) }},
	{"risk.original_factor", cel.BoolType, "The factor a step-up passed with was set up before the account's last recovery.",
		func(a *activation) ref.Val { return boolean(a.in.Signals.OriginalFactor) }},

	{"client.id", cel.StringType, "The app (OAuth client) the decision is about, `\"\"` for none.",
		func(a *activation) ref.Val { return str(a.in.ClientID) }},
	{"client.first_party", cel.BoolType, "The app is the business's own (it skips the consent page). Set at `oauth.authorize`.",
		func(a *activation) ref.Val { return boolean(a.in.FirstParty) }},
	{"client.aal", cel.StringType, "The assurance level the app requires of every sign-in, `\"\"` when it leaves it to the domain.",
		func(a *activation) ref.Val { return str(a.in.ClientAAL) }},
	{"client.requested_aal", cel.StringType, "The assurance level this authorization request asked for (`acr_values`).",
		func(a *activation) ref.Val { return str(a.in.RequestedAAL) }},

	{"session.id", cel.StringType, "The session the decision is about, `\"\"` for none.",
		func(a *activation) ref.Val { return str(a.in.SessionID) }},
	{"session.aal", cel.StringType, "The session's assurance level: `aal1`, `aal2`, or `\"\"`.",
		func(a *activation) ref.Val { return str(a.in.AAL) }},
	{"session.methods", cel.ListType(cel.StringType), "The methods passed so far: `password`, `email_code`, `totp`, `recovery_code`, `passkey`, `sms_code`, `provider` (an upstream provider's account), `provider_mfa` (with two factors there, as the provider's `mfa_values` say).",
		func(a *activation) ref.Val { return stringList(a.in.Methods) }},
	{"session.authenticated_at", cel.TimestampType, "When the session last proved a factor (the Unix epoch for never).",
		func(a *activation) ref.Val { return timestamp(a.in.AuthenticatedAt) }},
	{"session.age", cel.DurationType, "How long ago the session last proved a factor (a very long time for never).",
		func(a *activation) ref.Val {
			if a.in.AuthenticatedAt.IsZero() {
				return duration(time.Duration(1<<63 - 1))
			}
			return duration(a.in.Time.Sub(a.in.AuthenticatedAt))
		}},

	{"journey.id", cel.StringType, "The journey (flow) the decision is a step of, `\"\"` for none.",
		func(a *activation) ref.Val { return str(a.in.FlowID) }},
	{"journey.type", cel.StringType, "The journey's kind: `registration`, `login`, `verification`, `recovery`, `email_change`, `phone_change`, `provider` (a round trip to an upstream provider).",
		func(a *activation) ref.Val { return str(a.in.FlowType) }},
	{"journey.provider", cel.StringType, "The upstream provider (its id in the configuration) a sign-in or sign-up passed through, `\"\"` for none. Set at `login.submit`, `registration.submit` and `session.issue`.",
		func(a *activation) ref.Val { return str(a.in.Provider) }},

	{"transaction", dynMap, "What an app says is at stake. `transaction.details` lists, at `oauth.authorize`, the authorization details of the app's request (RFC 9396), each object as the app sent it: `type`, and fields such as `actions`, `locations`, `instructedAmount`; an empty list otherwise.",
		func(a *activation) ref.Val {
			if a.in.Transaction == nil {
				return noTransaction
			}
			return anyMap(a.in.Transaction)
		}},
}

var fieldIndex = func() map[string]*field {
	m := make(map[string]*field, len(fields))
	for i := range fields {
		m[fields[i].name] = &fields[i]
	}
	return m
}()

// Fields lists the context's names, in the order of the reference.
func Fields() []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f.name
	}
	return out
}
