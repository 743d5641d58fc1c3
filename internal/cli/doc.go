// Package cli implements the foyer command line: one subcommand per job
// (serve, migrate, version; later clients, keys, policy, users), each with
// --help, each usable against the same --data/--dsn while a server runs.
package cli
