package password

import (
	"bytes"
	"compress/gzip"
	"testing"
	"unicode/utf8"
)

func TestIsCommon(t *testing.T) {
	tests := []struct {
		password string
		want     bool
	}{
		{"password", true},
		{"Password", true},
		{"PASSWORD", true},
		{"12345678", true},
		{"123456", true},
		{"Password1", true},
		{"qwerty", true},
		{"iloveyou", true},
		{"P@ssw0rd", true},
		{"ｐａｓｓｗｏｒｄ", true}, // full width, NFKC
		{"violet-harbour-47", false},
		{"the quiet lighthouse keeper paints violet storms", false},
		{"123", false}, // entries shorter than 4 code points are not listed
		{"", false},
	}
	for _, tt := range tests {
		if got := IsCommon(tt.password); got != tt.want {
			t.Errorf("IsCommon(%q) = %v, want %v", tt.password, got, tt.want)
		}
	}
}

// TestCommonListFormat checks the shipped file against what IsCommon assumes
// and what internal/gen promises.
func TestCommonListFormat(t *testing.T) {
	l := commonList()
	if l.len() < 100_000 {
		t.Fatalf("common list has %d entries, want at least 100,000", l.len())
	}
	prev := ""
	for i := range l.len() {
		e := l.at(i)
		if i > 0 && e <= prev {
			t.Fatalf("entry %d %q is not after %q", i, e, prev)
		}
		if fold(e) != e {
			t.Fatalf("entry %d %q is not folded", i, e)
		}
		if n := utf8.RuneCountInString(e); n < 4 || n > 64 {
			t.Fatalf("entry %d %q has %d code points, want 4..64", i, e, n)
		}
		prev = e
	}
}

func TestSortedList(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("bbbb\ndddd\nffff\n"))
	zw.Close()
	l, err := loadSortedList(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		s    string
		want bool
	}{
		{"bbbb", true}, {"dddd", true}, {"ffff", true},
		{"", false}, {"aaaa", false}, {"bbb", false}, {"bbbbb", false}, {"cccc", false}, {"gggg", false},
	}
	for _, tt := range tests {
		if got := l.contains(tt.s); got != tt.want {
			t.Errorf("contains(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
	if _, err := loadSortedList([]byte("not gzip")); err == nil {
		t.Error("loadSortedList(not gzip) succeeded")
	}
}

func BenchmarkIsCommon(b *testing.B) {
	IsCommon("warm up") // load the list outside the timed loop
	words := []string{"password", "violet-harbour-47", "Tr0ub4dor&3", "qwertyuiop"}
	i := 0
	for b.Loop() {
		IsCommon(words[i%len(words)])
		i++
	}
}
