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
			if id == "" || !validNodeID(id) {
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
			if nodeIDControl(r) {
				return -1
			}
			return r
		}, host); host != "" && len(host) <= 60 {
			id = host + "-" + hex.EncodeToString(raw[:])
		}
		// Written whole to a file of its own, then linked into place,
		// which fails if the name exists: when two processes start at
		// once, one name wins, and the other reads it whole.
		err := writeNew(path, id+"\n")
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("data: write node id: %w", err)
		}
		return id, nil
	}
	return "", fmt.Errorf("node_id: could not read %s", path)
}

// writeNew creates path holding text, whole or not at all: it fails with
// os.ErrExist if path exists.
func writeNew(path, text string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(text)
	if err := errors.Join(werr, tmp.Sync(), tmp.Close()); err != nil {
		return err
	}
	return os.Link(tmp.Name(), path)
}

// validNodeID reports whether id may name a node: at most maxNodeID
// characters, without spaces or control characters.
func validNodeID(id string) bool {
	return len(id) <= maxNodeID && !strings.ContainsFunc(id, nodeIDControl)
}

func nodeIDControl(r rune) bool { return r <= ' ' || r == 0x7f }
