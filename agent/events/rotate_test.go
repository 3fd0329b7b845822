package events

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// dirText prints a directory's files and contents, for cmp.Diff.
func dirText(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, e.Name()+": "+strings.ReplaceAll(string(b), "\n", "|"))
	}
	return strings.Join(lines, "\n")
}

func TestRotatingFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "events.jsonl")
	r, err := OpenRotating(p, 10, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"aaaa\n", "bbbb\n", "cccc\n", "dd\n", "eeeeeeeeeeeeeee\n", "ff\n"} {
		if _, err := r.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	want := strings.Join([]string{
		"events.jsonl: ff|",
		"events.jsonl.1: eeeeeeeeeeeeeee|", // larger than the limit: alone in its file
		"events.jsonl.2: cccc|dd|",
	}, "\n")
	if diff := cmp.Diff(want, dirText(t, filepath.Join(dir, "sub"))); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, err := r.Write([]byte("x")); err == nil {
		t.Error("Write after Close succeeded")
	}

	// Reopening appends and counts what is there.
	r, err = OpenRotating(p, 10, 2)
	if err != nil {
		t.Fatal(err)
	}
	r.Write([]byte("gg\n"))
	r.Write([]byte("hhhh\n"))
	r.Sync()
	r.Close()
	want = strings.Join([]string{
		"events.jsonl: hhhh|",
		"events.jsonl.1: ff|gg|",
		"events.jsonl.2: eeeeeeeeeeeeeee|",
	}, "\n")
	if diff := cmp.Diff(want, dirText(t, filepath.Join(dir, "sub"))); diff != "" {
		t.Errorf("after reopening (-want +got):\n%s", diff)
	}

	// Keep 0: no rotated files.
	p0 := filepath.Join(dir, "zero", "log")
	r0, err := OpenRotating(p0, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	r0.Write([]byte("abc\n"))
	r0.Write([]byte("def\n"))
	r0.Close()
	if diff := cmp.Diff("log: def|", dirText(t, filepath.Join(dir, "zero"))); diff != "" {
		t.Errorf("keep 0 (-want +got):\n%s", diff)
	}

	if _, err := OpenRotating(p, 0, 1); err == nil {
		t.Error("OpenRotating with max size 0 succeeded")
	}
	if _, err := OpenRotating(filepath.Join(p, "under-a-file"), 10, 1); err == nil {
		t.Error("OpenRotating under a regular file succeeded")
	}
}

// TestEmitterToRotatingFile: the emitter's file output rotates.
func TestEmitterToRotatingFile(t *testing.T) {
	dir := t.TempDir()
	r, err := OpenRotating(filepath.Join(dir, "events.jsonl"), 4096, 3)
	if err != nil {
		t.Fatal(err)
	}
	e := NewEmitter(Config{Node: "node-1", Outputs: []io.Writer{r}})
	e.Start()
	for range 100 {
		e.Emit(samples()[0])
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	lines := 0
	for _, en := range ents {
		names = append(names, en.Name())
		b, _ := os.ReadFile(filepath.Join(dir, en.Name()))
		if len(b) > 4096 {
			t.Errorf("%s is %d bytes, over the limit", en.Name(), len(b))
		}
		lines += strings.Count(string(b), "\n")
	}
	if diff := cmp.Diff([]string{"events.jsonl", "events.jsonl.1", "events.jsonl.2", "events.jsonl.3"}, names); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	ev := samples()[0]
	ev.Node = "node-1"
	ev.Time = ev.Time.UTC()
	line, _ := json.Marshal(&ev)
	perFile := 4096 / (len(line) + 1)
	if lines >= 100 || lines < 3*perFile+1 {
		t.Errorf("%d lines kept, want the last 3 full files (%d lines each) and the current one", lines, perFile)
	}
}
