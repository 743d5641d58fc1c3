package risk_test

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/decision"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/risk"
	"github.com/foyer-id/foyer/internal/risk/risktest"
)

// discard is a writer that takes a statement and does nothing: the
// benchmark measures the record's encoding, not the database.
type discard struct{}

func (discard) Exec(context.Context, string, ...any) (sql.Result, error) { return nil, nil }

// BenchmarkGatherAndDecide is a sign-in's decision without the database's
// round trips (which the step makes anyway): place the client (GeoIP City
// and ASN), weigh the identity's devices, ask the built-in policy, and
// encode the record. It reports the 99th percentile of one decision
// (p99-ns); the target is under 100 µs.
func BenchmarkGatherAndDecide(b *testing.B) {
	var places []risktest.City
	for i := range 256 { // a tree of some depth
		places = append(places, risktest.City{Network: "10." + strconv.Itoa(i) + ".0.0/16", Country: "FR", City: "Paris", Lat: 48.86, Lon: 2.35})
	}
	places = append(places, risktest.City{Network: "203.0.113.0/24", Country: "JP", City: "Tokyo", Lat: 35.68, Lon: 139.69})
	g, err := risk.OpenGeoIP(risktest.WriteCity(b, places...), risktest.WriteASN(b, risktest.ASN{Network: "203.0.113.0/24", Number: 64500}))
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	var history []risk.Device
	for i := range risk.HistoryLimit {
		history = append(history, risk.Device{DeviceID: "device-" + strconv.Itoa(i), LastSeen: now.Add(-time.Duration(i+1) * time.Hour),
			Place: risk.Place{Network: "10." + strconv.Itoa(i) + ".0.0/24", Country: "FR", Lat: 48.86, Lon: 2.35, HasCoords: true}})
	}
	point := &decision.Point{Domain: "customers", Policy: policy.Default{RequireVerifiedEmail: true}, Now: func() time.Time { return now }}
	ctx := context.Background()
	took := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		here := g.Lookup("203.0.113.9")
		a := risk.Assess(history, "device-new", here, now)
		in := policy.Input{Action: policy.SessionIssue, FlowID: "0193a4c2-7f1e-7b3a-9c4d-5e6f7a8b9c0d", ClientIP: "203.0.113.9",
			UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", DeviceID: "device-new",
			IdentityID: "0193a4c2-7f1e-7b3a-9c4d-5e6f7a8b9c0e", IdentityState: "active", EmailVerified: true, Methods: []string{"password"},
			Signals: policy.Signals{KnownDevice: a.KnownDevice, NewCountry: a.NewCountry, NewNetwork: a.NewNetwork, TravelKmh: a.TravelKmh,
				Country: here.Country, ASN: here.ASN}}
		d, rec := point.Decide(ctx, in)
		if err := decision.Insert(ctx, discard{}, rec); err != nil || d.Effect != policy.StepUp {
			b.Fatalf("%+v %v", d, err)
		}
		if len(took) < cap(took) {
			took = append(took, time.Since(start))
		}
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds()), "p99-ns")
}
