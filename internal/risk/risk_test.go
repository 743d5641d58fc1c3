package risk_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/risk"
	"github.com/foyer-id/foyer/internal/risk/risktest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// A City and an ASN database together say where an address is; what
// neither knows stays empty, and an address is always its network.
func TestGeoIPLookup(t *testing.T) {
	city := risktest.WriteCity(t,
		risktest.City{Network: "203.0.113.0/24", Country: "FR", City: "Paris", Lat: 48.86, Lon: 2.35},
		risktest.City{Network: "2001:db8:1::/48", Country: "JP", City: "Tokyo", Lat: 35.68, Lon: 139.69})
	asn := risktest.WriteASN(t, risktest.ASN{Network: "203.0.113.0/24", Number: 64500, Org: "Example Telecom"})
	g, err := risk.OpenGeoIP(city, asn)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if p := g.Lookup("203.0.113.77"); p.Country != "FR" || p.City != "Paris" || !p.HasCoords || p.Lat != 48.86 || p.ASN != 64500 || p.Network != "203.0.113.0/24" {
		t.Fatalf("203.0.113.77 = %+v", p)
	}
	if p := g.Lookup("2001:db8:1:2::5"); p.Country != "JP" || p.Network != "2001:db8:1::/48" || p.ASN != 0 {
		t.Fatalf("2001:db8:1:2::5 = %+v", p)
	}
	if p := g.Lookup("::ffff:198.51.100.4"); p.Country != "" || p.HasCoords || p.Network != "198.51.100.0/24" {
		t.Fatalf("unknown address = %+v", p)
	}
	if p := g.Lookup("not an address"); p != (risk.Place{}) {
		t.Fatalf("garbage = %+v", p)
	}
	var none *risk.GeoIP
	if p := none.Lookup("203.0.113.77"); p != (risk.Place{Network: "203.0.113.0/24"}) {
		t.Fatalf("without databases = %+v", p)
	}
}

