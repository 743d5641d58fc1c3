package main

import (
	"slices"
	"testing"
)

func TestMadvFreeEnv(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []string
		want    []string
		changed bool
	}{
		{"no GODEBUG", []string{"PATH=/bin"}, []string{"PATH=/bin", "GODEBUG=madvdontneed=0"}, true},
		{"other settings kept", []string{"GODEBUG=http2client=0", "HOME=/root"}, []string{"HOME=/root", "GODEBUG=http2client=0,madvdontneed=0"}, true},
		{"the operator's choice wins", []string{"GODEBUG=gctrace=1,madvdontneed=1"}, []string{"GODEBUG=gctrace=1,madvdontneed=1"}, false},
		{"set already (the second start)", []string{"GODEBUG=madvdontneed=0"}, []string{"GODEBUG=madvdontneed=0"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := madvFreeEnv(tc.in)
			if changed != tc.changed || !slices.Equal(got, tc.want) {
				t.Fatalf("madvFreeEnv(%q) = %q, %v; want %q, %v", tc.in, got, changed, tc.want, tc.changed)
			}
		})
	}
}
