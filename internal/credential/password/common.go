package password

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/binary"
	"io"
	"sort"
	"strings"
	"sync"
)

//go:generate go run ./internal/gen -src=$FOYER_PASSWORD_LIST -out=common.txt.gz

// commonGz is the common-password list: folded (see fold), deduplicated,
// sorted bytewise, one entry a line, 4 to 64 code points each, gzipped. It is
// built by internal/gen; see NOTICE for its source and licence.
//
//go:embed common.txt.gz
var commonGz []byte

// commonList is the decompressed list, loaded on first use.
var commonList = sync.OnceValue(func() *sortedList {
	l, err := loadSortedList(commonGz)
	if err != nil {
		// The file is embedded at build time and checked by the tests.
		panic("password: load common-password list: " + err.Error())
	}
	return l
})

// sortedList is a sorted list of strings kept as one string, with the start
// offset of each entry: about 3.5 MB of text and 1.6 MB of offsets for the
// shipped list, instead of a map's tens of megabytes.
type sortedList struct {
	text  string   // entries, each followed by '\n'
	start []uint32 // start[i] is the offset of entry i; len(start) = entries+1
}

// maxListSize bounds the buffer loadSortedList sizes from a gzip trailer.
const maxListSize = 64 << 20

// loadSortedList decompresses a list of '\n'-terminated entries, already
// sorted, and indexes the start of each entry.
func loadSortedList(gz []byte) (*sortedList, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	if n := len(gz); n >= 4 {
		// The gzip trailer ends with the uncompressed size; sizing the
		// buffer up front avoids copies while it grows.
		if size := binary.LittleEndian.Uint32(gz[n-4:]); size <= maxListSize {
			b.Grow(int(size))
		}
	}
	if _, err := io.Copy(&b, zr); err != nil {
		return nil, err
	}
	text := b.String()
	start := make([]uint32, 0, strings.Count(text, "\n")+1)
	start = append(start, 0)
	for i := 0; i < len(text); i++ {
		if text[i] == '\n' {
			start = append(start, uint32(i+1))
		}
	}
	return &sortedList{text: text, start: start}, nil
}

// len returns the number of entries.
func (l *sortedList) len() int { return len(l.start) - 1 }

// at returns entry i.
func (l *sortedList) at(i int) string { return l.text[l.start[i] : l.start[i+1]-1] }

// contains reports whether s is an entry, by binary search.
func (l *sortedList) contains(s string) bool {
	i := sort.Search(l.len(), func(i int) bool { return l.at(i) >= s })
	return i < l.len() && l.at(i) == s
}

// IsCommon reports whether password is in Foyer's list of common and breached
// passwords, ignoring case and after NFKC normalisation. The list holds only
// entries of 4 to 64 code points, so IsCommon is false for shorter passwords:
// a minimum length deals with those. The list is decompressed on first use
// (about 5 MB in memory) and shared by all callers.
func IsCommon(password string) bool {
	return commonList().contains(fold(password))
}

// Preload decompresses the common-password list now rather than on the
// first sign-up (about a tenth of a second); servers call it at start.
func Preload() { commonList() }
