package upstream

import (
	"net/http"
	"time"
)

// SetClock makes p read the time from now.
func SetClock(p *Provider, now func() time.Time) { p.now = now }

// HTTPClient is the client p makes its requests with.
func HTTPClient(p *Provider) *http.Client { return p.client }
