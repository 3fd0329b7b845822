package netns

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
)

// nsName says where a peer namespace can be opened.
type nsName struct {
	Name string // base name under a named-netns directory, "" if unnamed
	Path string // a path that opens the namespace
}

// nsidQuerier asks the kernel for the nsid, as seen from the node
// namespace, of the namespace a file opens (RTM_GETNSID with NETNSA_FD).
// It returns -1 when the namespace has no id there.
type nsidQuerier interface {
	nsidOf(path string) (int, error)
}

// fileID identifies a namespace by the device and inode of its nsfs file,
// so a namespace reachable by several paths is asked about once.
type fileID struct{ dev, ino uint64 }

// statID returns the fileID of the file path opens, following symlinks
// (/proc/PID/ns/net is one).
func statID(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, fmt.Errorf("stat %s: no device and inode", path)
	}
	return fileID{dev: uint64(st.Dev), ino: st.Ino}, nil
}

// nsResolver maps nsids to named namespaces (files bind-mounted in the
// named-netns directories) and, for the rest, to /proc/PID/ns/net of a
// process living in the namespace.
type nsResolver struct {
	dirs     []string
	procRoot string
	q        nsidQuerier
	self     fileID // the node namespace: never a peer, skipped
	log      *slog.Logger
}

// resolve returns, for every nsid of want it can place, where to open it.
// Named directories come first, in order, entries by name; the /proc scan
// runs only for nsids still missing, lowest PID first. Files that are not
// namespaces (an unmounted placeholder, a vanished process) are skipped.
func (r *nsResolver) resolve(want map[int]bool) map[int]nsName {
	found := map[int]nsName{}
	if len(want) == 0 {
		return found
	}
	seen := map[fileID]bool{}
	if r.self != (fileID{}) {
		seen[r.self] = true
	}
	// try records path if it opens a wanted namespace and reports whether
	// every wanted nsid is now placed.
	try := func(path, name string) bool {
		id, err := statID(path)
		if err != nil || seen[id] {
			return false
		}
		seen[id] = true
		nsid, err := r.q.nsidOf(path)
		if err != nil {
			r.log.Debug("netns: not a network namespace", "path", path, "err", err)
			return false
		}
		if _, dup := found[nsid]; nsid >= 0 && want[nsid] && !dup {
			found[nsid] = nsName{Name: name, Path: path}
		}
		return len(found) == len(want)
	}
	for _, dir := range r.dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				r.log.Warn("netns: cannot read named namespace directory", "dir", dir, "err", err)
			}
			continue
		}
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			if try(filepath.Join(dir, e.Name()), e.Name()) {
				return found
			}
		}
	}
	for _, pid := range r.pids() {
		if try(filepath.Join(r.procRoot, strconv.Itoa(pid), "ns", "net"), "") {
			return found
		}
	}
	return found
}

// pids lists the process ids under procRoot in increasing order.
func (r *nsResolver) pids() []int {
	entries, err := os.ReadDir(r.procRoot)
	if err != nil {
		r.log.Warn("netns: cannot scan processes", "proc", r.procRoot, "err", err)
		return nil
	}
	pids := make([]int, 0, len(entries))
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids
}
