package netns

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestConfigDefaults(t *testing.T) {
	got, err := Config{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if got.Logger == nil {
		t.Error("no default logger")
	}
	got.Logger = nil
	want := Config{NamedDirs: []string{"/run/netns", "/var/run/docker/netns"}, ProcRoot: "/proc", Resync: 5 * time.Second}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b func(string) bool) bool { return a == nil && b == nil })); d != "" {
		t.Errorf("defaults (-want +got):\n%s", d)
	}
	// The defaults must not be shared with the caller's config.
	got.NamedDirs[0] = "/elsewhere"
	if DefaultNamedDirs[0] != "/run/netns" {
		t.Error("withDefaults hands out DefaultNamedDirs itself")
	}
	none, err := Config{NamedDirs: []string{}}.withDefaults()
	if err != nil || len(none.NamedDirs) != 0 {
		t.Errorf("an empty NamedDirs must mean none, got %q, %v", none.NamedDirs, err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string // a part of the error naming the bad input
	}{
		{Config{Resync: time.Millisecond}, "resync period 1ms"},
		{Config{Resync: -time.Second}, "resync period -1s"},
		{Config{NamedDirs: []string{"/run/netns", ""}}, `empty named namespace directory in ["/run/netns" ""]`},
	} {
		if _, err := NewWatcher(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewWatcher(%+v) = %v, want an error containing %q", tc.cfg, err, tc.want)
		}
		if _, err := List(context.Background(), tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("List(%+v) = %v, want an error containing %q", tc.cfg, err, tc.want)
		}
	}
}

func TestBadNodeNamespace(t *testing.T) {
	path := t.TempDir() + "/no-such-ns"
	_, err := List(context.Background(), Config{NetNS: path})
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("List with a missing namespace: %v, want ErrNotExist naming %s", err, path)
	}
	w, err := NewWatcher(Config{NetNS: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Start with a missing namespace: %v, want ErrNotExist", err)
	}
	// A failed Start leaves a watcher that still closes cleanly.
	if err := w.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestListCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := List(ctx, Config{}); !errors.Is(err, context.Canceled) {
		t.Errorf("List with a cancelled context: %v", err)
	}
}

// TestWatcherCloseBeforeStart: Close without Start closes Events, is safe
// twice, and Start afterwards fails.
func TestWatcherCloseBeforeStart(t *testing.T) {
	w, err := NewWatcher(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := w.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	if _, ok := <-w.Events(); ok {
		t.Error("Events delivered after Close")
	}
	if err := w.Start(context.Background()); !errors.Is(err, errClosed) {
		t.Errorf("Start after Close: %v, want %v", err, errClosed)
	}
	if cs := w.Containers(); len(cs) != 0 {
		t.Errorf("Containers of a closed watcher: %v", cs)
	}
}
