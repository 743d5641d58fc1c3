package courier

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// The webhook gets each text message as signed JSON; its answer says
// whether to retry.
func TestWebhookSMS(t *testing.T) {
	secret := []byte("webhook secret")
	var (
		mu     sync.Mutex
		got    []map[string]string
		status = http.StatusAccepted
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, secret)
		mac.Write(body)
		if r.Header.Get("X-Foyer-Signature") != "sha256="+hex.EncodeToString(mac.Sum(nil)) || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var m map[string]string
		_ = json.Unmarshal(body, &m)
		mu.Lock()
		got = append(got, m)
		st := status
		mu.Unlock()
		w.WriteHeader(st)
	}))
	defer srv.Close()
	r := Router{Mail: DevMailboxSender{}, SMS: &WebhookSMS{URL: srv.URL, Secret: secret}}
	ctx := context.Background()
	if err := r.Send(ctx, Mail{MessageID: "m-1", To: "+447946000123", Subject: "s", Text: "204816 is your code"}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0]["to"] != "+447946000123" || got[0]["text"] != "204816 is your code" || got[0]["id"] != "m-1" {
		t.Fatalf("webhook got %v", got)
	}
	for st, want := range map[int]string{http.StatusServiceUnavailable: "retry", http.StatusTooManyRequests: "retry", http.StatusBadRequest: "permanent"} {
		mu.Lock()
		status = st
		mu.Unlock()
		err := r.Send(ctx, Mail{MessageID: "m-2", To: "+447946000123", Text: "x"})
		switch {
		case err == nil:
			t.Fatalf("%d: delivered", st)
		case want == "permanent" && !IsPermanent(err):
			t.Fatalf("%d: %v is retried", st, err)
		case want == "retry" && (IsPermanent(err) || !errors.As(err, new(deferredError))):
			t.Fatalf("%d: %v is not a deferred retry", st, err)
		}
	}
	// Mail still goes to the mail sender.
	if err := r.Send(ctx, Mail{MessageID: "m-3", To: "someone@example.com", Text: "x"}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("mail went to the SMS webhook: %d calls", len(got))
	}
	// No SMS sender: a text message cannot leave, for good.
	if err := (Router{Mail: DevMailboxSender{}}).Send(ctx, Mail{To: "+447946000123"}); !IsPermanent(err) {
		t.Fatalf("no SMS sender: %v", err)
	}
}
