// Command foyer is the Foyer customer identity server. See `foyer help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/foyer-id/foyer/internal/cli"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		keepFreedMemory() // a long-running server's hashes (memory.go)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
