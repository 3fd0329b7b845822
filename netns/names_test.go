package netns

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// fakeNSIDs answers RTM_GETNSID by file identity, so hard links and
// symlinks to one file are one namespace, as with nsfs. Files it does not
// know are not namespaces (EINVAL, like an unmounted placeholder).
type fakeNSIDs struct {
	ids   map[fileID]int
	asked []string
}

func (f *fakeNSIDs) nsidOf(path string) (int, error) {
	f.asked = append(f.asked, path)
	id, err := statID(path)
	if err != nil {
		return -1, err
	}
	nsid, ok := f.ids[id]
	if !ok {
		return -1, unix.EINVAL
	}
	return nsid, nil
}

// nsFixture lays out named-namespace directories and a /proc under a
// temporary directory:
//
//	netns/a          nsid 1
//	netns/b          nsid 2
//	netns/placeholder  not a namespace
//	netns/sub/       a directory, skipped
//	docker/1a2b      hard link to netns/a (the same namespace)
//	docker/c         nsid 3
//	proc/1/ns/net    -> the node namespace (skipped)
//	proc/20/ns/net   -> ns4 (nsid 4)
//	proc/100/ns/net  -> ns4 (the same namespace as PID 20)
//	proc/300/ns/net  -> ns5 (nsid 5)
//	proc/301/ns/net  -> ns-noid (a namespace without an nsid: -1)
//	proc/7/          a process without ns/ (exited)
//	proc/self        not a PID
func nsFixture(t *testing.T) (dirs []string, proc string, q *fakeNSIDs, self fileID) {
	t.Helper()
	root := t.TempDir()
	q = &fakeNSIDs{ids: map[fileID]int{}}
	mk := func(rel string, nsid int) string {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if nsid != -2 {
			id, err := statID(p)
			if err != nil {
				t.Fatal(err)
			}
			q.ids[id] = nsid
		}
		return p
	}
	link := func(target, rel string, hard bool) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if hard {
			err = os.Link(target, p)
		} else {
			err = os.Symlink(target, p)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	a := mk("netns/a", 1)
	mk("netns/b", 2)
	mk("netns/placeholder", -2)
	if err := os.MkdirAll(filepath.Join(root, "netns/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	link(a, "docker/1a2b", true)
	mk("docker/c", 3)
	node := mk("nsfs/node", 6)
	ns4 := mk("nsfs/ns4", 4)
	ns5 := mk("nsfs/ns5", 5)
	noid := mk("nsfs/noid", -1)
	link(node, "proc/1/ns/net", false)
	link(ns4, "proc/20/ns/net", false)
	link(ns4, "proc/100/ns/net", false)
	link(ns5, "proc/300/ns/net", false)
	link(noid, "proc/301/ns/net", false)
	if err := os.MkdirAll(filepath.Join(root, "proc/7"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "proc/self"), 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := statID(node)
	if err != nil {
		t.Fatal(err)
	}
	return []string{filepath.Join(root, "netns"), filepath.Join(root, "docker"), filepath.Join(root, "missing")},
		filepath.Join(root, "proc"), q, self
}

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		name  string
		want  []int
		found map[int]nsName // paths relative to the fixture root
		asked []string       // the files asked about, in order
	}{
		{
			name:  "named, stops once all are found",
			want:  []int{1, 2},
			found: map[int]nsName{1: {"a", "netns/a"}, 2: {"b", "netns/b"}},
			asked: []string{"netns/a", "netns/b"},
		},
		{
			name:  "second directory; a namespace reachable twice is asked once",
			want:  []int{3},
			found: map[int]nsName{3: {"c", "docker/c"}},
			asked: []string{"netns/a", "netns/b", "netns/placeholder", "docker/c"},
		},
		{
			name:  "process scan, lowest PID first, node namespace skipped",
			want:  []int{4},
			found: map[int]nsName{4: {"", "proc/20/ns/net"}},
			asked: []string{"netns/a", "netns/b", "netns/placeholder", "docker/c", "proc/20/ns/net"},
		},
		{
			name:  "named and scanned together",
			want:  []int{5, 1},
			found: map[int]nsName{1: {"a", "netns/a"}, 5: {"", "proc/300/ns/net"}},
			asked: []string{"netns/a", "netns/b", "netns/placeholder", "docker/c", "proc/20/ns/net", "proc/300/ns/net"},
		},
		{
			name:  "unknown nsid: everything asked once, nothing found",
			want:  []int{9},
			found: map[int]nsName{},
			asked: []string{"netns/a", "netns/b", "netns/placeholder", "docker/c", "proc/20/ns/net", "proc/300/ns/net", "proc/301/ns/net"},
		},
		{
			name:  "the node namespace is never a peer",
			want:  []int{6},
			found: map[int]nsName{},
			asked: []string{"netns/a", "netns/b", "netns/placeholder", "docker/c", "proc/20/ns/net", "proc/300/ns/net", "proc/301/ns/net"},
		},
		{
			name:  "nothing wanted, nothing asked",
			found: map[int]nsName{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dirs, proc, q, self := nsFixture(t)
			root := filepath.Dir(proc)
			r := &nsResolver{dirs: dirs, procRoot: proc, q: q, self: self, log: slog.New(slog.DiscardHandler)}
			want := map[int]bool{}
			for _, id := range tc.want {
				want[id] = true
			}
			got := r.resolve(want)
			for id, nm := range got {
				rel, err := filepath.Rel(root, nm.Path)
				if err != nil {
					t.Fatal(err)
				}
				got[id] = nsName{Name: nm.Name, Path: rel}
			}
			if d := cmp.Diff(tc.found, got); d != "" {
				t.Errorf("resolve (-want +got):\n%s", d)
			}
			var asked []string
			for _, p := range q.asked {
				rel, err := filepath.Rel(root, p)
				if err != nil {
					t.Fatal(err)
				}
				asked = append(asked, rel)
			}
			if d := cmp.Diff(tc.asked, asked); d != "" {
				t.Errorf("files asked (-want +got):\n%s", d)
			}
		})
	}
}

// TestResolveUnreadableProc: a /proc that cannot be read leaves the nsid
// unplaced without failing.
func TestResolveUnreadableProc(t *testing.T) {
	r := &nsResolver{procRoot: filepath.Join(t.TempDir(), "nope"), q: &fakeNSIDs{}, log: slog.New(slog.DiscardHandler)}
	if got := r.resolve(map[int]bool{1: true}); len(got) != 0 {
		t.Errorf("resolve = %v, want nothing", got)
	}
}

func TestStatIDMissing(t *testing.T) {
	if _, err := statID(filepath.Join(t.TempDir(), "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("statID of a missing file: %v, want ErrNotExist", err)
	}
}
