package server

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientAddr rewrites r.RemoteAddr to the client's address when the
// request came through one of the trusted reverse proxies: the last
// address in X-Forwarded-For that is not itself a trusted proxy (each
// proxy appends the address it received the request from, so addresses
// to the left of the first untrusted one are whatever the client wrote).
// From anyone else the header is ignored: a client cannot pick its own
// address and with it its throttle key.
func clientAddr(trusted []netip.Prefix, next http.Handler) http.Handler {
	if len(trusted) == 0 {
		return next
	}
	isTrusted := func(a netip.Addr) bool {
		a = a.Unmap()
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !isTrusted(peer.Addr()) {
			next.ServeHTTP(w, r)
			return
		}
		var hops []string
		for _, h := range r.Header.Values("X-Forwarded-For") {
			hops = append(hops, strings.Split(h, ",")...)
		}
		client := netip.Addr{}
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break // garbage: stop at what we can vouch for
			}
			client = a.Unmap()
			if !isTrusted(client) {
				break
			}
		}
		if client.IsValid() {
			r = r.WithContext(r.Context()) // a shallow copy
			r.RemoteAddr = net.JoinHostPort(client.String(), "0")
		}
		next.ServeHTTP(w, r)
	})
}
