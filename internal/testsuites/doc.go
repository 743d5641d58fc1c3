// Package testsuites says which of Foyer's optional test suites did not
// run. The PostgreSQL suite needs FOYER_TEST_POSTGRES_DSN and the browser
// suite Chromium; without them their tests skip. A plain `go test ./...`
// prints nothing of a package that passes — neither its skips nor
// anything it writes — so a skipped suite would go unnoticed. Skip
// therefore also writes one line per suite and run where that command
// shows it, and Required turns a skip into a failure where the suite must
// run (CI).
package testsuites
