package servertest

import (
	"fmt"
	"net"
	"sync"
	"testing"
)

// recorder is a testing.TB that records how a helper reported failure.
type recorder struct {
	testing.TB
	mu            sync.Mutex
	errors, fatal int
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors++
}

func (r *recorder) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }

func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatal++
	r.mu.Unlock()
	// What the real one does, minus marking the test failed.
	panic("Fatal called")
}

// JSON is called from bursts of goroutines, where t.Fatal must not be
// called: a failed request is reported with Errorf and a zero Response.
func TestJSONReportsFailureWithoutFatal(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: the request fails
	env := &Env{URL: "http://" + addr}
	rec := &recorder{}
	var wg sync.WaitGroup
	statuses := make([]int, 4)
	for i := range statuses {
		wg.Go(func() {
			defer func() {
				if v := recover(); v != nil {
					statuses[i] = -1
				}
			}()
			statuses[i] = env.JSON(rec, "GET", "/sessions/whoami", "", nil, nil).StatusCode
		})
	}
	wg.Wait()
	if rec.fatal != 0 || rec.errors != len(statuses) {
		t.Fatalf("Fatal %d times, Errorf %d times; want Errorf once per request", rec.fatal, rec.errors)
	}
	for _, s := range statuses {
		if s != 0 {
			t.Fatalf("statuses %v, want 0 for failed requests", statuses)
		}
	}
}
