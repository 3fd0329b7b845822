package state

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func clock() time.Time { return t0 }

// counter is a persisted test item.
type counter struct {
	mu  sync.Mutex
	N   int    `json:"n"`
	Pad string `json:"pad,omitempty"`
	gen atomic.Uint64
}

func (c *counter) set(n int) {
	c.mu.Lock()
	c.N = n
	c.mu.Unlock()
	c.gen.Add(1)
}

func (c *counter) item(name string) Item {
	return Item{
		Name: name,
		Save: func() ([]byte, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			return json.Marshal(c)
		},
		Load: func(b []byte) error {
			c.mu.Lock()
			defer c.mu.Unlock()
			if err := json.Unmarshal(b, c); err != nil {
				return err
			}
			if c.N < 0 {
				return fmt.Errorf("negative count %d", c.N)
			}
			return nil
		},
		Generation: c.gen.Load,
	}
}

func open(t *testing.T, dir string, onSave func(string, error)) *Store {
	t.Helper()
	s, err := Open(dir, Options{Now: clock, OnSave: onSave})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	var saves []string
	s := open(t, dir, func(name string, err error) {
		if err != nil {
			t.Errorf("save %s: %v", name, err)
		}
		saves = append(saves, name)
	})
	a, b := &counter{}, &counter{}
	for _, it := range []Item{a.item("graph"), b.item("modes")} {
		if err := s.Register(it); err != nil {
			t.Fatal(err)
		}
	}
	if res := s.Load(); res[0].Status != Missing || res[1].Status != Missing {
		t.Fatalf("first start: %+v", res)
	}
	a.set(7)
	b.set(3)
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	b.set(4)
	if err := s.Save(); err != nil { // only b changed
		t.Fatal(err)
	}
	if err := s.Save(); err != nil { // nothing changed
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"graph", "modes", "modes"}, saves); diff != "" {
		t.Errorf("saves (-want +got):\n%s", diff)
	}
	st, err := os.Stat(s.Path("graph"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("graph.json: %v, mode %v", err, st.Mode())
	}

	s2 := open(t, dir, nil)
	a2, b2 := &counter{}, &counter{}
	s2.Register(a2.item("graph"))
	s2.Register(b2.item("modes"))
	res := s2.Load()
	want := []LoadResult{
		{Item: "graph", Path: filepath.Join(dir, "graph.json"), Status: Loaded, Saved: t0},
		{Item: "modes", Path: filepath.Join(dir, "modes.json"), Status: Loaded, Saved: t0},
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
	if a2.N != 7 || b2.N != 4 {
		t.Errorf("loaded %d and %d, want 7 and 4", a2.N, b2.N)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"graph.json", "modes.json"}, names); diff != "" {
		t.Errorf("directory (-want +got):\n%s", diff)
	}
}

func TestRegisterErrors(t *testing.T) {
	s := open(t, t.TempDir(), nil)
	c := &counter{}
	for _, it := range []Item{c.item("Bad Name"), c.item("policy"), {Name: "x"}} {
		if err := s.Register(it); err == nil {
			t.Errorf("Register(%q) succeeded", it.Name)
		}
	}
	s.Register(c.item("a"))
	if err := s.Register(c.item("a")); err == nil {
		t.Error("duplicate Register succeeded")
	}
}

func TestCorruptFiles(t *testing.T) {
	good := func() []byte {
		b, _ := encode("graph", []byte(`{"n":5}`), t0)
		return b
	}
	tests := []struct {
		name    string
		content []byte
		wantErr string
	}{
		{"garbage", []byte("\x00\x01not json"), "not a state file (truncated or corrupt?)"},
		{"truncated", good()[:40], "not a state file (truncated or corrupt?)"},
		{"empty", []byte{}, "not a state file (truncated or corrupt?)"},
		{"other schema", []byte(strings.Replace(string(good()), `"schema":1`, `"schema":2`, 1)), "schema 2, this agent reads schema 1"},
		{"other item", []byte(strings.Replace(string(good()), `"item":"graph"`, `"item":"modes"`, 1)), `the file holds item "modes"`},
		{"bit flip", []byte(strings.Replace(string(good()), `"n":5`, `"n":6`, 1)), "checksum mismatch"},
		{"loader refuses", func() []byte { b, _ := encode("graph", []byte(`{"n":-1}`), t0); return b }(), "negative count -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "graph.json")
			if err := os.WriteFile(p, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			s := open(t, dir, nil)
			c := &counter{}
			s.Register(c.item("graph"))
			res := s.Load()[0]
			if res.Status != Corrupt || res.Err == nil || !strings.Contains(res.Err.Error(), tt.wantErr) {
				t.Fatalf("Load = %+v, want corrupt with %q", res, tt.wantErr)
			}
			if !strings.Contains(res.Err.Error(), p) && !strings.Contains(res.Err.Error(), "graph") {
				t.Errorf("error %q names neither the file nor the item", res.Err)
			}
			wantAside := p + ".corrupt-20250301T120000Z"
			if res.MovedTo != wantAside {
				t.Errorf("MovedTo = %q, want %q", res.MovedTo, wantAside)
			}
			kept, err := os.ReadFile(wantAside)
			if err != nil || string(kept) != string(tt.content) {
				t.Errorf("the corrupt file was not kept as it was: %v", err)
			}
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("the corrupt file is still in place: %v", err)
			}
			if c.N != 0 && tt.name != "loader refuses" {
				t.Errorf("item loaded %d from a corrupt file", c.N)
			}
			// The next save writes a fresh file; a second corrupt file the
			// same second gets its own name.
			if err := s.Save(); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(p, []byte("bad"), 0o600)
			if res := s.Load()[0]; res.MovedTo != wantAside+"-2" {
				t.Errorf("second MovedTo = %q", res.MovedTo)
			}
		})
	}
}

func TestLeftoverTempFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".graph.json.tmp-123"), []byte("half"), 0o600)
	os.WriteFile(filepath.Join(dir, "keep.txt"), []byte("x"), 0o600)
	open(t, dir, nil)
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "keep.txt" {
		t.Errorf("directory after Open: %v", ents)
	}
}

func TestPolicy(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, nil)
	if _, ok, res := s.LoadPolicy(); ok || res.Status != Missing {
		t.Fatalf("LoadPolicy on a fresh dir: ok %v, %+v", ok, res)
	}
	want := PolicySnapshot{Source: "/etc/bulkhead/policy/", Files: []PolicyFile{
		{Name: "/etc/bulkhead/policy/a.yaml", Content: "apiVersion: bulkhead.dev/v1alpha1\nkind: Policy\n"},
	}}
	if err := s.SavePolicy(want); err != nil {
		t.Fatal(err)
	}
	got, ok, _ := open(t, dir, nil).LoadPolicy()
	want.Saved = t0
	if diff := cmp.Diff(want, got); !ok || diff != "" {
		t.Errorf("LoadPolicy (-want +got):\n%s", diff)
	}
	os.WriteFile(filepath.Join(dir, "policy.json"), []byte(`{"schema":1}`), 0o600)
	if _, ok, res := s.LoadPolicy(); ok || res.Status != Corrupt || res.MovedTo == "" {
		t.Errorf("corrupt policy: ok %v, %+v", ok, res)
	}
	empty, _ := encode("policy", []byte(`{"source":"x","files":[]}`), t0)
	os.WriteFile(filepath.Join(dir, "policy.json"), empty, 0o600)
	if _, ok, res := s.LoadPolicy(); ok || res.Status != Corrupt {
		t.Errorf("policy without files: ok %v, %+v", ok, res)
	}
}

func TestPeriodicAndClose(t *testing.T) {
	dir := t.TempDir()
	saved := make(chan string, 100)
	s, err := Open(dir, Options{Interval: 5 * time.Millisecond, OnSave: func(n string, err error) {
		if err == nil {
			saved <- n
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	c := &counter{}
	s.Register(c.item("graph"))
	s.Start()
	s.Start()
	c.set(1)
	select {
	case <-saved:
	case <-time.After(10 * time.Second):
		t.Fatal("no periodic save")
	}
	c.set(2)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	c2 := &counter{}
	s2 := open(t, dir, nil)
	s2.Register(c2.item("graph"))
	s2.Load()
	if c2.N != 2 {
		t.Errorf("after Close the file holds %d, want 2", c2.N)
	}
}

// TestKill9 runs a child process that counts and saves every few
// milliseconds, kills it with SIGKILL at a random moment (often in the middle
// of a write: each snapshot is about 1 MB), and checks that the state loads
// and holds at least the last save the child reported.
func TestKill9(t *testing.T) {
	if dir := os.Getenv("BULKHEAD_STATE_CHILD"); dir != "" {
		runChild(dir)
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	last := -1
	for round := range 5 {
		cmd := exec.Command(exe, "-test.run=^TestKill9$")
		cmd.Env = append(os.Environ(), "BULKHEAD_STATE_CHILD="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		reported := -1
		for saves := 0; saves < 3+round*2 && sc.Scan(); {
			if n, ok := strings.CutPrefix(sc.Text(), "saved "); ok {
				reported, _ = strconv.Atoi(n)
				saves++
			}
		}
		time.Sleep(time.Duration(round*3) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		go func() {
			for sc.Scan() {
				if n, ok := strings.CutPrefix(sc.Text(), "saved "); ok {
					reported, _ = strconv.Atoi(n)
				}
			}
		}()
		cmd.Wait()
		if reported < 0 {
			t.Fatalf("round %d: the child reported no save", round)
		}

		s := open(t, dir, nil)
		c := &counter{}
		s.Register(c.item("graph"))
		res := s.Load()[0]
		if res.Status != Loaded {
			t.Fatalf("round %d: after kill -9 the state did not load: %+v", round, res)
		}
		if c.N < reported || c.N < last {
			t.Fatalf("round %d: loaded %d, but the child had saved %d (previous round %d)", round, c.N, reported, last)
		}
		last = c.N
		t.Logf("round %d: child saved %d, loaded %d", round, reported, c.N)
	}
}

// runChild continues from the saved count, saving every 2 ms, until killed.
func runChild(dir string) {
	c := &counter{Pad: strings.Repeat("x", 1<<20)}
	var mu sync.Mutex
	lastSaved := 0
	s, err := Open(dir, Options{Interval: 2 * time.Millisecond, OnSave: func(_ string, err error) {
		if err == nil {
			mu.Lock()
			fmt.Printf("saved %d\n", lastSaved)
			mu.Unlock()
		}
	}})
	if err != nil {
		panic(err)
	}
	it := c.item("graph")
	save := it.Save
	it.Save = func() ([]byte, error) {
		b, err := save()
		var v counter
		json.Unmarshal(b, &v)
		mu.Lock()
		lastSaved = v.N
		mu.Unlock()
		return b, err
	}
	s.Register(it)
	s.Load()
	s.Start()
	for n := c.N + 1; ; n++ {
		c.set(n)
		time.Sleep(100 * time.Microsecond)
	}
}
