package oidc

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/store"
)

// A failure of Foyer's own is logged by what it is: nothing to see when
// the client went away, a warning for an outage — also when the outage
// ran the request out of time — and an error otherwise.
func TestLogInternalLevels(t *testing.T) {
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	late, cancelLate := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancelLate()
	for _, c := range []struct {
		name string
		ctx  context.Context
		err  error
		want string
	}{
		{"client gone", gone, context.Canceled, "DEBUG"},
		{"outage", context.Background(), fmt.Errorf("read: %w", store.ErrUnavailable), "WARN"},
		{"outage past the request's deadline", late, context.DeadlineExceeded, "WARN"},
		{"bug", context.Background(), fmt.Errorf("scan: bad column"), "ERROR"},
	} {
		var buf bytes.Buffer
		s := &Storage{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
		s.logInternal(c.ctx, "test", c.err)
		if !strings.Contains(buf.String(), "level="+c.want) {
			t.Errorf("%s: logged %q, want level %s", c.name, buf.String(), c.want)
		}
	}
}
