package dataplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Runner runs iptables-save and iptables-restore for one backend. The
// dataplane changes iptables only through it; FakeRunner implements it in
// memory for tests.
type Runner interface {
	// Save returns the iptables-save output of the filter table.
	Save(ctx context.Context, fam Family) ([]byte, error)
	// Restore runs iptables-restore --noflush with script on its input:
	// the whole script is applied atomically or not at all.
	Restore(ctx context.Context, fam Family, script []byte) error
}

// Backend is an iptables backend.
type Backend string

const (
	BackendAuto   Backend = "auto" // the one that already has rules; nft when neither or both do
	BackendNFT    Backend = "nft"
	BackendLegacy Backend = "legacy"
)

// ParseBackend accepts auto, nft or legacy.
func ParseBackend(s string) (Backend, error) {
	switch b := Backend(s); b {
	case BackendAuto, BackendNFT, BackendLegacy:
		return b, nil
	case "":
		return BackendAuto, nil
	}
	return "", fmt.Errorf("dataplane: unknown iptables backend %q (want auto, nft or legacy)", s)
}

// ExecRunner runs the iptables programs of a backend.
type ExecRunner struct {
	Backend Backend // BackendNFT or BackendLegacy
	// Wrap, if set, prefixes every command line (e.g. "ip netns exec NS").
	Wrap []string
}

func (r *ExecRunner) program(fam Family, verb string) string {
	p := "iptables"
	if fam == IPv6 {
		p = "ip6tables"
	}
	return p + "-" + string(r.Backend) + "-" + verb
}

func (r *ExecRunner) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	if len(r.Wrap) > 0 {
		args = append(append(append([]string(nil), r.Wrap[1:]...), name), args...)
		name = r.Wrap[0]
	}
	return exec.CommandContext(ctx, name, args...)
}

// Save runs iptables-save -t filter.
func (r *ExecRunner) Save(ctx context.Context, fam Family) ([]byte, error) {
	prog := r.program(fam, "save")
	var stderr bytes.Buffer
	cmd := r.command(ctx, prog, "-t", "filter")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("dataplane: %s -t filter: %w: %s", prog, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// Restore runs iptables-restore --noflush.
func (r *ExecRunner) Restore(ctx context.Context, fam Family, script []byte) error {
	prog := r.program(fam, "restore")
	args := []string{"--noflush"}
	if r.Backend == BackendLegacy {
		args = append(args, "-w", "5")
	}
	cmd := r.command(ctx, prog, args...)
	cmd.Stdin = bytes.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("dataplane: %s --noflush: %w: %s\nscript:\n%s", prog, err, strings.TrimSpace(string(out)), script)
	}
	return nil
}

// DetectBackend picks the iptables backend as kube-proxy's iptables-wrapper
// does: the one whose tables already hold more rules (other software on
// the node chose it), nft when neither has rules or on a tie. A backend
// whose programs are missing is never chosen.
func DetectBackend(ctx context.Context, wrap []string) (Backend, error) {
	count := func(b Backend) (int, bool) {
		r := &ExecRunner{Backend: b, Wrap: wrap}
		n := 0
		for _, fam := range []Family{IPv4, IPv6} {
			prog := r.program(fam, "save")
			if _, err := exec.LookPath(prog); err != nil {
				return 0, false
			}
			out, err := r.command(ctx, prog).Output()
			if err != nil {
				return 0, false
			}
			n += countRules(out)
		}
		return n, true
	}
	nft, nftOK := count(BackendNFT)
	legacy, legacyOK := count(BackendLegacy)
	switch {
	case !nftOK && !legacyOK:
		return "", errors.New("dataplane: no usable iptables backend: iptables-nft-save and iptables-legacy-save both failed or are missing (install the iptables package)")
	case !nftOK:
		return BackendLegacy, nil
	case !legacyOK:
		return BackendNFT, nil
	case legacy > nft:
		return BackendLegacy, nil
	}
	return BackendNFT, nil
}

// countRules counts the rules in iptables-save output.
func countRules(save []byte) int {
	n := 0
	for _, l := range bytes.Split(save, []byte("\n")) {
		if bytes.HasPrefix(l, []byte("-A ")) {
			n++
		}
	}
	return n
}
