package password

import (
	"context"
	"encoding/base64"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/argon2"
)

var testParams = Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func TestNewHasherConcurrency(t *testing.T) {
	tests := []struct {
		maxConcurrent, want int
	}{
		{0, runtime.NumCPU()},
		{-3, runtime.NumCPU()},
		{1, 1},
		{7, 7},
	}
	for _, tt := range tests {
		if got := cap(NewHasher(testParams, tt.maxConcurrent).sem); got != tt.want {
			t.Errorf("NewHasher(_, %d): %d slots, want %d", tt.maxConcurrent, got, tt.want)
		}
	}
}

// TestSemaphore counts the hashes running at once through the derive hook.
// It never relies on timing: blocked hashes are held until released.
func TestSemaphore(t *testing.T) {
	const limit, callers = 2, 6
	h := NewHasher(testParams, limit)
	var running, peak atomic.Int32
	entered := make(chan struct{}, callers)
	release := make(chan struct{})
	h.derive = func(password, salt []byte, p Params) []byte {
		n := running.Add(1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		entered <- struct{}{}
		<-release
		running.Add(-1)
		return make([]byte, p.KeyLength)
	}

	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			_, err := h.Hash(context.Background(), "pw")
			errs <- err
		})
	}
	for range limit {
		<-entered
	}
	if got := len(h.sem); got != limit {
		t.Fatalf("%d slots taken while %d hashes block, want %d", got, limit, limit)
	}

	// With every slot taken, a caller whose context ends gives up.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, _, err := h.Verify(ctx, "pw", encodePHC(testParams, make([]byte, 16), make([]byte, 32)))
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify waiting for a slot: error = %v, want context.Canceled", err)
	}

	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Hash: %v", err)
		}
	}
	if got := peak.Load(); got != limit {
		t.Fatalf("at most %d hashes ran at once, want exactly %d", got, limit)
	}
	if got := len(h.sem); got != 0 {
		t.Fatalf("%d slots still taken after all hashes returned", got)
	}
}

// TestHashEncoding fixes the salt to check the PHC string byte for byte.
func TestHashEncoding(t *testing.T) {
	h := NewHasher(testParams, 1)
	salt := []byte("0123456789abcdef")
	h.rand = strings.NewReader(string(salt))
	got, err := h.Hash(context.Background(), "ﬁle") // NFKC: "file"
	if err != nil {
		t.Fatal(err)
	}
	key := argon2.IDKey([]byte("file"), salt, 1, 1024, 1, 32)
	want := "$argon2id$v=19$m=1024,t=1,p=1$" +
		base64.RawStdEncoding.EncodeToString(salt) + "$" +
		base64.RawStdEncoding.EncodeToString(key)
	if got != want {
		t.Fatalf("Hash = %q, want %q", got, want)
	}

	// A failing random source is an error, not a weak salt.
	h.rand = strings.NewReader("short")
	if _, err := h.Hash(context.Background(), "file"); err == nil {
		t.Fatal("Hash with an exhausted random source succeeded")
	}
}

func TestVerifyDummyWork(t *testing.T) {
	h := NewHasher(testParams, 1)
	var calls []Params
	h.derive = func(password, salt []byte, p Params) []byte {
		calls = append(calls, p)
		return make([]byte, p.KeyLength)
	}
	h.VerifyDummy(context.Background(), "first")
	dummy := h.dummy
	h.VerifyDummy(context.Background(), "second")
	if h.dummy != dummy {
		t.Fatal("the dummy hash changed between calls")
	}
	if len(calls) != 2 || calls[0] != testParams || calls[1] != testParams {
		t.Fatalf("derive calls = %+v, want two at %+v", calls, testParams)
	}
	if _, _, _, err := decodePHC(dummy); err != nil {
		t.Fatalf("dummy hash does not parse: %v", err)
	}
}
