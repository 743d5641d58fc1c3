package config

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// A node's name is the configured one, or the one kept in its data folder:
// the same after a restart on the folder, another for another folder (two
// processes on one host), none without a folder.
func TestLoadNodeID(t *testing.T) {
	c := Default()
	c.NodeID = "eu-1"
	if id, err := c.LoadNodeID(); err != nil || id != "eu-1" {
		t.Fatalf("configured: %q, %v", id, err)
	}

	c = Default()
	c.Data = filepath.Join(t.TempDir(), "missing")
	if id, err := c.LoadNodeID(); err != nil || id != "" {
		t.Fatalf("without a data folder: %q, %v; want none", id, err)
	}
	if _, err := os.Stat(c.Data); !os.IsNotExist(err) {
		t.Fatalf("the data folder was created: %v", err)
	}

	c.Data = t.TempDir()
	first, err := c.LoadNodeID()
	if err != nil || first == "" || strings.ContainsAny(first, " \n") {
		t.Fatalf("first start: %q, %v", first, err)
	}
	again, err := c.LoadNodeID()
	if err != nil || again != first {
		t.Fatalf("restart: %q, %v; want %q", again, err, first)
	}
	if info, err := os.Stat(filepath.Join(c.Data, "node-id")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("node-id file: %v, %v", info, err)
	}
	other := Default()
	other.Data = t.TempDir()
	if id, err := other.LoadNodeID(); err != nil || id == "" || id == first {
		t.Fatalf("another folder: %q, %v; want a name of its own", id, err)
	}

	if err := os.WriteFile(filepath.Join(other.Data, "node-id"), []byte("two words\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := other.LoadNodeID(); err == nil || !strings.Contains(err.Error(), "node_id") {
		t.Fatalf("a damaged node-id file: %v, want an error naming node_id", err)
	}
}

// Nodes started at once on one fresh folder agree on its name: none reads
// the file before its name is in it.
func TestLoadNodeIDAtOnce(t *testing.T) {
	dir := t.TempDir()
	const n = 16
	var (
		start = make(chan struct{})
		wg    sync.WaitGroup
		ids   [n]string
		errs  [n]error
	)
	for i := range n {
		wg.Go(func() {
			<-start
			c := &Config{Data: dir}
			ids[i], errs[i] = c.LoadNodeID()
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] == "" || ids[i] != ids[0] {
			t.Fatalf("node %d: %q, %v; node 0: %q", i, ids[i], errs[i], ids[0])
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(left) != 0 {
		t.Fatalf("files left behind: %v", left)
	}
}
