package store

import (
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresDuration is postgresDuration, for tests.
var PostgresDuration = postgresDuration

// Timeouts are the bounds PostgresConfig found, for tests.
type Timeouts struct{ Connect, Statement time.Duration }

// PostgresConfig is postgresConfig, for tests.
func PostgresConfig(dsn string) (*pgx.ConnConfig, Timeouts, error) {
	cfg, t, err := postgresConfig(dsn)
	return cfg, Timeouts{Connect: t.connect, Statement: t.statement}, err
}
