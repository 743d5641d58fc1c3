// Package server wires Foyer together by hand: it opens the store, builds
// every domain service from the typed configuration, mounts the hosted
// pages, the JSON API, the health probes and (in dev mode) the mailbox on
// one http.ServeMux, and runs the background workers (mail delivery,
// pruning of expired state). There is no service container: New reads top
// to bottom.
package server
