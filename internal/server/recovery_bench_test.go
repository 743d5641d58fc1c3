package server_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// BenchmarkRecoveryRequest times a recovery's first step — start, then
// the address — for addresses of accounts and addresses of none: the two
// must not be told apart by time (compare their ns/op; docs/benchmarks.md
// records a run). Addresses rotate, and the clock moves on, so that no
// limit is reached.
func BenchmarkRecoveryRequest(b *testing.B) {
	env := servertest.Start(b, storetest.NewSQLite(b))
	const n = 20
	for i := range n {
		id, code := startAPIRegistration(b, env, fmt.Sprintf("known%d@example.com", i))
		if r := env.JSON(b, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": code}, nil); r.StatusCode != 200 {
			b.Fatalf("sign-up: %d", r.StatusCode)
		}
	}
	for _, kind := range []string{"account", "no_account"} {
		b.Run(kind, func(b *testing.B) {
			i := 0
			for b.Loop() {
				if i%(2*n) == 0 {
					b.StopTimer()
					env.Clock.Advance(2 * time.Hour)
					b.StartTimer()
				}
				email := fmt.Sprintf("known%d@example.com", i%n)
				if kind == "no_account" {
					email = fmt.Sprintf("unknown%d@example.com", i%n)
				}
				var start api.FlowResponse
				env.JSON(b, "POST", "/api/recovery", "", nil, &start)
				if r := env.JSON(b, "POST", "/api/recovery/"+start.Flow.ID, "", map[string]any{"email": email}, nil); r.StatusCode != 200 {
					b.Fatalf("%s: %d %s", email, r.StatusCode, r.Body)
				}
				i++
			}
		})
	}
}