// A file that is not a City, Country or ASN database is refused when it
// is opened, with its path.
func TestOpenGeoIPRefusesOtherFiles(t *testing.T) {
	junk := filepath.Join(t.TempDir(), "junk.mmdb")
	if err := os.WriteFile(junk, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{junk, filepath.Join(t.TempDir(), "missing.mmdb")} {
		if _, err := risk.OpenGeoIP(p); err == nil {
			t.Fatalf("%s opened", p)
		}
	}
}

// A device is recorded once per identity and moves with its last place;
// the history reads most recent first, by identity or by identifier; and
// devices unused past the cutoff are forgotten.
func TestDevices(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.Exec(ctx, `INSERT INTO identities (id, domain, schema_id, state, traits, created_at, updated_at) VALUES ('id-1', 'customers', 'default', 'active', '{}', 1, 1)`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `INSERT INTO identifiers (id, identity_id, domain, kind, value, verified_at, created_at) VALUES ('i-1', 'id-1', 'customers', 'email', 'a@example.com', 1, 1)`); err != nil {
			t.Fatal(err)
		}
		d := risk.NewDevices(db)
		base := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
		seen := func(device string, at time.Time, p risk.Place) {
			t.Helper()
			err := db.InTx(ctx, func(tx *store.Tx) error {
				return d.SeenTx(ctx, tx, risk.Device{IdentityID: "id-1", DeviceID: device, LastSeen: at, UserAgent: "Firefox on Linux", Place: p})
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		paris := risk.Place{Network: "203.0.113.0/24", Country: "FR", City: "Paris", Lat: 48.86, Lon: 2.35, HasCoords: true, ASN: 64500}
		seen("laptop", base, paris)
		seen("phone", base.Add(time.Hour), risk.Place{Network: "198.51.100.0/24"})
		seen("laptop", base.Add(2*time.Hour), paris)
		seen("", base.Add(3*time.Hour), paris) // no device id: nothing to record
		var byID, byIdentifier []risk.Device
		r := db.Reads()
		d.HistoryIn(r, "id-1", &byID)
		d.HistoryByIdentifierIn(r, "customers", "email", "a@example.com", &byIdentifier)
		if err := r.Run(ctx); err != nil {
			t.Fatal(err)
		}
		if len(byID) != 2 || byID[0].DeviceID != "laptop" || !byID[0].FirstSeen.Equal(base) || !byID[0].LastSeen.Equal(base.Add(2*time.Hour)) ||
			byID[0].Place != paris || byID[1].Place.HasCoords {
			t.Fatalf("history = %+v", byID)
		}
		if len(byIdentifier) != 2 || byIdentifier[0] != byID[0] {
			t.Fatalf("by identifier = %+v", byIdentifier)
		}
		var unknown []risk.Device
		r = db.Reads()
		d.HistoryByIdentifierIn(r, "customers", "email", "nobody@example.com", &unknown)
		if err := r.Run(ctx); err != nil || len(unknown) != 0 {
			t.Fatalf("unknown identifier = %+v, %v", unknown, err)
		}
		for device, want := range map[string]bool{"laptop": true, "phone": true, "tablet": false, "": false} {
			if known, err := d.Known(ctx, device, "id-1"); err != nil || known != want {
				t.Fatalf("Known(%q) = %v, %v", device, known, err)
			}
		}
		if known, _ := d.Known(ctx, "laptop", "id-2"); known {
			t.Fatal("a device is known to another identity")
		}
		// Seen again from the same place within minutes: not written (the
		// last-seen time may lag by that much); from elsewhere, or later,
		// written.
		last := func() time.Time {
			var h []risk.Device
			r := db.Reads()
			d.HistoryIn(r, "id-1", &h)
			if err := r.Run(ctx); err != nil {
				t.Fatal(err)
			}
			return h[0].LastSeen
		}
		seen("laptop", base.Add(2*time.Hour+5*time.Minute), paris)
		if got := last(); !got.Equal(base.Add(2 * time.Hour)) {
			t.Fatalf("a sign-in minutes later from the same place was written: %v", got)
		}
		seen("laptop", base.Add(2*time.Hour+6*time.Minute), risk.Place{Network: "192.0.2.0/24", Country: "FR"})
		if got := last(); !got.Equal(base.Add(2*time.Hour + 6*time.Minute)) {
			t.Fatalf("a sign-in from another network was not written: %v", got)
		}
		seen("laptop", base.Add(2*time.Hour+20*time.Minute), risk.Place{Network: "192.0.2.0/24", Country: "FR"})
		if got := last(); !got.Equal(base.Add(2*time.Hour + 20*time.Minute)) {
			t.Fatalf("a sign-in past the gap was not written: %v", got)
		}
		if n, err := d.Prune(ctx, base.Add(90*time.Minute)); err != nil || n != 1 {
			t.Fatalf("Prune = %d, %v", n, err)
		}
	})
}

// What a history says of a sign-in.
func TestAssess(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	paris := risk.Place{Network: "203.0.113.0/24", Country: "FR", Lat: 48.86, Lon: 2.35, HasCoords: true}
	lyon := risk.Place{Network: "203.0.114.0/24", Country: "FR", Lat: 45.76, Lon: 4.84, HasCoords: true}
	tokyo := risk.Place{Network: "192.0.2.0/24", Country: "JP", Lat: 35.68, Lon: 139.69, HasCoords: true}
	history := []risk.Device{{DeviceID: "laptop", LastSeen: now.Add(-time.Hour), Place: paris}}

	if a := risk.Assess(nil, "laptop", paris, now); !a.FirstDevice || a.KnownDevice || a.NewCountry || a.TravelKmh != 0 {
		t.Fatalf("first sign-in = %+v", a)
	}
	if a := risk.Assess(history, "laptop", paris, now); !a.KnownDevice || a.NewCountry || a.NewNetwork || a.TravelKmh != 0 {
		t.Fatalf("same device, same place = %+v", a)
	}
	if a := risk.Assess(history, "phone", lyon, now); a.KnownDevice || a.NewCountry || !a.NewNetwork || a.TravelKmh < 350 || a.TravelKmh > 450 {
		t.Fatalf("new device in Lyon an hour later = %+v", a) // ~392 km in an hour
	}
	a := risk.Assess(history, "phone", tokyo, now)
	if !a.NewCountry || !a.NewNetwork || math.Abs(a.TravelKmh-9713) > 100 {
		t.Fatalf("Tokyo an hour after Paris = %+v", a)
	}
	if a := risk.Assess(history, "phone", tokyo, now.Add(-time.Hour)); a.TravelKmh < 500_000 {
		t.Fatalf("Tokyo at the same moment = %+v (a minute at least)", a)
	}
	if a := risk.Assess(history, "phone", risk.Place{Network: "192.0.2.0/24"}, now); a.NewCountry || a.TravelKmh != 0 {
		t.Fatalf("place unknown = %+v", a)
	}
}

func TestFamily(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0":                                                                  "Firefox on Linux",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0":           "Edge on Windows",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1": "Safari on iPhone",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36":                   "Chrome on Android",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15":                   "Safari on macOS",
		"Dalvik/2.1.0 (Linux; U; Android 14)":                   "a browser on Android",
		"shop-ios/4.2 CFNetwork":                                "",
		"IT Security: all is fine, see https://evil.example/ok": "",
		"": "",
	} {
		if got := risk.Family(ua); got != want {
			t.Errorf("Family(%q) = %q, want %q", ua, got, want)
		}
	}
}
