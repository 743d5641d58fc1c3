//go:build !linux

package main

// keepFreedMemory does nothing: MADV_DONTNEED's cost (memory.go) is
// Linux's.
func keepFreedMemory() {}
