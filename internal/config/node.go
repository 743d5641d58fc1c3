package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// maxNodeID bounds node_id.
const maxNodeID = 100

// LoadNodeID returns the name of this node among those sharing the
// database (courier.Outbox.Node): node_id when set; otherwise the one kept
// in <data>/node-id, created on first use, when the data folder exists
// (it holds the SQLite database; call it once the database is open);
// otherwise "", and each start of the process is a new node. A name kept in the data folder
// is the folder's: processes with folders of their own, on one host or
// on many, have names of their own, and a process started again on its
// folder has its name again.
func (c *Config) LoadNodeID() (string, error) {
	if c.NodeID != "" {
		return c.NodeID, nil
	}
	if info, err := os.Stat(c.Data); c.Data == "" || err != nil || !info.IsDir() {
		return "", nil
	}
	path := filepath.Join(c.Data, "node-id")
	for range 2 {
		if b, err := os.ReadFile(path); err == nil {
			id := strings.TrimSpace(string(b))
			if id == "" || len(id) > maxNodeID || strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
				return "", fmt.Errorf("node_id: %s does not hold a node name (at most %d characters, no spaces)", path, maxNodeID)
			}
			return id, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("node_id: %w", err)
		}
		var raw [8]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return "", err
		}
		host, _ := os.Hostname()
		id := "node-" + hex.EncodeToString(raw[:])
		if host = strings.Map(func(r rune) rune {
			if r <= ' ' || r == 0x7f {
				return -1
			}
			return r
		}, host); host != "" && len(host) <= 60 {
			id = host + "-" + hex.EncodeToString(raw[:])
		}
		// O_EXCL: when two processes start at once, one writes and the
		// other reads what it wrote.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("data: write node id: %w", err)
		}
		_, werr := f.WriteString(id + "\n")
		if err := errors.Join(werr, f.Close()); err != nil {
			return "", fmt.Errorf("data: write node id: %w", err)
		}
		return id, nil
	}
	return "", fmt.Errorf("node_id: could not read %s", path)
}
