package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// policyItem is the reserved item name of the last good policy.
const policyItem = "policy"

// PolicyFile is one policy source file.
type PolicyFile struct {
	// Name is the file's path as it was loaded.
	Name    string `json:"name"`
	Content string `json:"content"`
}

// PolicySnapshot is the last policy that loaded and validated. In
// fail-closed mode the agent puts it in force at start-up, before any packet
// is let through, until the configured policy loads.
type PolicySnapshot struct {
	// Source is the configured policy path it came from.
	Source string       `json:"source"`
	Files  []PolicyFile `json:"files"`
	// Saved is set by SavePolicy.
	Saved time.Time `json:"saved"`
}

// SavePolicy writes the last good policy at once (atomically).
func (s *Store) SavePolicy(p PolicySnapshot) error {
	p.Saved = s.opts.Now().UTC()
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("state: save policy: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saveItem(policyItem, func() ([]byte, error) { return data, nil })
}

// LoadPolicy returns the last good policy. ok is false when none was saved;
// a corrupt file is moved aside and reported in res (ok false).
func (s *Store) LoadPolicy() (p PolicySnapshot, ok bool, res LoadResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res = s.loadFile(policyItem, func(b []byte) error {
		var err error
		p, err = decodePolicy(b)
		return err
	})
	if res.Status != Loaded {
		return PolicySnapshot{}, false, res
	}
	return p, true, res
}

// decodePolicy reads the data of the last good policy's file: at least
// one policy file, each named.
func decodePolicy(b []byte) (PolicySnapshot, error) {
	var p PolicySnapshot
	if err := json.Unmarshal(b, &p); err != nil {
		return PolicySnapshot{}, fmt.Errorf("policy snapshot: %w", err)
	}
	if len(p.Files) == 0 {
		return PolicySnapshot{}, errors.New("policy snapshot: no policy files")
	}
	for i, f := range p.Files {
		if f.Name == "" {
			return PolicySnapshot{}, fmt.Errorf("policy snapshot: file %d has no name", i)
		}
	}
	return p, nil
}
