package main

import "strings"

// Every Argon2id hash allocates its 19 MiB afresh (golang.org/x/crypto
// gives no way to reuse it). When the Go runtime hands freed heap back to
// the kernel with MADV_DONTNEED, its default on Linux, the next hashes
// fault those pages in again — a read fault that maps the zero page, then
// a write fault whose TLB shootdown interrupts every core — some 4% of a
// loaded server's CPU, and a sign-in's tail latency with it. With
// MADV_FREE (GODEBUG=madvdontneed=0) the pages stay mapped until the
// kernel needs them. The setting is read once, when the process starts,
// so `foyer serve` starts itself again with it (see docs/operations.md,
// "Memory"); an operator's own madvdontneed setting wins.

// madvFreeEnv returns environ with madvdontneed=0 added to GODEBUG, and
// whether that changed anything: false when GODEBUG already says
// madvdontneed, either way.
func madvFreeEnv(environ []string) ([]string, bool) {
	out := make([]string, 0, len(environ)+1)
	godebug := ""
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
			godebug = v
			continue
		}
		out = append(out, kv)
	}
	for _, setting := range strings.Split(godebug, ",") {
		if strings.HasPrefix(strings.TrimSpace(setting), "madvdontneed=") {
			return environ, false
		}
	}
	if godebug != "" {
		godebug += ","
	}
	return append(out, "GODEBUG="+godebug+"madvdontneed=0"), true
}
