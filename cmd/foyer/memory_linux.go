package main

import (
	"os"
	"syscall"
)

// keepFreedMemory starts the process again, in place (the same process
// id, for supervisors), with madvdontneed=0 (see memory.go). On failure
// it goes on as it is: the setting is worth a few percent, not a start.
func keepFreedMemory() {
	env, changed := madvFreeEnv(os.Environ())
	if !changed {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	_ = syscall.Exec(exe, os.Args, env)
}
