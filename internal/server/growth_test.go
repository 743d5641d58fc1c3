package server_test

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// tableBytes is what each table takes, its indexes included, in whole
// pages: pg_total_relation_size on PostgreSQL, the dbstat table on SQLite.
func tableBytes(t *testing.T, db *store.DB) map[string]int64 {
	t.Helper()
	q := `SELECT m.tbl_name, SUM(d.pgsize) FROM dbstat d JOIN sqlite_master m ON m.name = d.name GROUP BY m.tbl_name`
	if db.Dialect == store.Postgres {
		q = `SELECT relname, pg_total_relation_size(relid) FROM pg_stat_user_tables WHERE schemaname = current_schema()`
	}
	rows, err := db.Query(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		out[name] = n
	}
	return out
}

// growth runs journey n times and returns the bytes it added per run,
// in all and by table (tables that grew by at least 16 bytes a run).
func growth(t *testing.T, db *store.DB, n int, journey func(i int)) (int64, string) {
	t.Helper()
	before := tableBytes(t, db)
	for i := range n {
		journey(i)
	}
	after := tableBytes(t, db)
	var total int64
	var parts []string
	for name, b := range after {
		d := (b - before[name]) / int64(n)
		total += d
		if d >= 16 {
			parts = append(parts, fmt.Sprintf("%s %d", name, d))
		}
	}
	sort.Strings(parts)
	return total, strings.Join(parts, ", ")
}

// What each journey leaves in the database, so that docs/architecture.md
// can say how storage grows, and so that a change that makes a journey
// much heavier is noticed. The bounds are generous: pages are allocated
// in steps, and PostgreSQL keeps dead row versions until it vacuums.
func TestStorageGrowthPerJourney(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, manySignUps, func(c *config.Config) {
			c.Domains[config.DefaultDomain].Login.EmailCode = ptrTo(false)
		})
		const n = 200
		report := func(journey string, bound int64, bytes int64, tables string) {
			t.Logf("%s: %s: %d bytes each (%s)", db.Dialect, journey, bytes, tables)
			if bytes > bound {
				t.Errorf("%s: %d bytes each, more than %d", journey, bytes, bound)
			}
		}
		// Each customer signs up, and then in, on a device of their own.
		device := func(i int) http.Header { return http.Header{"X-Foyer-Device": {deviceID(fmt.Sprintf("grow%03d", i))}} }
		var tokens []string
		bytes, tables := growth(t, db, n, func(i int) {
			id, code := startAPIRegistration(t, env, fmt.Sprintf("grow%03d@example.com", i))
			var done api.FlowResponse
			expectStatus(t, env.JSONWith(t, "POST", "/api/flows/"+id+"/code", device(i), map[string]any{"code": code}, &done), 200)
			tokens = append(tokens, done.SessionToken)
		})
		report("sign-up with its code", 20<<10, bytes, tables) // with its decisions and its device
		bytes, tables = growth(t, db, n, func(i int) {
			var start api.FlowResponse
			expectStatus(t, env.JSONWith(t, "POST", "/api/login", device(i), nil, &start), 201)
			expectStatus(t, env.JSONWith(t, "POST", "/api/login/"+start.Flow.ID, device(i), map[string]any{
				"identifier": fmt.Sprintf("grow%03d@example.com", i), "password": goodPassword}, nil), 200)
		})
		report("sign-in", 8<<10, bytes, tables)
		bytes, tables = growth(t, db, n, func(int) {
			expectStatus(t, env.JSON(t, "POST", "/api/login", "", nil, nil), 201)
		})
		report("journey started and left", 4<<10, bytes, tables)
		bytes, tables = growth(t, db, n, func(i int) {
			expectStatus(t, env.JSON(t, "POST", "/api/logout", tokens[i], map[string]any{}, nil), 204)
		})
		report("sign-out", 2<<10, bytes, tables)
	})
}
