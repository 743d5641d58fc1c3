package testsuites

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// goCommandOutput opens the standard error of the go command that runs
// this test binary, and names the run (the command's process id and
// start time). `go test ./...` keeps a passing package's own output to
// itself; what is written to the command's own standard error shows.
// It returns nil where that is not safe or not possible: another parent
// than go, or a regular file not opened for appending (the command's own
// writes would then overwrite the line).
func goCommandOutput() (*os.File, string) {
	ppid := os.Getppid()
	proc := "/proc/" + strconv.Itoa(ppid)
	comm, err := os.ReadFile(proc + "/comm")
	if err != nil || strings.TrimSpace(string(comm)) != "go" {
		return nil, ""
	}
	stat, err := os.ReadFile(proc + "/stat")
	if err != nil {
		return nil, ""
	}
	// Field 22 is the start time; the command name before it, in
	// parentheses, may hold spaces.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 20 {
		return nil, ""
	}
	run := fmt.Sprintf("%d-%s", ppid, fields[19])
	f, err := os.OpenFile(proc+"/fd/2", os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, ""
	}
	info, err := f.Stat()
	if err != nil || (info.Mode().IsRegular() && !appending(proc+"/fdinfo/2")) {
		f.Close()
		return nil, ""
	}
	return f, run
}

// appending reports whether the file descriptor described by fdinfo was
// opened with O_APPEND.
func appending(fdinfo string) bool {
	raw, err := os.ReadFile(fdinfo)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "flags:"); ok {
			flags, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
			return err == nil && flags&syscall.O_APPEND != 0
		}
	}
	return false
}
