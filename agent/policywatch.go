package agent

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"os"
	"path/filepath"
	"time"

	"bulkhead.dev/bulkhead/policy"
)

// The policy watch reloads the policy when its files change, as SIGHUP
// does: a Kubernetes ConfigMap mounted as the policy directory is updated
// by the kubelet in place (a new hidden directory, then an atomic swap of
// the "..data" link to it), and nothing tells the agent.

// policyDigest identifies what a policy load would read.
type policyDigest [sha256.Size]byte

// configMapLink is the link the kubelet swaps to publish a new version of
// a ConfigMap volume.
const configMapLink = "..data"

// digestPolicy returns the digest of the policy at path: the names and
// contents of the files the policy loader reads there (the file, or the
// *.yaml and *.yml files of the directory), or the error reading them
// gives, and where the directory's "..data" link points when it has one.
func digestPolicy(path string) policyDigest {
	h := sha256.New()
	var n [8]byte
	field := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	srcs, err := policy.ReadSources(path)
	if err != nil {
		field([]byte("error"))
		field([]byte(err.Error()))
	}
	for _, s := range srcs {
		field([]byte(s.Name))
		field(s.Data)
	}
	if target, err := os.Readlink(filepath.Join(path, configMapLink)); err == nil {
		field([]byte(configMapLink))
		field([]byte(target))
	}
	var d policyDigest
	h.Sum(d[:0])
	return d
}

// notePolicyDigest records the digest of the policy path as it is before a
// load (any load: at start, SIGHUP, the API or the watch): the watch
// reloads only when the path changes after that. Call it with reloadMu
// held, or before the watch starts.
func (a *Agent) notePolicyDigest() { a.polDigest = digestPolicy(a.cfg.Policy) }

// watchPolicy checks the policy path every interval until the agent
// stops.
func (a *Agent) watchPolicy(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
			a.checkPolicy(context.Background())
		}
	}
}

// checkPolicy reloads the identity file and the policy, as SIGHUP does,
// when the policy path changed since the last load, and reports whether it
// did. A policy that fails to load is refused (the old one stays, the
// failure is counted and reported) and not retried until the path changes
// again.
func (a *Agent) checkPolicy(ctx context.Context) bool {
	d := digestPolicy(a.cfg.Policy)
	a.reloadMu.Lock()
	same := d == a.polDigest
	a.reloadMu.Unlock()
	if same {
		return false
	}
	a.log.Info("agent: the policy changed; reloading", "path", a.cfg.Policy)
	if err := a.Reload(ctx); err != nil {
		a.log.Error("agent: reload after a policy change incomplete; what failed keeps its previous version", "err", err)
	}
	return true
}
