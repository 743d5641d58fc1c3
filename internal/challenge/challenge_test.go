package challenge

import (
	"strings"
	"testing"
	"time"
)

func TestSolveAndCheck(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	iss := NewIssuer([]byte("server secret"), func() time.Time { return now })
	c := iss.New("login:ip:192.0.2.1", 12)
	if c.Algorithm != Algorithm || c.Difficulty != 12 || !c.ExpiresAt.Equal(now.Add(Lifetime)) {
		t.Fatalf("challenge = %+v", c)
	}
	sol := Solve(c)
	if !Solves(c.Token, sol, 12) {
		t.Fatalf("Solve gave %q, which does not solve the challenge", sol)
	}
	id, d, exp, err := iss.Check("login:ip:192.0.2.1", Proof{Token: c.Token, Solution: sol})
	if err != nil || id == "" || d != 12 || !exp.Equal(c.ExpiresAt) {
		t.Fatalf("Check = %q, %d, %v, %v", id, d, exp, err)
	}
	// Two challenges never share an id.
	if id2, _, _, _ := iss.Check("login:ip:192.0.2.1", Proof{Token: iss.New("login:ip:192.0.2.1", 1).Token, Solution: "0"}); id2 == id {
		t.Fatal("two challenges share an id")
	}
}

func TestCheckRefuses(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	iss := NewIssuer([]byte("server secret"), func() time.Time { return now })
	scope := "login:ip:192.0.2.1"
	c := iss.New(scope, 10)
	sol := Solve(c)
	wrong := "0"
	for Solves(c.Token, wrong, 10) {
		wrong += "1"
	}
	other := NewIssuer([]byte("another secret"), func() time.Time { return now }).New(scope, 10)
	tampered := []byte(c.Token)
	tampered[len(tampered)-60] ^= 1 // in the difficulty or expiry, under the MAC
	cases := map[string]Proof{
		"wrong solution":       {Token: c.Token, Solution: wrong},
		"another scope":        {Token: c.Token, Solution: sol},
		"another key":          {Token: other.Token, Solution: Solve(other)},
		"tampered":             {Token: string(tampered), Solution: sol},
		"not base64":           {Token: "!!!", Solution: sol},
		"empty":                {},
		"solution not decimal": {Token: c.Token, Solution: "-" + sol},
		"long token":           {Token: strings.Repeat("A", 1000), Solution: sol},
	}
	for name, p := range cases {
		s := scope
		if name == "another scope" {
			s = "login:ip:192.0.2.2"
		}
		if _, _, _, err := iss.Check(s, p); err != ErrInvalid {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	now = now.Add(Lifetime)
	if _, _, _, err := iss.Check(scope, Proof{Token: c.Token, Solution: sol}); err != ErrExpired {
		t.Errorf("expired: err = %v", err)
	}
}

func TestDifficultyBounds(t *testing.T) {
	iss := NewIssuer([]byte("k"), time.Now)
	if c := iss.New("s", 0); c.Difficulty != 1 {
		t.Errorf("difficulty 0 became %d", c.Difficulty)
	}
	if c := iss.New("s", 99); c.Difficulty != MaxDifficulty {
		t.Errorf("difficulty 99 became %d", c.Difficulty)
	}
}

func BenchmarkCheck(b *testing.B) {
	iss := NewIssuer([]byte("k"), time.Now)
	c := iss.New("s", 8)
	p := Proof{Token: c.Token, Solution: Solve(c)}
	for b.Loop() {
		if _, _, _, err := iss.Check("s", p); err != nil {
			b.Fatal(err)
		}
	}
}
